"""Two importers at once, as real processes of the installed ``cfkb``: one gets "store in use" (issue 5)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storestate import claim_count, store_state

ROWS = 4000


def _cfkb() -> str:
    found = Path(sys.executable).parent / "cfkb"
    return str(found) if found.exists() else (shutil.which("cfkb") or pytest.skip("cfkb is not installed"))


def _holds_flock(path: Path) -> bool:
    """Whether some process holds a flock on ``path`` (read from /proc/locks, without taking it)."""
    inode = os.stat(path).st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "FLOCK" in fields and any(f.endswith(f":{inode}") for f in fields):
            return True
    return False


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks to see the lock")
def test_second_concurrent_importer_gets_store_in_use(store_path, tmp_path):
    start = dt.date(1970, 1, 1)
    big = tmp_path / "big.csv"
    big.write_text("subject,predicate,object,source,date\n" + "".join(
        f"KH,participatesIn,December 2023 provincial elections,al-Iraqiya TV,{start + dt.timedelta(days=i)}\n"
        for i in range(ROWS)))
    small = tmp_path / "small.csv"
    small.write_text("subject,predicate,object,source,date\nHoquq,memberOf,Tahalof Nabni,Al-Rabaa TV,2023-08-11\n")
    before = claim_count(store_path)
    env = {**os.environ, "CFKB_STORE": str(store_path), "CFKB_ANALYST": "tester"}
    first = subprocess.Popen([_cfkb(), "import", str(big)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _holds_flock(store_path / "cfkb.json"):
            assert first.poll() is None, "the first importer finished before it was seen holding the lock"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = subprocess.run([_cfkb(), "import", str(small)], env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 1, second.stderr
        assert second.stderr.startswith("Error: store in use"), second.stderr
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert f"{ROWS} claim(s) added" in err
    assert claim_count(store_path) == before + ROWS   # the first batch, and nothing of the refused one


def test_a_refused_importer_touches_no_file_of_the_store(store_path, tmp_path):
    """While the import lock is held, a second importer changes no byte of the store.

    (Checked with the lock held here rather than by a running importer, whose
    own commit may land while the files are compared.)
    """
    from cfkb.io.importer import import_lock

    small = tmp_path / "small.csv"
    small.write_text("subject,predicate,object,source,date\nHoquq,memberOf,Tahalof Nabni,Al-Rabaa TV,2023-08-11\n")
    env = {**os.environ, "CFKB_STORE": str(store_path), "CFKB_ANALYST": "tester"}
    with import_lock(store_path):
        state = store_state(store_path)
        second = subprocess.run([_cfkb(), "import", str(small)], env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 1, second.stderr
        assert second.stderr.startswith("Error: store in use"), second.stderr
        assert store_state(store_path) == state
