"""The base as the export reads it: every triple as N-Triples strings, grouped by subject.

:func:`read_base` reads the base once as N-Triples (pyoxigraph's writer
escapes every term) piece by piece as the dump comes, and keeps each term as
its N-Triples string: a :data:`Graph` maps a subject to its (predicate,
object) :data:`Pairs`. The selection, the TLP release and the writers all work
on these strings; the ``NT_*`` names are the spellings of the terms they look
for, and :func:`nt_iri` and :func:`literal` spell others.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
import threading
from pathlib import Path

import pyoxigraph as ox

from cfkb.model.vocabulary import CFID_NS, CFKB, INTERNAL_GRAPHS, PROV, RDF
from cfkb.store.backend import Backend, GraphName
from cfkb.store.remote import RemoteStore

Pairs = list[tuple[str, str]]
Graph = dict[str, Pairs]

#: The accepted view's statements (one per asserted triple) are minted under this.
ACCEPTED_PREFIX = CFID_NS + "accepted/"


def nt_iri(term: ox.NamedNode) -> str:
    """An IRI as N-Triples writes it."""
    return f"<{term.value}>"


def literal(value: str, datatype: ox.NamedNode | None = None) -> str:
    """A literal as N-Triples writes it (a plain string without ``datatype``)."""
    return str(ox.Literal(value, datatype=datatype) if datatype else ox.Literal(value))


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
NT_SUBJECT, NT_PREDICATE, NT_OBJECT = nt_iri(RDF.subject), nt_iri(RDF.predicate), nt_iri(RDF.object)
NT_NEGATED, NT_STATED_IN, NT_STATED_ON = nt_iri(CFKB.negated), nt_iri(CFKB.statedIn), nt_iri(CFKB.statedOn)
NT_ATTRIBUTED, NT_CITED_IN, NT_IN_AREA = nt_iri(PROV.wasAttributedTo), nt_iri(CFKB.citedIn), nt_iri(CFKB.inArea)
NT_INCLUDES, NT_RANK, NT_MODALITY = nt_iri(CFKB.includes), nt_iri(CFKB.rank), nt_iri(CFKB.modality)
NT_PREFERRED, NT_DEPRECATED = nt_iri(CFKB.PreferredRank), nt_iri(CFKB.DeprecatedRank)
NT_TRUE = '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'
NT_STATEMENT = f"<{RDF.Statement.value}>"
NT_SUPPORTED_BY = nt_iri(CFKB.supportedBy)


def read_graph(store: Backend) -> Graph:
    """Every triple of the base but the ontology, grouped by subject, as N-Triples strings.

    Named graphs other than the ontology (a partner's nanopublications, say)
    are read into the same graph.
    """
    return read_base(store)[0]


def read_base(store: Backend) -> tuple[Graph, bool]:
    """:func:`read_graph`, and whether the base may hold blank nodes (False
    only when no ``_:`` occurs anywhere in it, so the blank-node passes can be
    skipped)."""
    reader = Reader()
    read_into(store, reader)
    return reader.graph, reader.bnodes


def read_into(store: Backend, reader: Reader, directory: Path | None = None) -> None:
    """The base's dump, every graph but the ontology (and the marks in the base's own graphs), into
    ``reader``; a base on this machine is dumped through a file in ``directory`` (see :func:`_dump`)."""
    with contextlib.ExitStack() as stack:
        if directory is None and isinstance(store, ox.Store):
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cfkb-dump-")))
        _dump(store, reader, ox.DefaultGraph(), directory)
        for g in store.named_graphs():
            if g not in INTERNAL_GRAPHS:
                _dump(store, reader, g, directory)
            else:  # a marking counts wherever it is (only the marking is read from the base's own graphs)
                marks = [ox.Triple(q.subject, q.predicate, q.object)
                         for q in store.quads_for_pattern(None, CFKB.tlp, None, g)]
                if marks:
                    reader.write(ox.serialize(marks, format=ox.RdfFormat.N_TRIPLES) or b"")
    reader.close()


def _dump(store: Backend, reader: Reader, graph: GraphName, directory: Path | None) -> None:
    """One graph of the base as N-Triples, written piece by piece into ``reader``."""
    if isinstance(store, ox.Store):
        assert directory is not None
        _dump_beside(store, reader, graph, directory)
    elif isinstance(store, RemoteStore):
        store.dump(reader, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
    else:  # pragma: no cover - the two backends there are
        raise TypeError(f"cannot read a graph from {type(store).__name__}")


#: The dump file is read this much at a time; what was read is given back to the disk every
#: :data:`_RELEASE` bytes, so the file never takes the whole graph's size on disk.
_PIECE = 1 << 20
_RELEASE = 64 << 20
#: How long (seconds) the reading waits for the dump to write more.
_WAIT = 0.005


def _dump_beside(store: ox.Store, reader: Reader, graph: GraphName, directory: Path) -> None:
    """pyoxigraph writes the graph to a file in ``directory`` from a thread of its own (it lets go of
    Python while it writes a file, and not while it writes to a Python object), and this thread reads
    the file as it grows: the dump and the reading of its lines share the machine's cores."""
    fd, name = tempfile.mkstemp(prefix="dump-", suffix=".nt", dir=directory)
    failed: list[BaseException] = []
    done = threading.Event()

    def dump() -> None:
        try:
            store.dump(output=name, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
        except BaseException as exc:  # noqa: BLE001 - raised by the reading thread
            failed.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=dump, name="cfkb-dump", daemon=True)
    try:
        with os.fdopen(fd, "rb") as f:  # pyoxigraph truncates the same file: this handle reads what it writes
            writer.start()
            given_back = 0
            while True:
                data = f.read(_PIECE)
                if not data:
                    if not done.is_set():
                        done.wait(_WAIT)
                        continue
                    data = f.read()  # what was written since the last read; then the file is whole
                    if not data:
                        break
                reader.write(data)
                if f.tell() - given_back >= _RELEASE:
                    given_back = _give_back(f.fileno(), f.tell())
    except BaseException:
        # the reading failed or was interrupted: a dump cannot be stopped, so its thread writes on
        # (a daemon, it ends with the process) into a file no longer in the folder
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    writer.join()
    os.unlink(name)
    if failed:
        raise failed[0]


