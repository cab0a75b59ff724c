"""The import's SHACL check, and where each problem it finds is in the input.

:func:`check_shapes` checks new data with the types of what it mentions;
:func:`shape_violations` and :func:`shape_error` are its two halves, for a
check made chunk by chunk (:mod:`cfkb.io.importstream`), and
:func:`shape_context` and :func:`violations_in` the two halves of the first,
the second reading no base (:mod:`cfkb.io.chunkwork`). An :class:`Origin`
says which file, row or claim node a claim came from, so a violation is
reported at its ``file:line:column``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyoxigraph as ox

from cfkb.errors import ShapeError
from cfkb.io.rdfio import locate
from cfkb.io.tables import ENTITY_COLUMNS, Row
from cfkb.model.spelling import expand_curie
from cfkb.model.vocabulary import CFKB, ONTOLOGY_GRAPH, PROV, RDF, SCHEMA, Claim, curie
from cfkb.resources import shapes_dir
from cfkb.store.core import KnowledgeBase

if TYPE_CHECKING:
    from cfkb.shacl.validate import Violation

#: The table column a claim property comes from (to point at the offending cell).
_PATH_COLUMNS = {
    RDF.subject.value: "subject", RDF.predicate.value: "predicate", RDF.object.value: "object",
    CFKB.negated.value: "negated", CFKB.statedIn.value: "source", CFKB.statedOn.value: "date",
    CFKB.citedIn.value: "cited_in", PROV.wasAttributedTo.value: "speaker", CFKB.inArea.value: "area",
    CFKB.election.value: "election", CFKB.quote.value: "quote", CFKB.paraphrase.value: "paraphrase",
    CFKB.reliability.value: "reliability",
    CFKB.credibility.value: "credibility", CFKB.tlp.value: "tlp", SCHEMA.url.value: "url",
}
#: Claim field holding each entity column's IRI.
COLUMN_FIELDS = {"subject": "subject", "object": "object", "source": "source", "area": "area",
                  "election": "election", "speaker": "speaker", "cited_in": "cited_in"}


@dataclass
class Origin:
    """Where a claim came from: a table row, or a claim node in an RDF file."""

    path: str
    row: Row | None = None
    data: bytes | None = None
    node: str | None = None
    claim: Claim | None = None

    def where(self, column: str | None = None) -> tuple[int | None, int | None]:
        """Line and column of the claim (of one of its cells, for a table row)."""
        if self.row is not None:
            cell = self.row.cells.get(column) if column else None
            return (cell.line, cell.column) if cell else (self.row.line, self.row.column)
        if self.data is not None and self.node:
            return locate(self.data, self.node)
        return None, None


def check_shapes(kb: KnowledgeBase, additions: list[ox.Quad], origins: dict[str, Origin] | None = None,
                 records: Sequence[tuple[str, Claim]] = ()) -> None:
    """SHACL-check new data together with the types of what it mentions.

    ``records`` are new claims as (IRI, record): part of the data, checked
    without making their quads where the compiled check can (see
    :func:`cfkb.shacl.shapecheck.check`).

    The shapes of ``shapes/claims.ttl`` decide. They run compiled
    (:mod:`cfkb.shacl.shapecheck`); pySHACL runs them only if they use a feature
    the compiled checker does not evaluate.

    Raises:
        ShapeError: the first violation, located at its file, line and
            column when the claim came from a file.
    """
    found = shape_violations(kb, additions, records)
    if found:
        raise shape_error(found, origins or {})


def shape_violations(kb: KnowledgeBase, additions: list[ox.Quad], records: Sequence[tuple[str, Claim]] = ()
                     ) -> list[Violation]:
    """What :func:`check_shapes` finds, as violations (nothing raised)."""
    return violations_in(additions, shape_context(kb, additions, records), list(kb.quads(ONTOLOGY_GRAPH)), records)


def shape_context(kb: KnowledgeBase, additions: Sequence[ox.Quad], records: Sequence[tuple[str, Claim]] = ()
                  ) -> list[ox.Quad]:
    """The ``rdf:type`` quads of what new data mentions, from the base's entity index."""
    from cfkb.shacl.shapecheck import record_nodes, type_quads

    types = kb.entity_index().types
    mentioned = {q.object for q in additions if isinstance(q.object, ox.NamedNode)}
    mentioned |= {q.subject for q in additions if isinstance(q.subject, ox.NamedNode)}
    mentioned |= record_nodes(records, types)
    return type_quads(mentioned, types)


