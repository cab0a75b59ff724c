"""Running SPARQL for the server: bounded in time and in rows.

A runaway pyoxigraph query cannot be interrupted from Python, so queries run
in a small pool of worker processes, each with the store open read-only. The
server waits for an answer up to the time limit; at the limit it kills that
worker (the query dies with it), starts a fresh one and answers 503, while the
other workers go on serving other clients.

A base with no path (in memory) cannot be shared with another process; its
queries run in threads instead, which still answer 503 at the limit but
cannot stop the query itself.

A query travels as a :class:`~cfkb.server.jobs.QueryJob` and comes back as a
:class:`~cfkb.server.jobs.QueryOutcome` (:mod:`cfkb.server.jobs`). This module
does not import the web stack, so the workers start quickly.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from cfkb.errors import QueryTimeoutError, StoreError
from cfkb.server.jobs import QueryJob, QueryOutcome, _error_reply, _raise_reply, run_job
from cfkb.store import sandbox
from cfkb.store.core import KnowledgeBase
from cfkb.store.guard import check_query

T = TypeVar("T")


# -- runners -----------------------------------------------------------------

class Runner(Protocol):
    """Runs query jobs within a time limit."""

    def run(self, job: QueryJob, timeout: float, client: str = "") -> QueryOutcome: ...

    def recycle(self) -> None: ...

    def close(self) -> None: ...


def _timeout_error(timeout: float) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"query stopped at the time limit of {timeout:g} s; narrow it (more specific patterns,"
        " a LIMIT) or raise the time limit")


def worker_main(conn: Connection, store_path: str) -> None:
    """A worker process: open the store read-only and answer jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # no network for this process's query threads: SERVICE reaches nothing even if the parser is misled
    sandbox.deny_network()
    try:
        kb = KnowledgeBase.open(store_path)
        # the query check's parser loaded now, not within the first query's time limit
        check_query("ASK {}")
    except BaseException as exc:  # reported to the server, which answers 503
        conn.send(_error_reply(exc))
        return
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            conn.send(("ok", run_job(kb, job)))
        except BaseException as exc:
            conn.send(_error_reply(exc))


