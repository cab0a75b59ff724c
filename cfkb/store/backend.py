"""The storage interface: what cfkb needs from a quad store.

:class:`Backend` is the subset of :class:`pyoxigraph.Store` that the library
uses, written as a :class:`typing.Protocol`. Two implementations satisfy it:

* :class:`pyoxigraph.Store` itself, the embedded on-disk (or in-memory) store;
* :class:`cfkb.store.remote.RemoteStore`, a SPARQL 1.1 Protocol client for a shared
  server (Oxigraph, Fuseki, GraphDB, Virtuoso).

Results are pyoxigraph objects in both cases, so code written against one
runs unchanged against the other. Anything beyond this list (``bulk_load``,
``backup``...) is embedded-only and must not be called through
``KnowledgeBase.store``.

>>> import pyoxigraph as ox
>>> isinstance(ox.Store(), Backend)
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Protocol, runtime_checkable

import pyoxigraph as ox

Subject = ox.NamedNode | ox.BlankNode | ox.Triple
Object = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
GraphName = ox.NamedNode | ox.BlankNode | ox.DefaultGraph
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
QueryResult = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples


def value_of(term: Term) -> str:
    """A term's text: an IRI, a blank node's label, a literal's lexical form (a quoted triple's N-Triples form).

    >>> value_of(ox.Literal("x")), value_of(ox.NamedNode("http://example.org/a"))
    ('x', 'http://example.org/a')
    """
    return str(term) if isinstance(term, ox.Triple) else term.value


#: Up to this many predicates, :func:`quads_of_subjects` looks each up rather than reading every
#: quad of the subject (a claim has some 20): 3 of 457 claims' fields, 20 ms against 80 ms.
_FEW_PREDICATES = 4


def quads_of_subjects(store: object, subjects: Iterable[ox.NamedNode],
                      predicates: Iterable[ox.NamedNode] | None = None) -> Iterator[ox.Quad]:
    """The quads of many subjects (only those with one of ``predicates``, if given):
    one lookup each on the embedded store, batched requests on a server
    (:meth:`cfkb.store.remote.RemoteStore.quads_for_subjects`), where a request each
    would cost a round trip each."""
    batched = getattr(store, "quads_for_subjects", None)
    if batched is not None:
        yield from batched(subjects, predicates)
        return
    keep = None if predicates is None else list(predicates)
    lookup = store.quads_for_pattern  # type: ignore[attr-defined]
    if keep is not None and len(keep) <= _FEW_PREDICATES:
        # a lookup per subject and predicate: each quad read from disk costs a lookup per term
        for subject in subjects:
            for predicate in keep:
                yield from lookup(subject, predicate, None, None)
        return
    wanted = None if keep is None else set(keep)
    for subject in subjects:
        for q in lookup(subject, None, None, None):
            if wanted is None or q.predicate in wanted:
                yield q


@runtime_checkable
class Backend(Protocol):
    """A quad store cfkb can work on (the subset of :class:`pyoxigraph.Store` it uses).

    Every write method is atomic: either all of it happens or none.
    """

    def query(self, query: str, *, base_iri: str | None = None, prefixes: dict[str, str] | None = None,
              use_default_graph_as_union: bool = False,
              substitutions: dict[ox.Variable, Term] | None = None) -> QueryResult:
        """Run a SPARQL query; ``substitutions`` binds variables to values.

        Raises:
            SyntaxError: the query is malformed.
        """
        ...

    def update(self, update: str, *, base_iri: str | None = None, prefixes: dict[str, str] | None = None) -> None:
        """Run a SPARQL update, atomically."""
        ...

    def quads_for_pattern(self, subject: Subject | None, predicate: ox.NamedNode | None, object: Object | None,
                          graph_name: GraphName | None = None) -> Iterator[ox.Quad]:
        """The quads matching a pattern (``None`` matches anything, in any graph)."""
        ...

    def __iter__(self) -> Iterator[ox.Quad]:
        """Every quad in every graph."""
        ...

    def extend(self, quads: Iterable[ox.Quad]) -> None:
        """Add quads, atomically."""
        ...

    def load(self, input: bytes | str | IO[bytes] | IO[str] | None = None, format: ox.RdfFormat | None = None, *,
             path: str | None = None, base_iri: str | None = None, to_graph: GraphName | None = None,
             lenient: bool = False) -> None:
        """Parse RDF and add it, atomically."""
        ...

    def remove_graph(self, graph_name: GraphName) -> None:
        """Drop a named graph (or clear the default graph)."""
        ...

    def contains_named_graph(self, graph_name: GraphName) -> bool:
        ...

    def named_graphs(self) -> Iterator[ox.NamedNode | ox.BlankNode]:
        """The names of the graphs that hold quads."""
        ...

    def dump(self, output: None = None, format: ox.RdfFormat | None = None, *,
             from_graph: GraphName | None = None) -> bytes | None:
        """One graph serialised in a triple format."""
        ...

    def clear(self) -> None:
        """Remove every quad in every graph."""
        ...

    def flush(self) -> None:
        """Make earlier writes durable (a no-op where they already are)."""
        ...