def records_context(records: Sequence[tuple[str, Claim]], types: dict[str, set[str]]) -> list[ox.Quad]:
    """:func:`shape_context` of claim records alone, from the entity index's types (no base read)."""
    from cfkb.shacl.shapecheck import record_nodes, type_quads

    return type_quads(record_nodes(records, types), types)


def violations_in(additions: list[ox.Quad], context: Sequence[ox.Quad], ontology: Sequence[ox.Quad],
                  records: Sequence[tuple[str, Claim]] = ()) -> list[Violation]:
    """The shapes' violations by new data, given the types of what it mentions
    (:func:`shape_context`) and the ontology: no base is read, so a second
    process can check a chunk (:mod:`cfkb.io.chunkwork`)."""
    from cfkb.shacl.compiler import NotCompilableError, compiled
    from cfkb.shacl.shapecheck import check
    from cfkb.shacl.validate import validate_quads  # deferred: loads rdflib

    paths = (shapes_dir() / "claims.ttl",)
    try:
        shapes = compiled(paths)
    except NotCompilableError:
        quads = additions + [q for iri, claim in records for q in claim.quad_list(iri=iri)]
        return validate_quads([*quads, *context], list(paths))
    return check(shapes, additions, context, ontology, records)


def shape_error(found: Sequence[Violation], origins: dict[str, Origin], count: int | None = None) -> ShapeError:
    """One error for the violations found: the first in file order, every one (up to
    :data:`MAX_DETAILS`) in its details. ``count``: how many there were in all, if
    ``found`` holds only the first ones."""
    count = len(found) if count is None else count
    error = _shape_error(found, origins, count)
    error.count = count  # type: ignore[attr-defined]
    for v in sorted(found, key=lambda v: violation_order(v, origins))[:MAX_DETAILS]:
        error.details.append(str(_shape_error([v], origins)))
    return error


#: Violations listed one by one with ``--verbose``.
MAX_DETAILS = 100


def _shape_error(found: Sequence[Violation], origins: dict[str, Origin], count: int | None = None) -> ShapeError:
    first = min(found, key=lambda v: violation_order(v, origins))
    count = len(found) if count is None else count
    more = f" (and {count - 1} more problem(s))" if count > 1 else ""
    origin = origins.get(first.focus)
    if origin is None:
        return ShapeError(f"{curie(first.focus)}: {first.message}; fix it and import again{more}",
                          "https://www.w3.org/TR/shacl/#validation-report")
    column = _PATH_COLUMNS.get(first.path or "")
    if column is None and first.value is not None and origin.row is not None:
        column = _column_of_value(origin, first.value)
    line, col = origin.where(column)
    if origin.row is None:
        return ShapeError(f"claim {origin.node or curie(first.focus)}: {first.message}; fix the claim and import"
                          f" again{more}", path=origin.path, line=line, column=col)
    cell = origin.row.cells.get(column) if column else None
    named = f" (cell {cell.value!r})" if cell is not None and cell.value != first.value else ""
    return ShapeError(f"{first.message}{named}; fix the row and import again{more}",
                      path=origin.path, line=line, column=col)


def violation_order(v: Violation, origins: dict[str, Origin]) -> tuple[str, int, int, str]:
    origin = origins.get(v.focus)
    if origin is None:
        return ("~", 0, 0, str(v))
    line, col = origin.where(None)
    return (origin.path, line or 0, col or 0, str(v))


def _column_of_value(origin: Origin, value: str) -> str | None:
    """The entity column of a row whose resolved IRI is ``value`` (an IRI or CURIE)."""

    if origin.row is None or origin.claim is None:
        return None
    iri = expand_curie(value) or value
    for column in ENTITY_COLUMNS:
        if column in origin.row.cells and getattr(origin.claim, COLUMN_FIELDS[column]) == iri:
            return column
    return None
