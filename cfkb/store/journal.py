"""The redo journal of a bulk write, and its recovery.

Big additions (:meth:`cfkb.store.core.KnowledgeBase.write_many`) skip RocksDB's
transaction, which takes minutes for a million quads, and use the bulk loader
behind a redo journal, so they stay all or nothing even under ``kill -9`` or
a full disk:

1. the quads are written to ``pending.nq`` (N-Quads) and fsynced (a
   streamed import's claim lines are already on disk, in its spool, which
   is completed, fsynced and renamed to ``pending.nq``: :mod:`cfkb.store.spool`)
   (:func:`write_journal`);
2. ``pending.commit`` (size and CRC of the journal) is written, fsynced and
   renamed into place: this rename is the commit point (:func:`commit_journal`);
3. the bulk loader adds the journal to the database, a few slices at a time
   (:func:`load_slices`: its memory grows with the quads of the calls at
   work), and the database is flushed;
4. ``pending.commit`` is removed, then the journal (3 and 4: :func:`apply_journal`).

Loading a set of quads twice gives the same store, so a journal with its
commit file is simply loaded again by the next open, for writing
(:func:`finish_bulk_write`) or reading (:func:`open_reading`), before
anything else sees the store; a journal without one is thrown away (the
write never committed, the database was never touched). Steps 2-4 run under
the exclusive apply lock (:func:`cfkb.store.locks.apply_lock`) and readers
take it shared while they open, so no reader opens a half-loaded database.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyoxigraph as ox

from cfkb.errors import StoreError, StoreLockedError, one_line
from cfkb.store.backend import Backend
from cfkb.store.locks import apply_lock, drop_stale_spool, open_db, writer_active
from cfkb.store.spool import SPOOL, Spool

#: The redo journal of a bulk write, and the file that commits it.
JOURNAL = "pending.nq"
JOURNAL_COMMIT = "pending.commit"
#: How much of the journal one call of the bulk loader takes (its memory grows with it): bytes of
#: lines, or quads where the journal is parsed first
SLICE_BYTES = 16 << 20
SLICE_QUADS = 250_000
#: How many calls of the bulk loader take slices of the journal's lines at once, each in a thread
#: of its own: the loader lets go of Python while it works, and one call parses its slice and only
#: then writes it, so two calls keep both busy (the memory: this many slices)
LOAD_THREADS = 2
#: How long (seconds) a read-only open keeps trying while a live writer changes the files under it.
BUSY_WAIT = 10.0


def write_journal(path: Path, add: list[ox.Quad], nquads: bytes = b"",
                  spool: Spool | None = None) -> tuple[dict[str, Any], BinaryIO | None]:
    """Step 1: the journal, fsynced; its commit record, and with a spool the journal open
    for reading from its start (the caller reads its claim lines after the load).

    Raises:
        OSError: the journal could not be written, or there is no room to apply it.
    """
    journal = path / JOURNAL
    data = ox.serialize(add, format=ox.RdfFormat.N_QUADS) or b""
    written: BinaryIO | None = None
    try:
        if spool is None:
            if nquads:
                data += nquads
            del nquads
            _write_synced(journal, data)
            record = {"format": 1, "bytes": len(data), "crc32": zlib.crc32(data),
                      # the bulk loader renames blank nodes; parsing keeps them (see apply_journal)
                      "blank_nodes": b"_:" in data}
        else:
            spooled = spool.size
            spool.finish(data, journal)
            written = open(journal, "rb")  # noqa: SIM115 - the caller reads it after the load
            record = {"format": 1, "bytes": journal.stat().st_size, "crc32": spool.crc32,
                      "blank_nodes": spool.blank_nodes}
            if record["bytes"] != spooled + len(data):
                raise OSError(errno.EIO, f"the journal has {record['bytes']} bytes where"
                                         f" {spooled + len(data)} were written")
        del data
        free = shutil.disk_usage(path).free
        # the bulk loader's files take about half the journal's size: ask for all of it
        if free < record["bytes"]:
            raise OSError(errno.ENOSPC, f"No space left on device: about {record['bytes'] / 2**20:.0f} MiB"
                                        f" needed, {free / 2**20:.0f} MiB free")
    except BaseException:
        if written is not None:
            written.close()
        raise
    return record, written


def commit_journal(path: Path, record: dict[str, Any]) -> None:
    """Step 2, the commit point: the commit file renamed into place (under the exclusive apply lock)."""
    part = path / (JOURNAL_COMMIT + ".part")
    _write_synced(part, json.dumps(record).encode("utf-8"))
    os.replace(part, path / JOURNAL_COMMIT)


def discard_uncommitted(path: Path) -> None:
    """Remove the journal of a write that did not reach its commit point."""
    _remove(path / JOURNAL, path / (JOURNAL_COMMIT + ".part"))


def apply_journal(path: Path, store: Backend) -> None:
    """Steps 3 and 4: load the committed journal into the database, then remove it (idempotent)."""
    journal, commit = path / JOURNAL, path / JOURNAL_COMMIT
    _sync_dir(path)  # the commit is on disk before the database is touched
    try:
        record = json.loads(commit.read_text(encoding="utf-8"))
        size, crc = record["bytes"], record["crc32"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the store at {path} has an unreadable {JOURNAL_COMMIT}: {one_line(exc)};"
                         " restore it from a backup") from exc
    if not journal.is_file() or journal.stat().st_size != size or _crc32(journal) != crc:
        raise StoreError(f"the store at {path} has a damaged bulk-write journal ({JOURNAL});"
                         " restore it from a backup")
    load_slices(cast(ox.Store, store), journal, record.get("blank_nodes", True))  # only an on-disk base has one
    commit.unlink()
    _sync_dir(path)
    journal.unlink()


def load_slices(db: ox.Store, journal: Path, blank_nodes: bool) -> None:
    """Step 3: the bulk loader adds the journal to the database in slices of
    about :data:`SLICE_BYTES` (or :data:`SLICE_QUADS`), then flushes it.

    The loader's memory grows with the quads of one call (about 1.3 GB for
    1.8M quads, 0.15 GB for a 16 MiB slice), not with the store. A journal of
    lines is loaded by :data:`LOAD_THREADS` calls at once. A kill between
    slices leaves the commit file, so the next open loads the whole journal
    again, which is safe: loading a quad twice adds it once.
    """
    if blank_nodes:
        # parsing keeps blank node labels, so loading twice gives the same nodes
        quads = iter(ox.parse(path=str(journal), format=ox.RdfFormat.N_QUADS, lenient=True))
        for first in quads:
            db.bulk_extend(itertools.chain((first,), itertools.islice(quads, SLICE_QUADS - 1)))
    else:
        _load_lines(db, journal)
    db.flush()


def _load_lines(db: ox.Store, journal: Path) -> None:
    """The journal's lines, a slice for each of :data:`LOAD_THREADS` threads at a
    time; the first failure stops them all (no new slice is taken) and is raised."""
    lock = threading.Lock()
    stop = threading.Event()
    failed: list[BaseException] = []
    with open(journal, "rb") as f:
        def take() -> bytes:
            with lock:
                if stop.is_set():
                    return b""
                # the journal's N-Quads hold one quad a line (line breaks in literals are escaped)
                data = f.read(SLICE_BYTES)
                return data + f.readline() if data else b""

        def load() -> None:
            try:
                while data := take():
                    db.bulk_load(input=data, format=ox.RdfFormat.N_QUADS, lenient=True)
                    del data
            except BaseException as exc:  # noqa: BLE001 - raised by the caller below
                failed.append(exc)
                stop.set()

        threads = [threading.Thread(target=load, name=f"cfkb-load-{i}") for i in range(LOAD_THREADS)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # an interrupt: the calls at work finish, no new one starts
            stop.set()
            for thread in threads:
                thread.join()
            raise
    if failed:
        raise failed[0]


def finish_bulk_write(path: Path, store: Backend) -> None:
    """On a write open: apply a committed journal, drop an uncommitted one (and a dead import's spool)."""
    if (path / SPOOL).exists():
        drop_stale_spool(path)
    if not any((path / name).exists() for name in (JOURNAL, JOURNAL_COMMIT, JOURNAL_COMMIT + ".part")):
        return
    with apply_lock(path, exclusive=True):
        if (path / JOURNAL_COMMIT).exists():
            try:
                apply_journal(path, store)
            except (OSError, RuntimeError, SyntaxError, ValueError) as exc:
                raise StoreError(f"the store at {path} holds a committed import that could not be"
                                 f" applied: {one_line(exc)}; free some disk space and open it again") from exc
        else:
            # the writer died before committing: the database was never touched
            discard_uncommitted(path)


def open_reading(path: Path, wait: float, apply_pending: Callable[[Path], None]) -> Backend:
    """Open read-only, never in the middle of a bulk write.

    A committed bulk write that nobody is applying is applied first, by
    ``apply_pending`` (a write open and close: it needs the write lock, so
    this waits for a writer to finish).

    A live writer may remove files (logs, old tables) while a read-only open
    reads the list of them, which RocksDB reports as corruption or a missing
    file. Such an open is tried again while the writer's mark is held (for
    :data:`BUSY_WAIT` seconds at most, then "store in use"), and once more
    after the writer is gone; a store that still fails to open then is damaged.
    """
    deadline = time.monotonic() + wait
    busy_until = time.monotonic() + BUSY_WAIT
    retried = False
    while True:
        failure: StoreError | None = None
        with apply_lock(path, exclusive=False, deadline=deadline):
            if not (path / JOURNAL_COMMIT).exists():
                try:
                    return open_db(path, write=False)
                except StoreLockedError:
                    raise
                except StoreError as exc:
                    failure = exc
        if failure is not None:
            if writer_active(path):
                if time.monotonic() >= busy_until:
                    raise StoreLockedError(f"store in use: another cfkb process is writing to {path} too busily"
                                           " to open it for reading; try again when it has finished") from failure
            elif retried:
                raise failure
            else:
                retried = True
            time.sleep(0.01)
            continue
        try:
            apply_pending(path)
        except StoreLockedError as exc:
            if time.monotonic() >= deadline or "current process" in str(exc.__cause__):
                raise StoreLockedError(f"store in use: an import into {path} is still being written; try again"
                                       " when it has finished") from exc
            time.sleep(0.05)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def _remove(*paths: Path) -> None:
    for p in paths:
        with suppress(FileNotFoundError):
            p.unlink()