_libc: ctypes.CDLL | None = None
_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE


def _give_back(fd: int, upto: int) -> int:
    """Free the disk blocks of a file's first ``upto`` bytes (already read), where the system can
    (Linux's ``fallocate``); returns how far the file is given back."""
    global _libc
    with contextlib.suppress(OSError, AttributeError):
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.fallocate(fd, _PUNCH_HOLE, ctypes.c_longlong(0), ctypes.c_longlong(upto))
    return upto


class Reader:
    """N-Triples lines, as pyoxigraph's dump writes them piece by piece, into a :data:`Graph`.

    The dump is never held whole: each piece's complete lines are added as
    they come.
    """

    def __init__(self) -> None:
        self.graph: Graph = {}
        self.bnodes = False
        self._rest = b""
        # one string per distinct predicate, IRI and short literal (a date, a flag): claims repeat them
        self._terms: dict[str, str] = {}

    def write(self, data: bytes) -> int:
        # pyoxigraph ends every line with " .\n" and escapes newlines inside literals
        end = data.rfind(b" .\n")
        if end < 0:
            self._rest += data
            return len(data)
        piece, self._rest = self._rest + data[: end + 3], data[end + 3:]
        self._add(piece)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._rest:  # a dump always ends a line; this is a last line without one
            self._add(self._rest + b" .\n")
            self._rest = b""

    def _add(self, piece: bytes) -> None:
        self.bnodes = self.bnodes or b"_:" in piece
        graph = self.graph
        get = graph.get
        term = self._terms.setdefault
        lines = piece.decode("utf-8").split(" .\n")
        lines.pop()  # what follows the last line
        for line in lines:
            s, p, o = line.split(" ", 2)
            pair = (term(p, p), term(o, o) if o[0] == "<" or len(o) < 80 else o)
            pairs = get(s)
            if pairs is None:
                graph[s] = [pair]
            else:
                pairs.append(pair)


def data_quads(store: ox.Store) -> list[ox.Quad]:
    """Everything but the ontology graph."""
    return [q for q in store if q.graph_name not in INTERNAL_GRAPHS]

