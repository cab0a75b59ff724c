"""A chunk's SHACL check, made beside the reading of the next chunk.

:mod:`cfkb.io.importstream` reads, resolves and spools a claim table
chunk by chunk. The check of each chunk's new claims (the compiled shapes,
:func:`cfkb.io.importcheck.violations_in`) depends on nothing but the
claims, the types of what they name (from the entity index) and the
ontology, and is about half of the reading's work: for a big table it
runs in a second process (:class:`InWorker`), one chunk behind the
reading, so the two halves share the machine's cores; for a small one, in
the importing process (:class:`InProcess`). Both find the same violations,
chunk by chunk, in the order the chunks were given.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import queue
    import subprocess
    from multiprocessing.connection import Connection

    import pyoxigraph as ox

    from cfkb.model.vocabulary import Claim
    from cfkb.shacl.validate import Violation

log = logging.getLogger("cfkb.import")

#: what a chunk gives back: its violations
Outcome = list["Violation"]
Records = Sequence[tuple[str, "Claim"]]
#: the worker's command line, after the interpreter; then the folder that holds this cfkb,
#: which the worker looks in last (an installed cfkb is found where it always is; the
#: working folder, which ``-c`` puts first, is left out, as a cfkb there may be another),
#: and the worker's end of the socket
COMMAND = ("-c", "import runpy, sys; del sys.path[0]; sys.path.append(sys.argv[1]);"
                 " runpy.run_module('cfkb.io.chunkwork', run_name='__main__', alter_sys=True)")


class Taken(Protocol):
    """A chunk given: its outcome, when asked for."""

    def result(self) -> Outcome: ...


class _Done:
    def __init__(self, outcome: Outcome) -> None:
        self._outcome = outcome

    def result(self) -> Outcome:
        return self._outcome


class InProcess:
    """Each chunk checked in this process, when it is given."""

    #: how many chunks may be given before the first of them is taken back
    ahead = 0

    def __init__(self, ontology: list[ox.Quad], types: dict[str, set[str]]) -> None:
        """``ontology``: the quads the check reads beside each chunk; ``types``: the
        entity index's types, from which each chunk's context is taken."""
        self._ontology, self._types = ontology, types

    def submit(self, records: Records) -> Taken:
        """The outcome of one chunk: its new claims."""
        return _Done(_check(records, self._ontology, self._types))

    def close(self) -> None:
        pass


class InWorker(InProcess):
    """Each chunk checked by a second process while the next is read.

    The worker is this module run as a program (:data:`COMMAND`), as
    :mod:`cfkb.server.executor` runs its query workers: a plain subprocess
    and one end of a socket pair, over which
    :class:`multiprocessing.connection.Connection` sends pickles (a private
    channel between two cfkb processes); not :mod:`multiprocessing`'s
    spawning, which would run the importing program's main module again,
    and not a fork, since the importing process holds the store and its
    threads open. Chunks go and outcomes come back in order; a thread sends,
    so that this process reads on while the worker is busy. A worker that
    cannot start or fails leaves its chunks to this process: the outcome is
    the same, only slower.
    """

    ahead = 1

    def __init__(self, ontology: list[ox.Quad], types: dict[str, set[str]]) -> None:
        # (loaded here: a one-claim command imports this module, and never starts a worker)
        import queue
        import socket
        import subprocess
        import threading
        from multiprocessing.connection import Connection

        super().__init__(ontology, types)
        self._outbox: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        #: chunks given to the worker, and outcomes read back
        self._given = self._received = 0
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, *COMMAND, str(Path(__file__).resolve().parents[2]), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as exc:  # pragma: no cover - a machine that cannot start one
            log.warning("the import's check runs in one process: %s", exc)
            ours.close()
            return
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._outbox.put((ontology, types))
        self._sender = threading.Thread(target=self._send, name="cfkb-chunk-sender", daemon=True)
        self._sender.start()

    def submit(self, records: Records) -> Taken:
        if self._proc is None:
            return super().submit(records)
        self._outbox.put((list(records),))
        self._given += 1
        return _FromWorker(self, records)

    def _send(self) -> None:
        try:
            while (message := self._outbox.get()) is not None:
                self._conn.send(message)
        except BaseException as exc:  # noqa: BLE001 - this thread's end: the importer reads on
            # the worker is gone, or a chunk could not be sent: with the worker stopped, reading
            # its outcomes fails at once (never waits for one that will not come), and the
            # importer checks the chunks itself
            if not isinstance(exc, OSError):
                log.warning("a chunk could not go to the import's second process: %s", exc)
            assert self._proc is not None
            self._proc.kill()

    def receive(self, records: Records) -> Outcome:
        """The next outcome from the worker (the outcomes come back in the order the chunks went)."""
        import pickle

        if self._proc is not None:
            try:
                outcome = cast(Outcome, self._conn.recv())
                self._received += 1
                return outcome
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                problem = str(exc) or f"it ended with status {self._proc.wait()}"
            log.warning("the import's second process failed (%s); its chunks are checked here", problem)
            self._stop()
        return _check(records, self._ontology, self._types)

    def _stop(self) -> None:
        import subprocess

        if self._proc is None:
            return
        self._outbox.put(None)
        if self._given != self._received:
            self._proc.kill()  # chunks still in the worker: an import that failed does not wait for them
        self._sender.join()
        self._conn.close()  # the worker reads the end of its input and ends
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker stuck in a chunk
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self._stop()


class _FromWorker:
    """A chunk given to the worker: its outcome, read when first asked for."""

    def __init__(self, worker: InWorker, records: Records) -> None:
        self._worker, self._records = worker, records
        self._outcome: Outcome | None = None

    def result(self) -> Outcome:
        if self._outcome is None:
            self._outcome = self._worker.receive(self._records)
            self._records = ()
        return self._outcome


def _check(records: Records, ontology: list[ox.Quad], types: dict[str, set[str]]) -> Outcome:
    from cfkb.io.importcheck import records_context, violations_in

    return violations_in([], records_context(records, types), ontology, records)


def _serve(conn: Connection) -> None:
    """The worker: the first message starts it, each next one is a chunk, answered in turn."""
    try:
        ontology, types = conn.recv()
        while True:
            (records,) = conn.recv()
            conn.send(_check(records, ontology, types))
    except EOFError:
        return  # the importer is done (or gone)


if __name__ == "__main__":
    from multiprocessing.connection import Connection

    _serve(Connection(int(sys.argv[2])))
