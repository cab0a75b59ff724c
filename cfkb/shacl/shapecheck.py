"""The data-quality shapes, compiled: SHACL checks fast enough for big imports.

pySHACL (:mod:`cfkb.shacl.validate`) is the reference semantics, but it evaluates
every constraint per focus node in Python over rdflib and takes minutes on a
100k-claim import. The shapes graph is compiled
(:mod:`cfkb.shacl.compiler`) and evaluated here, set-at-a-time:

* SHACL Core property constraints (``sh:property`` with an IRI ``sh:path``
  and ``sh:minCount``, ``sh:maxCount``, ``sh:nodeKind``, ``sh:datatype``,
  ``sh:class``, ``sh:in``, ``sh:minInclusive``, ``sh:maxInclusive``) are
  checked in one pass over the batch, grouped by focus node;
* SHACL-SPARQL constraints (``sh:sparql``) run once each, with ``$this``
  free and the target as a pattern, on an in-memory Oxigraph store holding
  the batch, the types of what it mentions and the ontology.

The shapes still decide: nothing here names a cfkb property. A shape using a
feature this module does not compile makes :func:`compile_shapes` raise
:class:`NotCompilableError`, and callers fall back to pySHACL. A test holds
both to the same results on a set of bad inputs.

Spec: https://www.w3.org/TR/shacl/#core-components-count and
https://www.w3.org/TR/shacl/#sparql-constraints
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import Any

import pyoxigraph as ox

from cfkb.model.vocabulary import CLAIM_PROPERTIES, RDF, SH_NS, XSD_NS, Claim, content_hash, curie
from cfkb.shacl.compiler import _RDF_TYPE, _SUBCLASS, CompiledShapes, PropertyCheck, SparqlCheck
from cfkb.shacl.validate import Violation
from cfkb.store.backend import Term, value_of
from cfkb.store.usercache import read_json, write_json

# -- evaluation ------------------------------------------------------------

_DATE = re.compile(r"-?\d{4,}-\d\d-\d\d(Z|[+-]\d\d:\d\d)?")
_DATETIME = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _well_formed(lit: ox.Literal) -> bool:
    """Whether a literal's lexical form is valid for its datatype (the ones cfkb uses)."""
    dtype = lit.datatype.value
    v = lit.value
    try:
        if dtype == XSD_NS + "date":
            if not _DATE.fullmatch(v):
                return False
            dt.date.fromisoformat(v[:10] if not v.startswith("-") else "0001-01-01")
        elif dtype == XSD_NS + "dateTime":
            if not _DATETIME.fullmatch(v):
                return False
            dt.date.fromisoformat(v[:10])
        elif dtype == XSD_NS + "boolean":
            return v in ("true", "false", "1", "0")
        elif dtype in (XSD_NS + "integer", XSD_NS + "int", XSD_NS + "long"):
            return _INTEGER.fullmatch(v) is not None
        elif dtype == XSD_NS + "decimal":
            return _DECIMAL.fullmatch(v) is not None
    except ValueError:
        return False
    return True


_KINDS: dict[str, tuple[type, ...]] = {
    "IRI": (ox.NamedNode,), "BlankNode": (ox.BlankNode,), "Literal": (ox.Literal,),
    "BlankNodeOrIRI": (ox.BlankNode, ox.NamedNode), "BlankNodeOrLiteral": (ox.BlankNode, ox.Literal),
    "IRIOrLiteral": (ox.NamedNode, ox.Literal),
}


def _kind_ok(value: Term, kind: str) -> bool:
    return isinstance(value, _KINDS.get(kind.rsplit("#", 1)[-1], ()))


def _numeric(value: Term) -> decimal.Decimal | None:
    if not isinstance(value, ox.Literal) or not _well_formed(value):
        return None
    if value.datatype.value.rsplit("#", 1)[-1] not in (
            "integer", "decimal", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
            "double", "float"):
        return None
    try:
        return decimal.Decimal(value.value)
    except decimal.InvalidOperation:
        return None


