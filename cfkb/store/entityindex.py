"""The entity index a :class:`~cfkb.store.core.KnowledgeBase` keeps, and its follow-up after a write.

The index (:class:`cfkb.model.names.EntityIndex`) holds every named entity
that is not a claim: its labels (``rdfs:label``; one in English or with no
language is its preferred name) and ``skos:altLabel`` aliases, its types,
and the ``cfkb:mergedInto`` links of merged duplicates. The base reads it
whole when first asked (:func:`read_index`) and keeps it until a write
changes what it holds; after a write, :func:`follow_write` adds the names
of the entities the write made, so a base of 20k entities is not read again
after each claim, and says when the index must be read again instead.
:func:`labels_of` reads the labels of a few entities alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pyoxigraph as ox

from cfkb.errors import QueryError, UnknownNameError
from cfkb.model.names import EntityIndex, Match
from cfkb.model.vocabulary import CFKB, PREFIXES, RDF, RDFS, SKOS
from cfkb.store.backend import Backend, value_of
from cfkb.store.guard import check_query
from cfkb.store.owntexts import own_query
from cfkb.store.sparqltext import bind_many

_RDF_TYPE, _CLAIM_CLASS, _LABEL, _MERGED_INTO = RDF.type, CFKB.Claim, RDFS.label, CFKB.mergedInto
_NAMING = (_LABEL, SKOS.altLabel)
#: The predicates of what the index holds: a write of one of them changes it.
INDEXED = frozenset((_LABEL, SKOS.altLabel, _RDF_TYPE, _MERGED_INTO))
#: How many entities one :func:`labels_of` request names.
_LABELS_PER_QUERY = 500


class Base(Protocol):
    """What the index is read from: a base's checked queries and its store."""

    store: Backend

    def query(self, sparql: str, bindings: Mapping[str, Any] | None = None, *, union: bool = True) -> Any: ...


def read_index(base: Base) -> EntityIndex:
    """Every named entity with its labels, types and merges, read from the base."""
    index = EntityIndex()
    for sol in base.query(own_query("store_entity_labels"), union=False):
        lit = sol["l"]
        preferred = sol["alt"] is None and lit.language in (None, "en")
        index.add(sol["e"].value, lit.value, preferred=preferred)
    for sol in base.query(own_query("store_entity_types"), union=False):
        if isinstance(sol["e"], ox.NamedNode):
            index.types[sol["e"].value].add(sol["t"].value)
    for q in base.store.quads_for_pattern(None, _MERGED_INTO, None, None):
        index.merged[value_of(q.subject)] = value_of(q.object)
    return index


def match_iri(store: Backend, name: str, iri: str) -> Match:
    """The entity the IRI or CURIE ``name`` (``iri``, expanded) means, as
    :meth:`EntityIndex.lookup` finds it, by a few point lookups alone.

    Raises:
        UnknownNameError: the index would not hold it.
    """
    found = known_entity(store, iri)
    if found is None:
        raise UnknownNameError(name)
    label = labels_of(store, [found]).get(found) or found.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return Match(found, "exact", "CURIE or IRI", label)


def known_entity(store: Backend, iri: str) -> str | None:
    """The entity ``iri`` names, merges followed, if the index would hold it (a
    name or a type, and no claim), found by a few point lookups alone."""
    graph = ox.DefaultGraph()
    node = ox.NamedNode(iri)
    for _ in range(16):  # merges of merges, as the index follows them, never a loop
        into = next(iter(store.quads_for_pattern(node, _MERGED_INTO, None, None)), None)
        if into is None or not isinstance(into.object, ox.NamedNode):
            break
        node = into.object
    types = [q.object for q in store.quads_for_pattern(node, _RDF_TYPE, None, graph)]
    if any(t != _CLAIM_CLASS for t in types):
        return node.value
    if _CLAIM_CLASS not in types and any(
            True for p in _NAMING for _ in store.quads_for_pattern(node, p, None, graph)):
        return node.value
    return None


def labels_of(store: Backend, iris: list[str]) -> dict[str, str]:
    """The display label of each of these entities that has one, as :func:`read_index` picks it,
    read for them alone (a few batched requests on a server, where the whole index is megabytes)."""
    index = EntityIndex()
    text = own_query("store_entity_labels_of")
    check_query(text)
    for start in range(0, len(iris), _LABELS_PER_QUERY):
        bound = bind_many(text, ox.Variable("e"), [ox.NamedNode(i) for i in iris[start:start + _LABELS_PER_QUERY]])
        try:
            found = store.query(bound, prefixes=dict(PREFIXES))
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from exc
        assert isinstance(found, ox.QuerySolutions)
        for sol in found:
            lit = sol["l"]
            index.add(sol["e"].value, lit.value, preferred=sol["alt"] is None and lit.language in (None, "en"))
    return dict(index.labels)


def names_touched(add: list[ox.Quad], remove: list[ox.Quad]) -> bool:
    """Whether a write may change the entity index: it writes or removes a name, a type
    (other than a claim's own) or a merge."""
    return any(q.predicate in INDEXED and not (q.predicate == _RDF_TYPE and q.object == _CLAIM_CLASS)
               for q in (*add, *remove))


def follow_write(index: EntityIndex, store: Backend, add: list[ox.Quad], remove: list[ox.Quad]) -> bool:
    """After a committed write: ``index`` takes the names of entities the write made.

    False when it cannot be kept (any other change to names, types or
    merges): the caller drops it, to be read again when next asked for.
    """
    if index.grown or any(q.predicate in _NAMING or q.predicate in (_RDF_TYPE, _MERGED_INTO) for q in remove):
        return False
    names: list[ox.Quad] = []
    claims = {q.subject for q in add if q.predicate == _RDF_TYPE and q.object == _CLAIM_CLASS}
    for q in add:
        if not isinstance(q.graph_name, ox.DefaultGraph):
            continue
        if q.predicate == _RDF_TYPE and q.object != _CLAIM_CLASS:
            if isinstance(q.subject, ox.NamedNode):
                index.types[q.subject.value].add(value_of(q.object))
        elif q.predicate == _MERGED_INTO:
            if value_of(q.subject) in index.merged:
                return False
            index.merged[value_of(q.subject)] = value_of(q.object)
        elif q.predicate in _NAMING:
            names.append(q)
    named: list[tuple[str, str, bool]] = []
    preferred: set[str] = set()
    for q in names:
        subject, label = q.subject, q.object
        if not isinstance(subject, ox.NamedNode) or subject in claims:
            continue
        if isinstance(label, ox.Literal) and index.labels.get(subject.value) == label.value:
            continue  # its name already (an analyst's record written again with each of their acts)
        if not isinstance(label, ox.Literal) or subject.value in index.labels \
                or any(True for _ in store.quads_for_pattern(subject, _RDF_TYPE, _CLAIM_CLASS, None)):
            return False  # a name for a known entity, or an odd one: read them all again
        best = q.predicate == _LABEL and label.language in (None, "en")
        if best and subject.value in preferred:
            return False  # two labels for one new entity: which one shows is the index's choice
        if best:
            preferred.add(subject.value)
        named.append((subject.value, label.value, best))
    for iri, text, best in sorted(named, key=lambda n: n[2]):  # a preferred label after the others, as it wins
        index.add(iri, text, preferred=best)
    return True
