"""The base as the export reads it: every triple as N-Triples strings, grouped by subject.

:func:`read_base` reads the base once as N-Triples (pyoxigraph's writer
escapes every term) piece by piece as the dump comes, and keeps each term as
its N-Triples string: a :data:`Graph` maps a subject to its (predicate,
object) :data:`Pairs`. The selection, the TLP release and the writers all work
on these strings; the ``NT_*`` names are the spellings of the terms they look
for, and :func:`nt_iri` and :func:`literal` spell others.
"""

from __future__ import annotations

from typing import IO, cast

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


def read_into(store: Backend, reader: Reader) -> None:
    """The base's dump, every graph but the ontology (and the marks in the base's own graphs), into ``reader``."""
    _dump(store, reader, ox.DefaultGraph())
    for g in store.named_graphs():
        if g not in INTERNAL_GRAPHS:
            _dump(store, reader, g)
        else:  # a marking counts wherever it is (only the marking is read from the base's own graphs)
            marks = [ox.Triple(q.subject, q.predicate, q.object)
                     for q in store.quads_for_pattern(None, CFKB.tlp, None, g)]
            if marks:
                reader.write(ox.serialize(marks, format=ox.RdfFormat.N_TRIPLES) or b"")
    reader.close()


def _dump(store: Backend, reader: Reader, graph: GraphName) -> None:
    """One graph of the base as N-Triples, written piece by piece into ``reader``."""
    if isinstance(store, ox.Store):
        # pyoxigraph writes to anything with a write method; its stub names IO[bytes]
        store.dump(cast(IO[bytes], reader), format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
    elif isinstance(store, RemoteStore):
        store.dump(reader, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
    else:  # pragma: no cover - the two backends there are
        raise TypeError(f"cannot read a graph from {type(store).__name__}")


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