class _Types:
    """rdf:type with rdfs:subClassOf closure over the batch, its context and the ontology."""

    def __init__(self, quads: Iterable[ox.Quad] = ()) -> None:
        self.types: dict[Term, set[str]] = defaultdict(set)
        self.supers: dict[str, set[str]] = defaultdict(set)
        for q in quads:
            self.add(q)
        self._closure: dict[str, set[str]] = {}

    def add(self, q: ox.Quad) -> None:
        """Take in one ``rdf:type`` or ``rdfs:subClassOf`` quad (others are ignored)."""
        p = q.predicate.value
        if p == _RDF_TYPE and isinstance(q.object, ox.NamedNode):
            self.types[q.subject].add(q.object.value)
        elif p == _SUBCLASS and isinstance(q.object, ox.NamedNode) and isinstance(q.subject, ox.NamedNode):
            self.supers[q.subject.value].add(q.object.value)

    def ancestors(self, cls: str) -> set[str]:
        found = self._closure.get(cls)
        if found is None:
            found, todo = {cls}, [cls]
            while todo:
                for sup in self.supers.get(todo.pop(), ()):
                    if sup not in found:
                        found.add(sup)
                        todo.append(sup)
            self._closure[cls] = found
        return found

    def is_a(self, node: Term, cls: str) -> bool:
        return any(cls in self.ancestors(t) for t in self.types.get(node, ()))


def _fill(template: str, bound: Mapping[str, Term]) -> str:
    """A shape's message with its ``{?name}`` / ``{$name}`` placeholders replaced by the bound values."""
    return re.sub(r"\{[?$](\w+)\}", lambda m: _label(bound.get(m.group(1))), template)


