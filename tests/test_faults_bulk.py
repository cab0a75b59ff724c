"""Faults on the bulk path: big imports go through a redo journal and the bulk loader.

``KnowledgeBase.write_many`` writes the batch to ``pending.nq``, commits it
with ``pending.commit``, bulk-loads it and removes both. These tests kill the
importer at random moments (most of them aimed at the journal and the load),
fill the disk while the journal is written and while the loader runs, and
check after each that the store opens and holds all of the batch or none of
it, that a committed journal is applied by the next open (reading or
writing) and an uncommitted one thrown away, and that no reader opens the
store in the middle of a load. The kill loop runs 6 times by default and 40
times with --runslow.
"""

from __future__ import annotations

import datetime as dt
import errno
import gc
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
import pytest

from cfkb.errors import StoreError, StoreLockedError
from cfkb.io.importer import InputFile, import_files
from cfkb.io.importplan import plan_import
from cfkb.store import journal as journal_module
from cfkb.store.core import BULK_MIN_QUADS, KnowledgeBase
from cfkb.store.journal import JOURNAL, JOURNAL_COMMIT
from cfkb.store.locks import apply_lock
from storestate import store_state
from test_faults import _mount_tmpfs, claims_and_batches, fill_disk, table_agrees_with_graph

#: Claims in one bulk batch: each adds 12 quads, so the batch is well over BULK_MIN_QUADS.
BULK = 2500
SOURCE = "cfid:winep-cf-four-way-split-part-1"
DAY0 = dt.date(1900, 1, 1)


def bulk_csv(path: Path, run: int = 0, quote: str = "") -> Path:
    """BULK claims that differ by date only (run ``run`` uses its own days)."""
    rows = ["subject,predicate,object,source,date,tlp" + (",quote" if quote else "")]
    for i in range(BULK):
        day = DAY0 + dt.timedelta(days=run * BULK + i)
        rows.append(f"Fadhila,memberOf,State of Law,{SOURCE},{day.isoformat()},GREEN" + (f",{quote}" if quote else ""))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def import_command(store: Path, path: Path) -> list[str]:
    return [sys.executable, "-m", "cfkb", "--store", str(store), "--analyst", "killer", "import", str(path)]


def journal_files(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.name.startswith("pending."))


def test_a_bulk_batch_goes_through_the_journal(store_path, tmp_path):
    """The batch the kill loop uses is big enough for the bulk path."""
    with KnowledgeBase.open(store_path) as kb:
        plan = plan_import(kb, [InputFile("b.csv", bulk_csv(tmp_path / "b.csv").read_bytes())])
    assert sum(len(q) for q in plan.claim_quads.values()) >= BULK_MIN_QUADS


