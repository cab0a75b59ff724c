"""The data-quality shapes read into checks: what :mod:`cfkb.shacl.shapecheck` evaluates.

SHACL Core property constraints become :class:`PropertyCheck`s and SHACL-SPARQL
constraints :class:`SparqlCheck`s; a shape using a feature not compiled here
makes :func:`compile_shapes` raise :class:`NotCompilableError`, and callers
fall back to pySHACL.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection

from cfkb.model.vocabulary import (
    PREFIXES,
    RDF_NS,
    RDFS_NS,
    SH_NS,
    XSD_NS,
)
from cfkb.shacl.validate import load_shapes
from cfkb.store.backend import Term

SH = rdflib.Namespace(SH_NS)
_RDF_TYPE = RDF_NS + "type"
_SUBCLASS = RDFS_NS + "subClassOf"

#: Parameters of a property shape this module evaluates (others: not compilable).
_PROPERTY_PARAMS = {
    SH.path, SH.minCount, SH.maxCount, SH.nodeKind, SH.datatype, SH["class"], SH["in"], SH.minInclusive,
    SH.maxInclusive, SH.message, SH.name, SH.description, SH.severity, SH.order, SH.group,
    rdflib.RDFS.comment, rdflib.RDFS.label, rdflib.RDF.type,
}
_NODE_PARAMS = {
    SH.targetClass, SH.property, SH.sparql, SH.message, SH.severity, SH.name, SH.description,
    rdflib.RDFS.comment, rdflib.RDFS.label, rdflib.RDF.type, SH.deactivated,
}


class NotCompilableError(Exception):
    """The shapes use a SHACL feature this module does not evaluate."""


@dataclass(frozen=True)
class PropertyCheck:
    """One property shape of a node shape, as plain values."""

    target: str
    path: str
    min_count: int | None = None
    max_count: int | None = None
    node_kind: str | None = None
    datatype: str | None = None
    cls: str | None = None
    allowed: frozenset[Term] | None = None
    min_inclusive: decimal.Decimal | None = None
    max_inclusive: decimal.Decimal | None = None
    message: str | None = None
    shape: str = ""


@dataclass(frozen=True)
class SparqlCheck:
    """One SHACL-SPARQL constraint, compiled to a single set-at-a-time query."""

    target: str
    query: str
    message: str
    prefixes: tuple[tuple[str, str], ...]
    shape: str = ""


@dataclass
class CompiledShapes:
    """A shapes graph ready to run on a batch of quads."""

    properties: list[PropertyCheck] = field(default_factory=list)
    sparql: list[SparqlCheck] = field(default_factory=list)

    @property
    def targets(self) -> set[str]:
        return {c.target for c in self.properties} | {c.target for c in self.sparql}


def _term(node: rdflib.term.Node) -> Term:
    if isinstance(node, rdflib.URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, rdflib.Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype or XSD_NS + "string")))
    raise NotCompilableError(f"sh:in member {node!r} is not an IRI or literal")


def _number(node: rdflib.term.Node | None) -> decimal.Decimal | None:
    if node is None:
        return None
    try:
        return decimal.Decimal(str(node))
    except decimal.InvalidOperation:
        raise NotCompilableError(f"bound {node!r} is not a number") from None


def compile_shapes(g: rdflib.Graph) -> CompiledShapes:
    """Read the node shapes of ``g`` into checks.

    Raises:
        NotCompilableError: a shape uses a feature not evaluated here.
    """
    out = CompiledShapes()
    shapes = set(g.subjects(SH.targetClass, None))
    for shape in sorted(shapes, key=str):
        if g.value(shape, SH.deactivated) == rdflib.Literal(True):
            continue
        unknown = {p for p in g.predicates(shape, None) if p not in _NODE_PARAMS}
        if unknown:
            raise NotCompilableError(f"shape {shape} uses {sorted(map(str, unknown))}")
        for target in g.objects(shape, SH.targetClass):
            for prop in g.objects(shape, SH.property):
                out.properties.append(_property(g, str(target), prop, str(shape)))
            for constraint in g.objects(shape, SH.sparql):
                out.sparql.append(_sparql(g, str(target), constraint, str(shape)))
    return out


def _property(g: rdflib.Graph, target: str, prop: rdflib.term.Node, shape: str) -> PropertyCheck:
    unknown = {p for p in g.predicates(prop, None) if p not in _PROPERTY_PARAMS}
    if unknown:
        raise NotCompilableError(f"property shape of {shape} uses {sorted(map(str, unknown))}")
    path = g.value(prop, SH.path)
    if not isinstance(path, rdflib.URIRef):
        raise NotCompilableError(f"property shape of {shape} has a complex sh:path")
    severity = g.value(prop, SH.severity)
    if severity is not None and severity != SH.Violation:
        raise NotCompilableError(f"property shape of {shape} has severity {severity}")

    def opt(p: rdflib.URIRef) -> str | None:
        v = g.value(prop, p)
        return None if v is None else str(v)

    members = g.value(prop, SH["in"])
    min_count, max_count = g.value(prop, SH.minCount), g.value(prop, SH.maxCount)
    return PropertyCheck(
        target=target,
        path=str(path),
        min_count=int(str(min_count)) if min_count is not None else None,
        max_count=int(str(max_count)) if max_count is not None else None,
        node_kind=opt(SH.nodeKind),
        datatype=opt(SH.datatype),
        cls=opt(SH["class"]),
        allowed=frozenset(_term(m) for m in Collection(g, members)) if members is not None else None,
        min_inclusive=_number(g.value(prop, SH.minInclusive)),
        max_inclusive=_number(g.value(prop, SH.maxInclusive)),
        message=opt(SH.message),
        shape=shape,
    )


def _sparql(g: rdflib.Graph, target: str, constraint: rdflib.term.Node, shape: str) -> SparqlCheck:
    select = g.value(constraint, SH.select)
    if select is None:
        raise NotCompilableError(f"SPARQL constraint of {shape} has no sh:select")
    text = str(select)
    if re.search(r"\$(currentShape|shapesGraph|value|PATH)\b", text):
        raise NotCompilableError(f"SPARQL constraint of {shape} uses a pre-bound variable other than $this")
    prefixes = dict(PREFIXES)
    for decl_holder in g.objects(constraint, SH.prefixes):
        for decl in g.objects(decl_holder, SH.declare):
            prefixes[str(g.value(decl, SH.prefix))] = str(g.value(decl, SH.namespace))
    text = text.replace("$this", "?this")
    where = re.search(r"WHERE\s*\{", text, re.IGNORECASE)
    if where is None:
        raise NotCompilableError(f"SPARQL constraint of {shape} has no WHERE clause")
    # The target becomes a pattern, so one query finds every focus node at once.
    query = (f"{text[:where.end()]} ?this <{RDF_NS}type>/<{RDFS_NS}subClassOf>* <{target}> . "
             f"{text[where.end():]}").strip()
    message = g.value(constraint, SH.message)
    return SparqlCheck(target, query, str(message) if message is not None else "SPARQL constraint violated",
                       tuple(sorted(prefixes.items())), shape)


@lru_cache(maxsize=8)
def compiled(paths: tuple[Path, ...]) -> CompiledShapes:
    """The compiled shapes of the given files (compiled once per process).

    Raises:
        NotCompilableError: see :func:`compile_shapes`.
    """

    return compile_shapes(load_shapes(paths))
