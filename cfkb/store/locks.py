"""Who holds an on-disk store, and opening its database under that.

Four locks keep processes apart on one store directory:

* RocksDB's own lock on the database: one writer at a time; a second gets
  :class:`~cfkb.errors.StoreLockedError` ("store in use") from :func:`open_db`.
* The writer's mark (:func:`mark_writer`): a shared ``flock`` on the database
  directory, held by a writer as long as it has the store open, which a reader
  tests (:func:`writer_active`) to tell a live writer's changing files from damage.
* The apply lock (:func:`apply_lock`): an ``flock`` on the store directory, held
  exclusively by a writer from a bulk write's commit point until its journal
  is applied (:mod:`cfkb.store.journal`), and shared by a reader while it
  opens, so no reader opens a half-loaded database
  (:func:`cfkb.store.journal.open_reading`).
* The import lock: an ``flock`` on the store's marker file
  (:data:`cfkb.store.location.MARKER`), held by an import (:mod:`cfkb.io.importer`)
  for as long as its spool is its own (:func:`drop_stale_spool`).

On Windows there is no ``flock``: only RocksDB's lock keeps writers apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pyoxigraph as ox

from cfkb.errors import StoreError, StoreLockedError, one_line
from cfkb.store.backend import Backend
from cfkb.store.location import MARKER
from cfkb.store.spool import SPOOL


def open_db(path: Path, *, write: bool) -> Backend:
    """The store's database, for writing (RocksDB's lock: "store in use" if taken) or read-only."""
    db = path / "oxigraph"
    try:
        return ox.Store(str(db)) if write else ox.Store.read_only(str(db))
    except OSError as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"store in use: another cfkb process is writing to {path}; try again when it has finished"
            ) from exc
        raise StoreError(f"cannot open the store at {path}: {one_line(exc)}") from exc
    except (RuntimeError, ValueError) as exc:
        raise StoreError(f"the store at {path} is damaged and cannot be opened: {one_line(exc)};"
                         " restore it from a backup") from exc


def mark_writer(path: Path) -> int | None:
    """Mark the store as open for writing, for as long as the returned descriptor stays open.

    RocksDB's own lock cannot be asked about without the risk of releasing it
    (POSIX record locks), so the writer also holds a shared ``flock`` on the
    database directory, which readers test (:func:`writer_active`).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: readers cannot tell a writer from damage
        return None
    fd = os.open(path / "oxigraph", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def writer_active(path: Path) -> bool:
    """Whether a process holds the store open for writing (its :func:`mark_writer`)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    try:
        fd = os.open(path / "oxigraph", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextmanager
def apply_lock(path: Path, *, exclusive: bool, deadline: float | None = None) -> Iterator[None]:
    """The ``flock`` on the store directory that keeps readers out of a bulk load.

    The writer holds it exclusively from the commit point until the journal
    is applied; a reader holds it shared while it opens. ``deadline``: poll
    until then (else block).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no reader exclusion
        yield
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if deadline is None:
            fcntl.flock(fd, mode)
        else:
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreLockedError(f"store in use: an import into {path} is still being written;"
                                               " try again when it has finished") from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def drop_stale_spool(path: Path) -> None:
    """Remove an import's spool (:mod:`cfkb.store.spool`) if no import holds the store's import lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: left for the next import
        return
    fd = os.open(path / MARKER, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # an import is running (maybe this process's): the spool is its own
        with suppress(FileNotFoundError):
            (path / SPOOL).unlink()
    finally:
        os.close(fd)