class _Worker:
    """One worker process (``python -m cfkb.server.worker``) and our end of its socket.

    A plain subprocess rather than :mod:`multiprocessing`: spawning would
    re-import the caller's main module, which may not be import-safe.
    """

    def __init__(self, store_path: str, generation: int) -> None:
        self.generation = generation
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cfkb.server.worker", str(theirs.fileno()), store_path],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        try:
            if not self.conn.poll(timeout):
                raise StoreError("a query worker did not start in time; try again")
            reply = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise StoreError("a query worker could not start; see the server log") from None
        except StoreError:
            self.kill()
            raise
        if reply[0] != "ready":
            self.kill()
            _raise_reply(reply)
        self.ready = True

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.wait(2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.conn.close()


class _FairSlots(Generic[T]):
    """A pool of slots shared fairly between clients, first come first served within one.

    A slot given back goes straight to a waiting thread, so a thread that just gave
    one back cannot take it again ahead of the others (as it can from a
    :class:`queue.Queue`, starving a waiter until its time runs out). Among waiters,
    the client holding the fewest slots goes first, the longest waiting among equals.
    No client holds more than ``per_client`` slots at once (with two or more slots,
    one fewer than all of them), so one client's flood of slow queries always leaves a
    slot for everyone else; and no client may have more than ``max_waiting`` queries
    waiting. Free slots are taken most recently used first.
    """

    def __init__(self, items: list[T], *, per_client: int | None = None, max_waiting: int = 32) -> None:
        self._free = list(items)
        self.per_client = per_client or max(1, len(items) - 1)
        self.max_waiting = max_waiting
        self._held: collections.Counter[str] = collections.Counter()
        self._waiters: collections.deque[list[Any]] = collections.deque()  # [event, slot or _NONE, client]
        self._lock = threading.Lock()

    def get(self, timeout: float | None, client: str = "") -> T:
        """A slot for ``client``; raises :class:`queue.Empty` if none came within ``timeout`` seconds.

        Raises:
            QueryTimeoutError: ``client`` already has ``max_waiting`` queries waiting.
        """
        with self._lock:
            if self._free and self._held[client] < self.per_client and not self._eligible_waiter():
                self._held[client] += 1
                return self._free.pop()
            if sum(1 for w in self._waiters if w[2] == client) >= self.max_waiting:
                raise QueryTimeoutError(f"too many queries from one client at once (more than {self.max_waiting}"
                                        " waiting); wait for answers before asking more")
            waiter: list[Any] = [threading.Event(), _NONE, client]
            self._waiters.append(waiter)
        waiter[0].wait(timeout)
        with self._lock:
            if waiter[1] is _NONE:
                self._waiters.remove(waiter)
                raise queue.Empty
        item: T = waiter[1]
        return item

    def _eligible_waiter(self) -> list[Any] | None:
        """The waiter a free slot goes to: under its client's share, fewest held, longest waiting."""
        best: list[Any] | None = None
        for waiter in self._waiters:
            held = self._held[waiter[2]]
            if held < self.per_client and (best is None or held < self._held[best[2]]):
                best = waiter
        return best

    def put(self, item: T, client: str = "") -> None:
        """Give back a slot ``client`` held."""
        with self._lock:
            if self._held[client] > 0:
                self._held[client] -= 1
                if not self._held[client]:
                    del self._held[client]
            waiter = self._eligible_waiter()
            if waiter is not None:
                self._waiters.remove(waiter)
                self._held[waiter[2]] += 1
                waiter[1] = item
                waiter[0].set()
            else:
                self._free.append(item)


_NONE = object()


class ProcessRunner:
    """A pool of worker processes over the store at ``store_path``.

    :meth:`run` blocks; call it from a thread. A query past the limit costs
    its worker, which is replaced on next use.
    """

    START_TIMEOUT = 60.0

    def __init__(self, store_path: str | Path, size: int = 2) -> None:
        self.store_path = str(store_path)
        self.size = max(1, size)
        self._slots = _FairSlots[_Worker | None]([None] * self.size)
        self._generation = 0
        self._closed = False
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()

    def _fresh(self, worker: _Worker | None) -> _Worker:
        if worker is not None and worker.alive() and worker.generation == self._generation:
            return worker
        if worker is not None:
            self._forget(worker)
            worker.stop()
        with self._lock:
            if self._closed:
                raise StoreError("the server is shutting down")
            worker = _Worker(self.store_path, self._generation)
            self._all.add(worker)
        return worker

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)

    def warm(self) -> None:
        """Start every worker now rather than on first use."""
        # each slot as a client of its own, so the per-client share does not hold this back
        taken = [self._slots.get(None, f" warm {i}") for i in range(self.size)]
        try:
            for i, worker in enumerate(taken):
                taken[i] = worker = self._fresh(worker)
                worker.wait_ready(self.START_TIMEOUT)
        finally:
            for i, worker in enumerate(taken):
                self._slots.put(worker, f" warm {i}")

    def run(self, job: QueryJob, timeout: float, client: str = "") -> QueryOutcome:
        """Run ``job`` on a worker, for ``client`` (its share of the workers is bounded)."""
        try:
            worker = self._slots.get(timeout, client)
        except queue.Empty:
            raise QueryTimeoutError(f"server busy: no query worker was free within {timeout:g} s;"
                                    " try again shortly") from None
        try:
            worker = self._fresh(worker)
            worker.wait_ready(self.START_TIMEOUT)
            worker.conn.send(job)
            if not worker.conn.poll(timeout):
                self._forget(worker)
                worker.kill()
                worker = None
                raise _timeout_error(timeout)
            reply = worker.conn.recv()
        except (EOFError, OSError) as exc:
            if worker is not None:
                self._forget(worker)
                worker.kill()
            worker = None
            raise StoreError(f"the query worker failed ({type(exc).__name__}); try again") from exc
        finally:
            self._slots.put(worker, client)
        if reply[0] == "ok":
            outcome: QueryOutcome = reply[1]
            return outcome
        _raise_reply(reply)
        raise AssertionError("unreachable")

    def recycle(self) -> None:
        """Workers see the store as it was when they opened it: after a write, start anew."""
        with self._lock:
            self._generation += 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()


class ThreadRunner:
    """Queries in threads, for a base with no path; answers 503 at the limit
    but cannot stop the query, which runs on in its thread."""

    def __init__(self, kb: KnowledgeBase, size: int = 2) -> None:
        self.kb = kb
        self._pool = ThreadPoolExecutor(max_workers=max(1, size), thread_name_prefix="cfkb-query",
                                        initializer=sandbox.offline_initializer)

    def run(self, job: QueryJob, timeout: float, client: str = "") -> QueryOutcome:
        future = self._pool.submit(run_job, self.kb, job)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise _timeout_error(timeout) from None

    def recycle(self) -> None:
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_runner(kb: KnowledgeBase, size: int | None = None) -> Runner:
    """Worker processes for an on-disk base, threads for an in-memory one."""
    n = size or max(2, min(4, os.cpu_count() or 2))
    if kb.path is not None:
        return ProcessRunner(kb.path, n)
    return ThreadRunner(kb, n)


class AnswerCache:
    """Answers by query (text, bound values, format, row cap and page), while the base stands still.

    Only a read-only server keeps one (see :func:`cfkb.server.app.create_app`): it
    never writes, and its workers read the base as it was when they opened it, so
    the same query gets the same answer. A writer in another process (``cfkb
    import``) is for the server to pick up by restarting, which starts the cache
    empty. :meth:`clear` is there for a server that does change its base.
    Bounded in bytes; the least recently used answers go first.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: dict[QueryJob, QueryOutcome] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, job: QueryJob) -> QueryOutcome | None:
        with self._lock:
            outcome = self._items.pop(job, None)
            if outcome is not None:
                self._items[job] = outcome  # most recently used last
            return outcome

    def put(self, job: QueryJob, outcome: QueryOutcome) -> None:
        size = len(outcome.body) + len(job.text)
        if size > self.max_bytes // 8:
            return
        with self._lock:
            if job in self._items:
                return
            self._items[job] = outcome
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                old_job, old = next(iter(self._items.items()))
                del self._items[old_job]
                self._bytes -= len(old.body) + len(old_job.text)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)