def _label(term: Term | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return curie(term.value)
    return value_of(term)


def check(shapes: CompiledShapes, batch: Sequence[ox.Quad], context: Sequence[ox.Quad] = (),
          ontology: Sequence[ox.Quad] = (), records: Sequence[tuple[str, Claim]] = ()) -> list[Violation]:
    """Violations of the batch against the shapes (the SHACL validation results).

    Focus nodes are the batch's instances of each shape's target class;
    ``context`` (types of entities the batch mentions) and ``ontology``
    (subclass axioms, predicate typing) complete the data graph.
    ``records`` are more of the batch: claims as (IRI, record), standing for
    the quads :meth:`~cfkb.model.vocabulary.Claim.quad_list` makes of them, checked
    without making those quads (see :func:`_check_records`).

    One pass over the quads collects the types, the values of every
    constrained path, and the quads the SPARQL constraints can match (those
    whose predicate they name; all of them if one has a variable predicate).
    """
    type_predicates = {ox.NamedNode(_RDF_TYPE), ox.NamedNode(_SUBCLASS)}
    paths = {ox.NamedNode(c.path) for c in shapes.properties}
    wanted: set[ox.NamedNode] | None = None
    if shapes.sparql:
        wanted = set()
        for c in shapes.sparql:
            predicates = query_predicates(c)
            if predicates is None:
                wanted = None
                break
            wanted |= {ox.NamedNode(p) for p in predicates}
    types = _Types()
    values: dict[Term, dict[str, set[Term]]] = {}
    for_sparql: list[ox.Quad] = []

    def take(quads: Iterable[ox.Quad]) -> None:
        for q in quads:
            p = q.predicate
            if p in type_predicates:
                types.add(q)
            if p in paths:
                by_path = values.get(q.subject)
                if by_path is None:
                    by_path = values[q.subject] = {}
                found = by_path.get(p.value)
                if found is None:
                    by_path[p.value] = {q.object}
                else:
                    found.add(q.object)
            if shapes.sparql and (wanted is None or p in wanted):
                for_sparql.append(q)

    for quads in (batch, context, ontology):
        take(quads)
    if records:
        # a record whose node the quads say more about (or name as a value), or that shares its
        # node with another record, is checked as its quads
        named = {n.value for n in (*values, *types.types) if isinstance(n, ox.NamedNode)}
        named |= {v.value for by_path in values.values() for vs in by_path.values() for v in vs
                  if isinstance(v, ox.NamedNode)}
        seen: set[str] = set()
        for iri, _ in records:
            if iri in seen:
                named.add(iri)
            seen.add(iri)
        if named:
            mixed = [(iri, c) for iri, c in records if iri in named]
            if mixed:
                records = [(iri, c) for iri, c in records if iri not in named]
                take(q for iri, c in mixed for q in c.quad_list(iri=iri))
    found_v: list[Violation] = []
    if shapes.properties:
        found_v += _check_properties(shapes.properties, values, types)
        if records:
            found_v += _check_records(shapes.properties, records, types)
    if shapes.sparql:
        found_v += _check_sparql(shapes.sparql, for_sparql, _record_lines(records, wanted))
    return sorted(set(found_v), key=lambda x: (x.focus, x.path or "", x.message, x.value or ""))


def _present(raw: Any, fields: int) -> bool:
    first = raw[0] if fields > 1 else raw
    return fields == 0 or (first is not None and first != "")


def _make(make: Callable[..., Term], raw: Any, fields: int) -> Term:
    return make(*raw) if fields != 1 else make(raw)


def _check_records(checks: Sequence[PropertyCheck], records: Sequence[tuple[str, Claim]],
                   types: _Types) -> list[Violation]:
    """The property checks on claim records, one column at a time.

    Every record's node is a claim with the record's type, and no quad of
    the batch says more about it (:func:`check` moved those to the quads),
    so each property's values are exactly what :data:`CLAIM_PROPERTIES`
    makes of the record's fields: none or one. A count check therefore
    depends on whether the value is there, and a value check on the value
    alone; each distinct value is checked once and only the records that
    hold a failing one are visited again.
    """
    type_of = {iri: make() for iri, fields, make in CLAIM_PROPERTIES if not fields}
    node_types = {t.value for t in type_of.values() if isinstance(t, ox.NamedNode)}
    ancestors: set[str] = set()
    for t in node_types:
        ancestors |= types.ancestors(t)
    columns = {iri: (len(fields), make) for iri, fields, make in CLAIM_PROPERTIES}
    record_iris = {iri for iri, _ in records}
    raw_columns: dict[str, list[object]] = {}
    claims = [c for _, c in records]
    out: list[Violation] = []
    for c in checks:
        if c.target not in ancestors:
            continue
        counts = (c.min_count is not None and c.min_count > 0) or (c.max_count is not None and c.max_count < 1)
        values = _has_value_checks(c)
        if not counts and not values:
            continue
        column = columns.get(c.path)
        if column is None:  # the records give no value for this path
            if c.min_count is not None and c.min_count > 0:
                out += [_violation(c, ox.NamedNode(iri), "MinCount") for iri, _ in records]
            continue
        nfields, make = column
        raws = raw_columns.get(c.path)
        if raws is None:
            fields = next(f for iri, f, _ in CLAIM_PROPERTIES if iri == c.path)
            raws = raw_columns[c.path] = list(map(attrgetter(*fields), claims)) if fields else [()] * len(claims)
        if counts:
            for (iri, _), raw in zip(records, raws, strict=False):
                n = 1 if _present(raw, nfields) else 0
                if c.min_count is not None and n < c.min_count:
                    out.append(_violation(c, ox.NamedNode(iri), "MinCount"))
                if c.max_count is not None and n > c.max_count:
                    out.append(_violation(c, ox.NamedNode(iri), "MaxCount"))
        if values:
            bad: dict[object, tuple[Term, list[str]]] = {}
            for raw in set(raws):
                if _present(raw, nfields):
                    term = _make(make, raw, nfields)
                    if isinstance(term, ox.NamedNode) and term.value in record_iris:
                        types.types[term] |= node_types  # a claim about a claim
                    problems = _value_problems(c, term, types)
                    if problems:
                        bad[raw] = (term, problems)
            if bad:
                for (iri, _), raw in zip(records, raws, strict=False):
                    hit = bad.get(raw)
                    if hit is not None:
                        out += [_violation(c, ox.NamedNode(iri), component, hit[0]) for component in hit[1]]
    return out


def _record_lines(records: Sequence[tuple[str, Claim]], wanted: set[ox.NamedNode] | None) -> bytes:
    """The records' quads a SPARQL constraint can match, as N-Quads text."""
    if not records:
        return b""
    claims = [c for _, c in records]
    lines: list[str] = []
    for iri, fields, make in CLAIM_PROPERTIES:
        if wanted is not None and ox.NamedNode(iri) not in wanted:
            continue
        n = len(fields)
        raws = list(map(attrgetter(*fields), claims)) if fields else [()] * len(claims)
        texts = {raw: f" <{iri}> {_make(make, raw, n)} .\n" for raw in set(raws) if _present(raw, n)}
        lines += ["<" + node + ">" + texts[raw] for (node, _), raw in zip(records, raws, strict=False) if raw in texts]
    return "".join(lines).encode("utf-8")


def _check_properties(checks: Sequence[PropertyCheck], values: dict[Term, dict[str, set[Term]]],
                      types: _Types) -> list[Violation]:
    targets = {c.target for c in checks}
    focus_of: dict[str, list[Term]] = {t: [] for t in targets}
    hits: dict[frozenset[str], set[str]] = {}
    for node, node_types in types.types.items():
        key = frozenset(node_types)
        hit = hits.get(key)
        if hit is None:
            ancestors: set[str] = set()
            for t in node_types:
                ancestors |= types.ancestors(t)
            hit = hits[key] = targets & ancestors
        for t in hit:
            focus_of[t].append(node)
    out: list[Violation] = []
    empty: dict[str, set[Term]] = {}
    no_values: set[Term] = set()
    for target, nodes in focus_of.items():
        # a value's problems depend on the check and the value only: batches repeat values a lot
        plan: list[tuple[str, int | None, int | None, dict[Term, list[str]] | None, PropertyCheck]] = [
            (c.path, c.min_count, c.max_count, {} if _has_value_checks(c) else None, c)
            for c in checks if c.target == target]
        for node in nodes:
            by_path = values.get(node, empty)
            for path, min_count, max_count, seen, c in plan:
                vals = by_path.get(path, no_values)
                n = len(vals)
                if min_count is not None and n < min_count:
                    out.append(_violation(c, node, "MinCount"))
                if max_count is not None and n > max_count:
                    out.append(_violation(c, node, "MaxCount"))
                if seen is not None:
                    for v in vals:
                        problems = seen.get(v)
                        if problems is None:
                            problems = seen[v] = _value_problems(c, v, types)
                        for component in problems:
                            out.append(_violation(c, node, component, v))
    return out


def _has_value_checks(c: PropertyCheck) -> bool:
    return bool(c.node_kind or c.datatype or c.cls or c.allowed is not None
                or c.min_inclusive is not None or c.max_inclusive is not None)


def _value_problems(c: PropertyCheck, v: Term, types: _Types) -> list[str]:
    """The value-type and value-range components ``v`` violates."""
    found = []
    if c.node_kind and not _kind_ok(v, c.node_kind):
        found.append("NodeKind")
    if c.datatype and not (isinstance(v, ox.Literal) and v.datatype.value == c.datatype and _well_formed(v)):
        found.append("Datatype")
    if c.cls and (isinstance(v, ox.Literal) or not types.is_a(v, c.cls)):
        found.append("Class")
    if c.allowed is not None and v not in c.allowed:
        found.append("In")
    if c.min_inclusive is not None or c.max_inclusive is not None:
        n = _numeric(v)
        if c.min_inclusive is not None and (n is None or n < c.min_inclusive):
            found.append("MinInclusive")
        if c.max_inclusive is not None and (n is None or n > c.max_inclusive):
            found.append("MaxInclusive")
    return found


def _violation(c: PropertyCheck, node: Term, component: str, value: Term | None = None) -> Violation:
    return Violation(focus=node.value if isinstance(node, ox.NamedNode) else str(node), path=c.path,
                     value=None if value is None else _label(value),
                     message=c.message or f"{component} constraint violated", severity="Violation",
                     shape=c.shape, constraint=SH_NS + component + "ConstraintComponent")


def _check_sparql(checks: Sequence[SparqlCheck], quads: Sequence[ox.Quad], nquads: bytes = b"") -> list[Violation]:
    store = ox.Store()
    store.extend(q if isinstance(q.graph_name, ox.DefaultGraph) else ox.Quad(q.subject, q.predicate, q.object)
                 for q in quads)
    if nquads:
        store.bulk_load(nquads, format=ox.RdfFormat.N_QUADS, lenient=True)
    out = []
    for c in checks:
        results = store.query(c.query, prefixes=dict(c.prefixes))
        assert isinstance(results, ox.QuerySolutions)
        names = [v.value for v in results.variables]
        for sol in results:
            bound = {n: sol[n] for n in names if sol[n] is not None}
            this = bound.get("this")
            if this is None:
                continue
            message = _fill(c.message, bound)
            value = bound.get("value")
            path = bound.get("path")
            out.append(Violation(
                focus=this.value if isinstance(this, ox.NamedNode) else str(this),
                path=path.value if isinstance(path, ox.NamedNode) else None,
                value=_label(value) if value is not None else None,
                message=message, severity="Violation", shape=c.shape,
                constraint=SH_NS + "SPARQLConstraintComponent",
            ))
    return out


@lru_cache(maxsize=64)
def query_predicates(c: SparqlCheck) -> frozenset[str] | None:
    """The predicates a constraint's query can match, or None if it can match any.

    A quad whose predicate the query never names (in a triple pattern or a
    property path, ``NOT EXISTS`` included) cannot change its solutions, so
    the batch store need not hold it. A variable predicate or a negated
    property set can match anything.

    Reading the query takes rdflib's SPARQL parser a good part of a second,
    so the answer is kept in the user's cache (:mod:`cfkb.store.usercache`) by a
    hash of the query and its prefixes.
    """

    key = content_hash("predicates-1", c.query, *(f"{p}={ns}" for p, ns in c.prefixes))
    kept = read_json("query-predicates", key)
    if isinstance(kept, dict) and isinstance(kept.get("named"), list) \
            and all(isinstance(x, str) for x in kept["named"]):
        return None if kept.get("any") else frozenset(kept["named"])
    found = _query_predicates(c)
    write_json("query-predicates", key, {"any": found is None, "named": sorted(found or ())})
    return found


def _query_predicates(c: SparqlCheck) -> frozenset[str] | None:
    # rdflib's SPARQL parser, loaded only when a query's predicates are not in the cache
    import rdflib
    from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    try:
        algebra = prepareQuery(c.query, initNs=dict(c.prefixes)).algebra
    except Exception:  # noqa: BLE001 - rdflib cannot read it: load every quad
        return None
    named: set[str] = set()

    def path(p: object) -> bool:
        if isinstance(p, rdflib.URIRef):
            named.add(str(p))
            return True
        if isinstance(p, (SequencePath, AlternativePath)):
            return all(path(a) for a in p.args)
        if isinstance(p, MulPath):
            return path(p.path)
        if isinstance(p, InvPath):
            return path(p.arg)
        return False  # a variable, a negated property set, or something unknown

    todo: list[object] = [algebra]
    while todo:
        node = todo.pop()
        if isinstance(node, CompValue):
            if node.name == "BGP":
                for triple in node.get("triples"):
                    if not path(triple[1]):
                        return None
            todo.extend(node.values())
        elif isinstance(node, NegatedPath):
            return None
        elif isinstance(node, (list, tuple, set)):
            todo.extend(node)
        elif isinstance(node, dict):
            todo.extend(node.values())
    return frozenset(named)


def record_nodes(records: Sequence[tuple[str, Claim]], known: dict[str, set[str]]) -> set[ox.NamedNode]:
    """The IRIs claim records name (entities, and the claims themselves where ``known`` has them)."""
    claims = [c for _, c in records]
    out: set[ox.NamedNode] = set()
    for _, fields, make in CLAIM_PROPERTIES:
        n = len(fields)
        if n == 0:
            continue
        for raw in set(map(attrgetter(*fields), claims)):
            if _present(raw, n):
                term = _make(make, raw, n)
                if not isinstance(term, ox.NamedNode):
                    break  # a column of literals (each column holds one kind of term)
                out.add(term)
    out |= {ox.NamedNode(iri) for iri, _ in records if iri in known}
    return out


def type_quads(nodes: Iterable[ox.NamedNode], types: dict[str, set[str]]) -> list[ox.Quad]:
    """``rdf:type`` quads for the given nodes, from an index of known types."""
    return [ox.Quad(n, RDF.type, ox.NamedNode(t)) for n in nodes for t in types.get(n.value, ())]
