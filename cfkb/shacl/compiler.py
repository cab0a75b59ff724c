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
from typing import Any

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.model.vocabulary import (
    PREFIXES,
    RDF_NS,
    RDFS_NS,
    SH_NS,
)
from cfkb.store.backend import Term


def _sh(name: str) -> ox.NamedNode:
    return ox.NamedNode(SH_NS + name)


_RDF_TYPE = RDF_NS + "type"
_SUBCLASS = RDFS_NS + "subClassOf"
_LABEL, _COMMENT, _TYPE = (ox.NamedNode(RDFS_NS + "label"), ox.NamedNode(RDFS_NS + "comment"),
                           ox.NamedNode(_RDF_TYPE))
_FIRST, _REST, _NIL = (ox.NamedNode(RDF_NS + n) for n in ("first", "rest", "nil"))

#: Parameters of a property shape this module evaluates (others: not compilable).
_PROPERTY_PARAMS = {
    *map(_sh, ("path", "minCount", "maxCount", "nodeKind", "datatype", "class", "in", "minInclusive",
               "maxInclusive", "message", "name", "description", "severity", "order", "group")),
    _COMMENT, _LABEL, _TYPE,
}
_NODE_PARAMS = {
    *map(_sh, ("targetClass", "property", "sparql", "message", "severity", "name", "description", "deactivated")),
    _COMMENT, _LABEL, _TYPE,
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


def read_shapes(paths: tuple[Path, ...]) -> ox.Store:
    """The shape files' triples in one in-memory store.

    Raises:
        InputError: a file cannot be read or does not parse (named, with the line).
    """
    shapes = ox.Store()
    for path in paths:
        try:
            shapes.load(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=Path(path).resolve().as_uri())
        except SyntaxError as exc:
            where = f"{path}:{exc.lineno}:{exc.offset}" if exc.lineno else str(path)
            raise InputError(f"{where}: the shapes do not parse: {exc.msg}; fix the Turtle there") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: the shapes cannot be read: {exc}") from None
    return shapes


class _Graph:
    """The reads of a shapes graph the compiler makes."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def objects(self, s: ox.NamedNode | ox.BlankNode, p: ox.NamedNode) -> list[Any]:
        return [q.object for q in self.store.quads_for_pattern(s, p, None, None)]

    def subjects(self, p: ox.NamedNode) -> set[ox.NamedNode | ox.BlankNode]:
        return {q.subject for q in self.store.quads_for_pattern(None, p, None, None)
                if isinstance(q.subject, (ox.NamedNode, ox.BlankNode))}

    def predicates(self, s: ox.NamedNode | ox.BlankNode) -> set[ox.NamedNode]:
        return {q.predicate for q in self.store.quads_for_pattern(s, None, None, None)}

    def value(self, s: ox.NamedNode | ox.BlankNode, p: ox.NamedNode) -> Any:
        return next(iter(self.objects(s, p)), None)

    def items(self, node: Any) -> list[Any]:
        """The members of an RDF list."""
        out = []
        while isinstance(node, (ox.NamedNode, ox.BlankNode)) and node != _NIL:
            out.append(self.value(node, _FIRST))
            node = self.value(node, _REST)
        return out


def _term(node: Any) -> Term:
    if isinstance(node, (ox.NamedNode, ox.Literal)):
        return node
    raise NotCompilableError(f"sh:in member {node!r} is not an IRI or literal")


def _number(node: Any) -> decimal.Decimal | None:
    if node is None:
        return None
    try:
        return decimal.Decimal(node.value)
    except decimal.InvalidOperation:
        raise NotCompilableError(f"bound {node!r} is not a number") from None


def _text(node: Any) -> str | None:
    return None if node is None else str(node.value)


def compile_shapes(shapes: ox.Store) -> CompiledShapes:
    """Read the node shapes of ``shapes`` into checks.

    Raises:
        NotCompilableError: a shape uses a feature not evaluated here.
    """
    g = _Graph(shapes)
    out = CompiledShapes()
    for shape in sorted(g.subjects(_sh("targetClass")), key=str):
        deactivated = g.value(shape, _sh("deactivated"))
        if isinstance(deactivated, ox.Literal) and deactivated.value in ("true", "1"):
            continue
        unknown = {p.value for p in g.predicates(shape) if p not in _NODE_PARAMS}
        if unknown:
            raise NotCompilableError(f"shape {shape.value} uses {sorted(unknown)}")
        for target in g.objects(shape, _sh("targetClass")):
            for prop in g.objects(shape, _sh("property")):
                out.properties.append(_property(g, target.value, prop, shape.value))
            for constraint in g.objects(shape, _sh("sparql")):
                out.sparql.append(_sparql(g, target.value, constraint, shape.value))
    return out


def _property(g: _Graph, target: str, prop: Any, shape: str) -> PropertyCheck:
    unknown = {p.value for p in g.predicates(prop) if p not in _PROPERTY_PARAMS}
    if unknown:
        raise NotCompilableError(f"property shape of {shape} uses {sorted(unknown)}")
    path = g.value(prop, _sh("path"))
    if not isinstance(path, ox.NamedNode):
        raise NotCompilableError(f"property shape of {shape} has a complex sh:path")
    severity = g.value(prop, _sh("severity"))
    if severity is not None and severity != _sh("Violation"):
        raise NotCompilableError(f"property shape of {shape} has severity {severity.value}")

    def opt(name: str) -> str | None:
        return _text(g.value(prop, _sh(name)))

    members = g.value(prop, _sh("in"))
    min_count, max_count = g.value(prop, _sh("minCount")), g.value(prop, _sh("maxCount"))
    return PropertyCheck(
        target=target,
        path=path.value,
        min_count=int(min_count.value) if min_count is not None else None,
        max_count=int(max_count.value) if max_count is not None else None,
        node_kind=opt("nodeKind"),
        datatype=opt("datatype"),
        cls=opt("class"),
        allowed=frozenset(_term(m) for m in g.items(members)) if members is not None else None,
        min_inclusive=_number(g.value(prop, _sh("minInclusive"))),
        max_inclusive=_number(g.value(prop, _sh("maxInclusive"))),
        message=opt("message"),
        shape=shape,
    )


def _sparql(g: _Graph, target: str, constraint: Any, shape: str) -> SparqlCheck:
    select = g.value(constraint, _sh("select"))
    if select is None:
        raise NotCompilableError(f"SPARQL constraint of {shape} has no sh:select")
    text = str(select.value)
    if re.search(r"\$(currentShape|shapesGraph|value|PATH)\b", text):
        raise NotCompilableError(f"SPARQL constraint of {shape} uses a pre-bound variable other than $this")
    prefixes = dict(PREFIXES)
    for decl_holder in g.objects(constraint, _sh("prefixes")):
        for decl in g.objects(decl_holder, _sh("declare")):
            prefixes[str(_text(g.value(decl, _sh("prefix"))))] = str(_text(g.value(decl, _sh("namespace"))))
    text = text.replace("$this", "?this")
    where = re.search(r"WHERE\s*\{", text, re.IGNORECASE)
    if where is None:
        raise NotCompilableError(f"SPARQL constraint of {shape} has no WHERE clause")
    # The target becomes a pattern, so one query finds every focus node at once.
    query = (f"{text[:where.end()]} ?this <{RDF_NS}type>/<{RDFS_NS}subClassOf>* <{target}> . "
             f"{text[where.end():]}").strip()
    message = _text(g.value(constraint, _sh("message")))
    return SparqlCheck(target, query, message if message is not None else "SPARQL constraint violated",
                       tuple(sorted(prefixes.items())), shape)


@lru_cache(maxsize=8)
def compiled(paths: tuple[Path, ...]) -> CompiledShapes:
    """The compiled shapes of the given files (compiled once per process).

    Raises:
        NotCompilableError: see :func:`compile_shapes`.
        InputError: a shape file does not parse.
    """
    return compile_shapes(read_shapes(paths))