def test_kill_9_during_a_bulk_import_leaves_all_or_nothing(seed_template, tmp_path, request):
    """Half the kills fall anywhere in the import; half come just after the journal appears."""
    runs = 40 if request.config.getoption("--runslow") else 6
    rng = random.Random(5)
    batch = bulk_csv(tmp_path / "batch.csv")
    seed_claims, seed_batches = claims_and_batches(seed_template)

    def fresh(n: int) -> Path:
        store = tmp_path / f"kb{n}.store"
        shutil.copytree(seed_template, store)
        with KnowledgeBase.open(store) as kb:  # a current claim table, which the import keeps current
            from cfkb.engine.table import open_table

            open_table(kb).close()
        return store

    store = fresh(-1)
    start = time.monotonic()
    done = subprocess.run(import_command(store, batch), capture_output=True, text=True, timeout=300)
    full = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert len(claims_and_batches(store)[0]) == len(seed_claims) + BULK
    assert journal_files(store) == []
    shutil.rmtree(store)

    outcomes = {"none": 0, "all": 0, "killed": 0, "killed with a journal": 0, "killed after commit": 0}
    for run in range(runs):
        store = fresh(run)
        proc = subprocess.Popen(import_command(store, batch), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if run % 2:
            time.sleep(rng.uniform(0.1, 1.2) * full)
        else:  # aim at the journal and the load
            deadline = time.monotonic() + 300
            while proc.poll() is None and not (store / JOURNAL).exists() and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is None:
            left = journal_files(store)
            proc.send_signal(signal.SIGKILL)
            outcomes["killed"] += 1
            outcomes["killed with a journal"] += bool(left)
            outcomes["killed after commit"] += JOURNAL_COMMIT in left
        proc.wait(30)
        after, after_batches = claims_and_batches(store)  # a read open: applies a committed journal first
        table_agrees_with_graph(store)  # graph and claim table agree, whenever the kill came
        new = {c for c in after if c not in seed_claims}
        assert set(seed_claims) <= set(after), f"run {run}: claims were lost"
        if new:
            assert len(new) == BULK, f"run {run}: {len(new)} of {BULK} claims: part of a batch"
            assert len(after_batches - seed_batches) == 1
            outcomes["all"] += 1
        else:
            assert after_batches == seed_batches, f"run {run}: a batch without its claims"
            outcomes["none"] += 1
        assert JOURNAL_COMMIT not in journal_files(store), f"run {run}: a committed journal survived an open"
        KnowledgeBase.open(store, write=True).close()  # a write open drops an uncommitted journal
        assert journal_files(store) == [], f"run {run}: {journal_files(store)}"
        assert claims_and_batches(store) == (after, after_batches)
        if run == runs - 1:  # and the store still takes the batch
            again = subprocess.run(import_command(store, batch), capture_output=True, text=True, timeout=300)
            assert again.returncode == 0, again.stderr
            assert len(claims_and_batches(store)[0]) == len(seed_claims) + BULK
        shutil.rmtree(store)
    assert outcomes["none"] + outcomes["all"] == runs
    assert outcomes["killed with a journal"] >= 1, outcomes


# -- a full disk, simulated ----------------------------------------------------------------

class FailingLoad:
    """A pyoxigraph store whose bulk loader dies half-way, as on a full disk."""

    def __init__(self, store: ox.Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def _half_then_fail(self, quads: list[ox.Quad]) -> None:
        self._store.bulk_extend(quads[: len(quads) // 2])
        self._store.flush()
        raise OSError(errno.ENOSPC, "IO error: No space left on device: While appending to file: 000099.sst")

    def bulk_load(self, input: bytes | None = None, *, path: str | None = None, format: ox.RdfFormat,
                  lenient: bool = False) -> None:
        self._half_then_fail(list(ox.parse(input, path=path, format=format)))

    def bulk_extend(self, quads: object) -> None:
        self._half_then_fail(list(quads))  # type: ignore[call-overload]


def _batch(tmp_path: Path, run: int = 3) -> list[InputFile]:
    return [InputFile("bulk.csv", bulk_csv(tmp_path / f"bulk{run}.csv", run).read_bytes())]


def test_a_full_disk_during_the_bulk_load_is_finished_by_the_next_open(store_path, tmp_path):
    before, batches = claims_and_batches(store_path)
    kb = KnowledgeBase.open(store_path, write=True)
    kb.store = FailingLoad(kb.store)  # type: ignore[assignment]
    with pytest.raises(StoreError) as info:
        import_files(kb, _batch(tmp_path), analyst="t")
    message = str(info.value)
    del info
    assert "\n" not in message and "No space left on device" in message
    assert "applied, whole, the next time the store is opened" in message
    assert journal_files(store_path) == sorted([JOURNAL, JOURNAL_COMMIT])
    with pytest.raises(StoreError, match="not applied yet"):
        kb.claim_count()  # this handle has seen half a load: it answers nothing more
    kb.store = kb.store._store  # type: ignore[attr-defined]
    kb.close()
    gc.collect()  # the caught error's frames still hold the store (and its lock)
    # the next open, a read, applies the journal before anyone reads
    after, after_batches = claims_and_batches(store_path)
    assert len(after) == len(before) + BULK and len(after_batches) == len(batches) + 1
    assert journal_files(store_path) == []


def test_a_failing_load_that_keeps_failing_keeps_readers_out(store_path, tmp_path, monkeypatch):
    """While the journal cannot be applied, every open refuses with one line; then it completes."""
    before = claims_and_batches(store_path)
    kb = KnowledgeBase.open(store_path, write=True)
    kb.store = FailingLoad(kb.store)  # type: ignore[assignment]
    with pytest.raises(StoreError):
        import_files(kb, _batch(tmp_path), analyst="t")
    kb.store = kb.store._store  # type: ignore[attr-defined]
    kb.close()
    gc.collect()  # the caught error's frames still hold the store (and its lock)

    def full_disk(path: Path, store: object) -> None:
        return original(path, FailingLoad(store))

    original = journal_module.apply_journal
    monkeypatch.setattr(journal_module, "apply_journal", full_disk)
    for write in (False, True):
        with pytest.raises(StoreError) as info:
            KnowledgeBase.open(store_path, write=write)
        assert "could not be applied" in str(info.value) and "\n" not in str(info.value)
        del info
        gc.collect()  # the wrapper's frames in the error hold the store (and its lock)
    monkeypatch.setattr(journal_module, "apply_journal", original)
    after, _ = claims_and_batches(store_path)
    assert len(after) == len(before[0]) + BULK


def test_a_full_disk_while_writing_the_journal_changes_nothing(store_path, tmp_path, monkeypatch):
    state = store_state(store_path)

    def full(path: Path, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data[: len(data) // 3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module, "_write_synced", full)
    with KnowledgeBase.open(store_path, write=True) as kb, pytest.raises(StoreError) as info:
        import_files(kb, _batch(tmp_path), analyst="t")
    assert str(info.value).startswith("write failed, nothing was changed")
    assert journal_files(store_path) == []
    assert store_state(store_path).data == state.data


def test_an_uncommitted_journal_is_ignored_by_readers_and_dropped_by_writers(store_path):
    state = store_state(store_path)
    (store_path / JOURNAL).write_bytes(b"<http://example.org/a> <http://example.org/p> <http://example.org/b> .\n")
    assert store_state(store_path).data == state.data  # a reader does not apply it
    KnowledgeBase.open(store_path, write=True).close()
    assert journal_files(store_path) == []
    assert store_state(store_path).data == state.data


def test_a_committed_journal_with_blank_nodes_is_applied_once(store_path, tmp_path):
    """Blank nodes keep their labels, so applying the journal twice adds them once."""
    quads = [ox.Quad(ox.BlankNode(f"b{i}"), ox.NamedNode("http://example.org/p"), ox.Literal(str(i)))
             for i in range(BULK_MIN_QUADS)]
    kb = KnowledgeBase.open(store_path, write=True)
    kb.store = FailingLoad(kb.store)  # type: ignore[assignment]
    with pytest.raises(StoreError):
        kb.write_many(quads)
    kb.store = kb.store._store  # type: ignore[attr-defined]
    kb.close()
    gc.collect()  # the caught error's frames still hold the store (and its lock)
    with KnowledgeBase.open(store_path) as kb:
        found = {(q.subject.value, q.object.value)
                 for q in kb.store.quads_for_pattern(None, ox.NamedNode("http://example.org/p"), None, None)}
    assert found == {(f"b{i}", str(i)) for i in range(BULK_MIN_QUADS)}


def test_a_reader_waits_for_a_bulk_load_in_progress(store_path):
    """The writer holds the directory lock from the commit to the end of the load."""
    with apply_lock(store_path, exclusive=True):
        (store_path / JOURNAL_COMMIT).write_text("{}")
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match="still being written"):
            KnowledgeBase.open(store_path, wait=0.3)
        assert time.monotonic() - started >= 0.3
        (store_path / JOURNAL_COMMIT).unlink()
    KnowledgeBase.open(store_path, wait=0.3).close()


# -- a full disk, for real -----------------------------------------------------------------

def test_a_real_full_disk_during_a_bulk_import_leaves_the_store_intact(seed_template, tmp_path):
    """On a small tmpfs: the bulk import fails with one line, the store is unchanged, then it goes in."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "48m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the simulated full disk tests cover the rest")
    try:
        store = disk / "kb.store"
        shutil.copytree(seed_template, store)
        claims, batches = claims_and_batches(store)
        csv = bulk_csv(tmp_path / "bulk.csv", 11, quote="q" * 3000)  # about 10 MB of journal
        filler = fill_disk(disk, leave=4 * 1024 * 1024)
        failed = subprocess.run(import_command(store, csv), capture_output=True, text=True, timeout=300)
        err = failed.stderr.strip()
        assert failed.returncode == 1, (failed.stdout, err)
        assert len(err.splitlines()) == 1 and err.startswith("Error: ") and "Traceback" not in err, err
        assert "write failed, nothing was changed" in err and "No space left on device" in err, err
        assert journal_files(store) == []
        filler.unlink()
        assert claims_and_batches(store) == (claims, batches)
        again = subprocess.run(import_command(store, csv), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert len(claims_and_batches(store)[0]) == len(claims) + BULK
        assert journal_files(store) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


# -- the journal applied in slices ---------------------------------------------------------

def _journal_text() -> bytes:
    """N-Quads lines as a journal holds them: IRIs, literals with escaped line breaks, a named graph."""
    p, g = ox.NamedNode("http://example.org/p"), ox.NamedNode("http://example.org/g")
    quads = [ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), p, ox.Literal(f"line {i}\nand \"more\"" * (i % 4)),
                     g if i % 3 else ox.DefaultGraph()) for i in range(3000)]
    return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""


class CountingLoad:
    """A pyoxigraph store that counts the bulk loader's calls (and can die after some)."""

    def __init__(self, store: ox.Store, die_after: int = 0) -> None:
        self._store = store
        self.calls = 0
        self._die_after = die_after

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def _called(self) -> None:
        self.calls += 1
        if self.calls == self._die_after:
            import os

            os.kill(os.getpid(), signal.SIGKILL)

    def bulk_load(self, *args: Any, **kwargs: Any) -> None:
        self._store.bulk_load(*args, **kwargs)
        self._called()

    def bulk_extend(self, quads: Any) -> None:
        self._store.bulk_extend(quads)
        self._called()


@pytest.mark.parametrize("blank_nodes", [False, True])
def test_a_journal_loaded_in_slices_gives_the_store_one_load_gives(tmp_path, monkeypatch, blank_nodes):
    journal = tmp_path / JOURNAL
    journal.write_bytes(_journal_text())
    stores = []
    for n, (size, count) in enumerate([(1 << 30, 1 << 30), (4096, 100)]):
        monkeypatch.setattr(journal_module, "SLICE_BYTES", size)
        monkeypatch.setattr(journal_module, "SLICE_QUADS", count)
        store = CountingLoad(ox.Store(str(tmp_path / f"db{n}")))
        journal_module.load_slices(cast(ox.Store, store), journal, blank_nodes)
        assert store.calls == 1 if n == 0 else store.calls >= 30
        stores.append(store)
    one, sliced = ({str(q) for q in s._store} for s in stores)
    assert len(one) == 3000 and sliced == one


class MeetingLoad:
    """A pyoxigraph store whose bulk loader waits, in each of its first calls, for a
    second call to be at work too (it breaks the barrier, and fails, if none comes);
    it can fail at a given call, as on a full disk."""

    def __init__(self, store: ox.Store, fail_at: int = 0) -> None:
        import threading

        self._store = store
        self._lock = threading.Lock()
        self.meeting = threading.Barrier(2, timeout=60)
        self.calls = 0
        self._fail_at = fail_at

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def bulk_load(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1
            call = self.calls
        if call <= 2:
            self.meeting.wait()  # two calls at once, or a BrokenBarrierError
        if call == self._fail_at:
            raise OSError(errno.ENOSPC, "IO error: No space left on device")
        self._store.bulk_load(*args, **kwargs)


def test_a_journal_of_lines_is_loaded_two_slices_at_a_time(tmp_path, monkeypatch):
    journal = tmp_path / JOURNAL
    journal.write_bytes(_journal_text())
    monkeypatch.setattr(journal_module, "SLICE_BYTES", 4096)
    store = MeetingLoad(ox.Store(str(tmp_path / "db")))
    journal_module.load_slices(cast(ox.Store, store), journal, False)
    assert store.calls >= 30 and not store.meeting.broken
    assert len({str(q) for q in store._store}) == 3000


def test_a_failing_slice_stops_the_load_and_its_error_is_raised(tmp_path, monkeypatch):
    """The first failure is the load's: no slice is taken after it, and it reaches the caller."""
    journal = tmp_path / JOURNAL
    journal.write_bytes(_journal_text())
    monkeypatch.setattr(journal_module, "SLICE_BYTES", 4096)
    slices = len(_journal_text()) // 4096
    store = MeetingLoad(ox.Store(str(tmp_path / "db")), fail_at=3)
    with pytest.raises(OSError, match="No space left on device"):
        journal_module.load_slices(cast(ox.Store, store), journal, False)
    assert store.calls < slices // 2  # (the call at work beside the failing one may take a slice more)


KILL_BETWEEN_SLICES = """
import sys
from pathlib import Path
from cfkb.io.importer import InputFile, import_files
from cfkb.store import journal
from cfkb.store.core import KnowledgeBase
sys.path.insert(0, {tests!r})
from test_faults_bulk import CountingLoad
journal.SLICE_BYTES = journal.SLICE_QUADS = 4096
kb = KnowledgeBase.open(Path({store!r}), write=True)
kb.store = CountingLoad(kb.store, die_after=3)
import_files(kb, [InputFile("bulk.csv", Path({csv!r}).read_bytes())], analyst="killer")
"""


@pytest.mark.parametrize("quote", ["", "_:b1 looks like a blank node"])
def test_a_kill_between_slices_is_finished_by_the_next_open(seed_template, tmp_path, quote):
    """Killed after the third slice of the load: the next open loads the whole journal again."""
    store = tmp_path / "kb.store"
    shutil.copytree(seed_template, store)
    with KnowledgeBase.open(store) as kb:  # a current claim table, which the next open keeps current
        from cfkb.engine.table import open_table

        open_table(kb).close()
    claims, batches = claims_and_batches(store)
    csv = bulk_csv(tmp_path / "bulk.csv", 5, quote=quote)
    script = KILL_BETWEEN_SLICES.format(tests=str(Path(__file__).parent), store=str(store), csv=str(csv))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert journal_files(store) == sorted([JOURNAL, JOURNAL_COMMIT])
    after, after_batches = claims_and_batches(store)  # a read open applies the journal first
    assert len(after) == len(claims) + BULK and len(after_batches) == len(batches) + 1
    assert journal_files(store) == []
    table_agrees_with_graph(store)
