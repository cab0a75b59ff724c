"""The conflict rules: SHACL-SPARQL constraints from ``shapes/``, and how they run.

Each conflict rule is a SHACL-SPARQL constraint annotated with
``cfkb:conflictKind`` and an explanation template. pySHACL running the shapes
is the reference semantics (:func:`reference_keys`). cfkb runs each rule in
one of two executable forms that give the same rows:

- its SQL form (``shapes/*.sql``) over the claim table (:mod:`cfkb.engine.rules`),
  for a base on disk or on a server;
- the constraint compiled into one query over the whole store, with ``$this``
  free and the shape's target a check (:func:`compile_rule`), for a base in
  memory, a claim table the SQL forms cannot read exactly, or a rule with no
  SQL form.

Tests hold the three to the same (rule, claims) pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.model.vocabulary import CFKB_NS, PREFIXES, RDF_NS, SH_NS, content_hash
from cfkb.shacl.compiler import read_shapes
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query

KINDS = ("direct", "derived", "functional", "revision")
STATUSES = ("open", "disputed", "resolved", "dismissed")


@dataclass(frozen=True)
class Rule:
    """One conflict rule: a SHACL-SPARQL constraint and what it means."""

    iri: str
    kind: str
    label: str
    comment: str
    explanation: str
    select: str
    target_class: str

    @property
    def name(self) -> str:
        return self.iri.rsplit("#", 1)[-1]


@lru_cache(maxsize=4)
def load_rules(paths: tuple[Path, ...] | None = None) -> tuple[Rule, ...]:
    """Every conflict rule in the shape files, in a stable order (``queries/own/shape_rules.rq``
    reads each with what it says of itself).

    Raises:
        InputError: a shape file cannot be read or does not parse (named).
    """
    from cfkb.resources import shape_files

    shapes = read_shapes(paths or tuple(shape_files()))

    def text(row: ox.QuerySolution, name: str) -> str | None:
        term = row[name]
        return None if term is None else term.value

    rules = []
    for row in cast(ox.QuerySolutions, shapes.query(own_query("shape_rules"))):
        constraint = text(row, "constraint") or ""
        rules.append(Rule(
            iri=constraint,
            kind=text(row, "kind") or "",
            label=text(row, "label") or constraint,
            comment=text(row, "comment") or "",
            explanation=text(row, "explanation") or "{value}; but {this}.",
            select=text(row, "select") or "",
            target_class=text(row, "target") or CFKB_NS + "Claim",
        ))
    if paths is None:  # the shipped shapes: their compiled queries are cfkb's own (cfkb.store.guard.is_own)
        from cfkb.store.guard import vouch

        for rule in rules:
            vouch(compile_rule(rule))
    return tuple(sorted(rules, key=lambda r: (KINDS.index(r.kind) if r.kind in KINDS else 99, r.iri)))


def compile_rule(rule: Rule) -> str:
    """The rule as one set-at-a-time query: ``$this`` free, the target a pattern.

    >>> r = Rule("x#R", "direct", "", "", "", "SELECT $this ?value WHERE { $this ?p ?value }", CFKB_NS + "Claim")
    >>> print(compile_rule(r))
    SELECT ?this ?value WHERE { ?this ?p ?value
     FILTER EXISTS { ?this a <https://w3id.org/cfkb/ns#Claim> }
    }
    """
    text = rule.select.replace("$this", "?this")
    where = re.search(r"WHERE\s*\{", text, re.IGNORECASE)
    end = text.rstrip().rfind("}")
    if where is None or end < where.end():
        raise InputError(f"rule {rule.iri}: its sh:select has no WHERE clause")
    # The target is a check on each solution (one lookup), not a pattern the
    # planner might start from (a scan of every claim).
    return f"{text[:end].rstrip()}\n FILTER EXISTS {{ ?this a <{rule.target_class}> }}\n{text[end:]}".strip()



def conflict_id(rule_iri: str, claim_iris: Iterable[str]) -> str:
    """A stable conflict ID: a hash of the rule and the clashing claims."""
    return content_hash(rule_iri, *sorted(claim_iris))[:16]




# -- the reference semantics -------------------------------------------------

@contextmanager
def _parsed_once() -> Iterator[None]:
    """Let rdflib parse each SPARQL text once while pySHACL runs.

    pySHACL hands rdflib the constraint's text for every focus node, and
    rdflib parses it every time (about 70 ms each). The parsed algebra is
    reusable with other bindings, so this changes speed, not answers.
    """
    from rdflib.plugins.sparql import processor
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    original = processor.SPARQLProcessor.query
    parsed: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Any] = {}

    def query(self: Any, strOrQuery: Any, initBindings: Any = None, initNs: Any = None,  # noqa: N803
              base: str | None = None, DEBUG: bool = False) -> Any:  # noqa: N803
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((k, str(v)) for k, v in (initNs or {}).items())))
            if key not in parsed:
                parsed[key] = translateQuery(parseQuery(strOrQuery), base, initNs)
            strOrQuery = parsed[key]
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    processor.SPARQLProcessor.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        processor.SPARQLProcessor.query = original  # type: ignore[method-assign]


def reference_keys(kb: KnowledgeBase) -> set[tuple[str, frozenset[str]]]:
    """(rule, claims) of every conflict pySHACL finds running the shapes."""
    import rdflib  # pySHACL's data model, loaded only for the reference semantics

    from cfkb.resources import shape_files
    from cfkb.shacl.validate import load_shapes, run_pyshacl, to_rdflib

    rules = {r.iri for r in load_rules()}
    data = to_rdflib(kb.quads())
    with _parsed_once():
        _, report = run_pyshacl(data, load_shapes(tuple(shape_files())))
    SH = rdflib.Namespace(SH_NS)
    keys = set()
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        constraint = str(report.value(result, SH.sourceConstraint))
        if constraint in rules:
            keys.add((constraint, frozenset({str(report.value(result, SH.focusNode)),
                                             str(report.value(result, SH.value))})))
    return keys


def engine_keys(kb: KnowledgeBase) -> set[tuple[str, frozenset[str]]]:
    """(rule, claims) of every conflict the compiled queries find."""
    keys = set()
    for rule in load_rules():
        for row in kb.select(compile_rule(rule)):
            keys.add((rule.iri, frozenset({row["this"].value, row["value"].value})))
    return keys



# -- incremental checking ----------------------------------------------------

_SPO = {RDF_NS + "subject": "subject", RDF_NS + "predicate": "predicate", RDF_NS + "object": "object"}


@lru_cache(maxsize=64)
def rule_patterns(query: str) -> tuple[tuple[str, ...], tuple[tuple[Any, str, Any, bool], ...]]:
    """A rule's selected variables, and every triple pattern in it as
    (subject, predicate IRI, object, inside a ``FILTER NOT EXISTS``), read by
    rdflib's SPARQL parser: patterns of the main groups and of (NOT) EXISTS
    groups alike. Variables come as :class:`rdflib.Variable`.

    >>> selected, patterns = rule_patterns(
    ...     "SELECT ?c WHERE { ?c rdf:subject ?x FILTER NOT EXISTS { ?m rdf:object ?x } }")
    >>> selected, sorted((str(s), p.rsplit("#", 1)[-1], str(o), neg) for s, p, o, neg in patterns)
    (('c',), [('c', 'subject', 'x', False), ('m', 'object', 'x', True)])
    """
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    parsed = prepareQuery(query, initNs=dict(PREFIXES))
    found: list[tuple[Any, str, Any, bool]] = []

    def walk(node: Any, negated: bool) -> None:
        if isinstance(node, CompValue):
            negated = negated or node.name == "Builtin_NOTEXISTS"
            if node.name in ("BGP", "TriplesBlock"):
                for t in node["triples"]:  # (s, p, o), or (s1, p1, o1, s2, p2, o2, ...) inside EXISTS
                    found.extend((s, str(p), o, negated) for s, p, o in zip(t[0::3], t[1::3], t[2::3], strict=True))
            for value in node.values():
                walk(value, negated)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value, negated)

    walk(parsed.algebra, False)
    return tuple(str(v) for v in parsed.algebra["PV"]), tuple(found)


def _claim_variables(query: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The claim variables a compiled rule selects, each with the variables
    its ``rdf:subject``/``rdf:predicate``/``rdf:object`` patterns name (a
    claim has one of each, so binding them is safe wherever the pattern is).

    >>> _claim_variables("SELECT ?this ?value WHERE { ?this rdf:subject ?x . ?value rdf:object ?x }")
    (('this', (('subject', 'x'),)), ('value', (('object', 'x'),)))
    """
    from rdflib import Variable  # the parser's variables (rule_patterns loads rdflib anyway)

    selected, patterns = rule_patterns(query)
    links: dict[str, dict[str, str]] = {}
    for s, p, o, _ in patterns:
        if isinstance(s, Variable) and isinstance(o, Variable) and p in _SPO:
            links.setdefault(str(s), {}).setdefault(_SPO[p], str(o))
    return tuple((v, tuple(sorted(links.get(v, {}).items()))) for v in selected)


def _rows_involving(kb: KnowledgeBase, query: str, claim: ox.NamedNode) -> list[dict[str, Any]]:
    """The rule's result rows in which ``claim`` fills any selected variable.

    The claim is bound in each role in turn, together with the variables its
    own subject, predicate and object fill (one value each, so the answer is
    the same), as a VALUES block the planner sees: the joins start from the
    claim and its entities instead of scanning the base.
    """
    spo: dict[str, Any] = {}
    for q in kb.store.quads_for_pattern(claim, None, None, None):
        pos = _SPO.get(q.predicate.value)
        if pos is not None:
            spo.setdefault(pos, q.object)
    rows = []
    for var, links in _claim_variables(query):
        binding = {var: claim}
        for pos, linked in links:
            if pos in spo and linked != var:
                binding.setdefault(linked, spo[pos])
        rows += kb.select(query, binding, plan_with_bindings=True)
    return rows


def incremental_rows(kb: KnowledgeBase, query: str, claim_iris: Iterable[str]) -> list[dict[str, Any]]:
    """A compiled rule's rows for every conflict that involves one of
    ``claim_iris`` (all rows of each such conflict, for its whole derivation)."""
    pairs: set[tuple[str, str]] = set()
    for iri in sorted(set(claim_iris)):
        for row in _rows_involving(kb, query, ox.NamedNode(iri)):
            pairs.add((row["this"].value, row["value"].value))
    rows = []
    for this, value in sorted(pairs):
        rows += kb.select(query, {"this": ox.NamedNode(this), "value": ox.NamedNode(value)}, plan_with_bindings=True)
    return rows
