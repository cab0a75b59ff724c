"""Faults: kill -9 in the middle of an import, a full disk, damaged and foreign stores.

After each, the store opens and holds all of the batch or none of it, and any
error is one clear line. The kill loop runs 8 times by default and 200 times
with --runslow; set ``CFKB_FAULTS_REPORT=FILE`` to append its figures as JSON.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb.errors import StoreError
from cfkb.io.importer import InputFile, import_files
from cfkb.store.core import KnowledgeBase
from conftest import invoke

BATCH = 60
SOURCE = "cfid:winep-cf-four-way-split-part-1"
DAY0 = dt.date(2000, 1, 1)


#: the batches the kill loop imports: (claims, statement) - one that DuckDB's upkeep takes
#: (a sub-list membership, which can take a conflict away), and one small enough for the
#: claim table's key-lookup copy to keep (cfkb.engine.lookup)
BATCHES = {"to the table": (BATCH, "Fadhila,memberOf,State of Law"),
           "kept in the copy": (5, "Kataib Hezbollah,participatesIn,December 2023 provincial elections")}


def batch_csv(run: int, size: int = BATCH, statement: str = BATCHES["to the table"][1]) -> str:
    """``size`` claims no other run makes: the same statement on different days."""
    rows = ["subject,predicate,object,source,date,tlp"]
    for i in range(size):
        day = DAY0 + dt.timedelta(days=run * BATCH + i)
        rows.append(f"{statement},{SOURCE},{day.isoformat()},GREEN")
    return "\n".join(rows) + "\n"


def claims_and_batches(store: Path) -> tuple[dict[str, str], set[str]]:
    with KnowledgeBase.open(store) as kb:
        rows = kb.select("SELECT ?c ?d WHERE { ?c a cfkb:Claim OPTIONAL { ?c cfkb:statedOn ?d } }")
        batches = {r["b"].value for r in kb.select("SELECT ?b WHERE { ?b a cfkb:ImportBatch }")}
    return {r["c"].value: r["d"].value if "d" in r else "" for r in rows}, batches


def run_of(date: str) -> int | None:
    if not date.startswith(("2000", "2001", "2002")):
        return None
    return (dt.date.fromisoformat(date) - DAY0).days // BATCH


def table_agrees_with_graph(store: Path) -> None:
    """The claim table, once the base is opened, holds what a fresh build from
    the graph holds, stamped with the base's generation (a stale one is rebuilt);
    its key-lookup copy holds no write back and has the same rows, or is stale."""
    import sqlite3

    import duckdb

    from cfkb.engine import FILE, LOOKUP_FILE
    from cfkb.engine.table import build, open_table

    def dump(con):
        return tuple(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                     for t in ("claims", "kinds", "area_overlap"))

    with KnowledgeBase.open(store) as kb:
        open_table(kb).close()
        con = duckdb.connect(str(store / FILE), read_only=True)
        try:
            assert dict(con.execute("SELECT k, v FROM meta").fetchall())["generation"] == kb.generation()
            stored = dump(con)
        finally:
            con.close()
        with build(kb) as fresh:
            assert stored == dump(fresh.con)
        copy = sqlite3.connect(store / LOOKUP_FILE)
        try:
            meta = dict(copy.execute("SELECT k, v FROM meta").fetchall())
            assert copy.execute("SELECT count(*) FROM held").fetchone() == (0,)
            if meta["generation"] == kb.generation():
                copied = sorted(tuple(bool(v) if i in (1, 5, 13) and v is not None else v for i, v in enumerate(r))
                                for r in copy.execute("SELECT * FROM claims").fetchall())
                assert copied == sorted(stored[0])
            else:
                assert meta["generation"] == "stale" or meta["table"] != kb.generation()
        finally:
            copy.close()


def import_command(store: Path, path: Path) -> list[str]:
    return [sys.executable, "-m", "cfkb", "--store", str(store), "--analyst", "killer", "import", str(path)]


@pytest.mark.parametrize("kind", list(BATCHES))
def test_kill_9_during_import_leaves_all_or_nothing(seed_template, tmp_path, request, kind):
    """Each run imports one batch into a fresh copy of the seed and is killed at a random
    moment, from start-up to a little after the time a whole import takes."""
    runs = 200 if request.config.getoption("--runslow") else 8
    rng = random.Random(20231211)
    size, statement = BATCHES[kind]
    batch = tmp_path / "batch.csv"
    batch.write_text(batch_csv(1, size, statement), encoding="utf-8")
    seed_claims, seed_batches = claims_and_batches(seed_template)

    def fresh(n: int) -> Path:
        store = tmp_path / f"kb{n}.store"
        shutil.copytree(seed_template, store)
        with KnowledgeBase.open(store) as kb:  # a current claim table, which the import keeps current
            from cfkb.engine.table import open_table

            open_table(kb).close()
        return store

    # two imports to the end, to know how long one takes
    times = []
    for n in (-1, -2):
        store = fresh(n)
        start = time.monotonic()
        done = subprocess.run(import_command(store, batch), capture_output=True, text=True, timeout=120)
        times.append(time.monotonic() - start)
        assert done.returncode == 0, done.stderr
        assert len(claims_and_batches(store)[0]) == len(seed_claims) + size
        shutil.rmtree(store)
    full = max(times)
    outcomes = {"none": 0, "all": 0, "killed": 0}
    for run in range(runs):
        store = fresh(run)
        proc = subprocess.Popen(import_command(store, batch), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, 1.3) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            outcomes["killed"] += 1
        proc.wait(30)
        after, after_batches = claims_and_batches(store)  # the store opens
        table_agrees_with_graph(store)  # graph and claim table agree, whenever the kill came
        new = {c: d for c, d in after.items() if c not in seed_claims}
        assert set(seed_claims) <= set(after), f"run {run}: claims were lost"
        if new:
            assert len(new) == size and {run_of(d) for d in new.values()} == {1}, f"run {run}: part of a batch"
            assert len(after_batches - seed_batches) == 1
            outcomes["all"] += 1
        else:
            assert after_batches == seed_batches, f"run {run}: a batch without its claims"
            outcomes["none"] += 1
        if run == runs - 1:  # and the store still takes writes
            again = subprocess.run(import_command(store, batch), capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stderr
        shutil.rmtree(store)
    report = os.environ.get("CFKB_FAULTS_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as f:
            f.write(json.dumps({"runs": runs, "import_seconds": round(full, 2), **outcomes}) + "\n")
    assert outcomes["none"] + outcomes["all"] == runs


# -- a full disk -------------------------------------------------------------------------

class FullDisk:
    """A pyoxigraph store whose writes fail as on a full disk; reads pass through."""

    def __init__(self, store: ox.Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def extend(self, quads: object) -> None:
        raise OSError(errno.ENOSPC, "IO error: No space left on device: While appending to file: 000042.log")

    def update(self, update: str) -> None:
        raise OSError(errno.ENOSPC, "IO error: No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "IO error: No space left on device")


def test_a_failing_write_leaves_the_store_intact_with_one_line(kb, runner, store_path):
    count = kb.claim_count()
    kb.store = FullDisk(kb.store)  # type: ignore[assignment]
    with pytest.raises(StoreError) as info:
        import_files(kb, [InputFile("b.csv", batch_csv(7).encode(), "csv")], analyst="t")
    message = str(info.value)
    assert message.startswith("write failed, nothing was changed") and "No space left on device" in message
    assert "\n" not in message
    kb.store = kb.store._store  # type: ignore[attr-defined]
    assert kb.claim_count() == count


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def fill_disk(disk: Path, *, leave: int) -> Path:
    """Fill the file system under ``disk`` with one file, then free ``leave`` bytes of it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (1 << 20, 4096):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_a_full_disk_leaves_the_store_intact(seed_template, tmp_path):
    """On a real, small file system (tmpfs): fill it, import, free it, import again."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "24m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the simulated full disk test covers the rest")
    try:
        store = disk / "kb.store"
        shutil.copytree(seed_template, store)
        claims, batches = claims_and_batches(store)
        # room for the store to open, not for the batch: the failure comes from the write itself
        filler = fill_disk(disk, leave=512 * 1024)
        csv = tmp_path / "batch.csv"
        quote = "q" * 60_000  # 60 claims of 60 kB: 3.6 MB to write
        csv.write_text("\n".join(line + ("," + quote if n else ",quote")
                                 for n, line in enumerate(batch_csv(29).splitlines())) + "\n", encoding="utf-8")
        failed = subprocess.run(import_command(store, csv), capture_output=True, text=True, timeout=120)
        err = failed.stderr.strip()
        assert failed.returncode == 1, (failed.stdout, err)
        assert len(err.splitlines()) == 1 and err.startswith("Error: ") and "Traceback" not in err, err
        assert "write failed, nothing was changed" in err and "No space left on device" in err
        filler.unlink()
        assert claims_and_batches(store) == (claims, batches)
        again = subprocess.run(import_command(store, csv), capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert len(claims_and_batches(store)[0]) == len(claims) + BATCH
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


# -- damaged and foreign stores ----------------------------------------------------------

def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(path.name)
    for _ in range(max(8, len(data) // 50)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path.write_bytes(bytes(data))


def damage(store: Path, how: str) -> None:
    db = store / "oxigraph"
    if how == "garbage CURRENT":
        (db / "CURRENT").write_bytes(b"\x00\xffnot-a-manifest\n")
    elif how == "garbled MANIFEST":
        for p in db.glob("MANIFEST-*"):
            _garble(p)
    elif how == "garbled tables":
        for p in db.glob("*.sst"):
            _garble(p)
    elif how == "truncated tables":
        for p in db.glob("*.sst"):
            os.truncate(p, p.stat().st_size // 3)
    elif how == "tables deleted":
        for p in db.glob("*.sst"):
            p.unlink()
    elif how == "no database":
        shutil.rmtree(db)
    elif how == "database is a file":
        shutil.rmtree(db)
        db.write_text("hello")
    elif how == "no cfkb.json":
        (store / "cfkb.json").unlink()
    elif how == "foreign cfkb.json":
        (store / "cfkb.json").write_text('{"tool": "something else"}')
    elif how == "binary cfkb.json":
        (store / "cfkb.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    elif how == "cfkb.json is a directory":
        (store / "cfkb.json").unlink()
        (store / "cfkb.json").mkdir()
    elif how == "a file, not a directory":
        shutil.rmtree(store)
        store.write_text("just a file\n")
    elif how == "an empty directory":
        shutil.rmtree(store)
        store.mkdir()
    else:  # pragma: no cover
        raise AssertionError(how)


DAMAGE = ["garbage CURRENT", "garbled MANIFEST", "garbled tables", "truncated tables", "tables deleted",
          "no database", "database is a file", "no cfkb.json", "foreign cfkb.json", "binary cfkb.json",
          "cfkb.json is a directory", "a file, not a directory", "an empty directory"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_or_foreign_store_gets_one_clear_line(runner, store_path, how):
    damage(store_path, how)
    for args in (["conflicts"], ["query", "-e", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"],
                 ["claim", "add", "--subject", "Fadhila", "--predicate", "memberOf", "--object", "State of Law",
                  "--source", SOURCE, "--date", "2001-02-03"]):
        result = invoke(runner, store_path, *args)
        err = result.stderr.strip()
        assert result.exit_code == 1, (how, args, result.output)
        assert len(err.splitlines()) == 1 and err.startswith("Error: "), (how, err)
        assert "internal error" not in err and "Traceback" not in err, (how, err)
    # nothing was made where the store should be
    if how in ("no database", "an empty directory"):
        assert not (store_path / "oxigraph" / "CURRENT").exists()
