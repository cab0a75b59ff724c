"""Conflicts as an analyst reads them: claims side by side, explained.

The rules live in the engine (:mod:`cfkb.engine.shapes`) and their answers
in the conflict index (:mod:`cfkb.engine.index`), kept current by every
write. This module reads a page of the index and dresses each conflict with
its claims' labels, provenance, grading and the interested-party flag, and
the rule's explanation. Statuses come from the analysts' assessments.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyoxigraph as ox

import cfkb.engine  # noqa: F401 - keeps the claim table and the conflict index current after writes
from cfkb.engine import facets
from cfkb.engine.facets import Filing
from cfkb.engine.index import ConflictIndex, open_index
from cfkb.engine.rules import full_rows, rows_involving
from cfkb.engine.shapes import (
    KINDS,
    STATUSES,
    Rule,
    compile_rule,
    conflict_id,
    engine_keys,
    incremental_rows,
    load_rules,
    reference_keys,
    rule_patterns,
)
from cfkb.model.vocabulary import (
    BACKGROUND_PREFIX,
    CFKB,
    CONFLICT_PREFIX,
    RDF,
)
from cfkb.store.backend import value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.claimviews import ClaimView, ClaimViews

__all__ = ["KINDS", "STATUSES", "Conflict", "Filing", "Rule",
           "claims_and_conflicts",
           "compile_rule", "conflict_id", "conflict_page", "conflict_statuses", "conflicts_for_claims", "engine_keys",
           "file_conflicts", "find_conflicts", "full_rows",
           "incremental_rows", "load_rules", "reference_keys", "rows_involving", "rule_patterns", "view_as_of"]

# -- conflicts as things ---------------------------------------------------

@dataclass
class Conflict:
    """Claims that cannot all be true, found by one rule."""

    id: str
    iri: str
    kind: str
    rule: str
    rule_label: str
    explanation: str
    status: str
    claims: list[ClaimView] = field(default_factory=list)
    #: a derived conflict's reasoning, one step a line: each claim (and
    #: background fact) it starts from, the rule, the inferred statement and
    #: the denial, as {"step": ..., "text": ...}
    chain: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)



def _statuses(kb: KnowledgeBase) -> dict[str, str]:
    """The latest status of every assessed conflict, in one query."""
    latest: dict[str, tuple[str, str]] = {}
    for r in kb.select(own_query("conflict_statuses")):
        c, t = r["c"].value, r["t"].value
        if c not in latest or t > latest[c][0]:
            latest[c] = (t, r["status"].value)
    return {c: status for c, (_, status) in latest.items()}


def conflict_statuses(kb: KnowledgeBase) -> dict[str, str]:
    """The latest status of every assessed conflict, by conflict ID (open where absent)."""
    return _by_id(_statuses(kb))


def _by_id(statuses: dict[str, str]) -> dict[str, str]:
    return {iri[len(CONFLICT_PREFIX):]: s for iri, s in statuses.items() if iri.startswith(CONFLICT_PREFIX)}


def _conflicts(views: ClaimViews, statuses: dict[str, str], rule: Rule,
               rows: Iterable[dict[str, Any]]) -> dict[str, Conflict]:
    """The conflicts one rule's result rows describe, by conflict ID."""
    grouped: dict[tuple[str, str], dict[str, set[str]]] = {}
    for row in rows:
        key = (row["this"].value, row["value"].value)
        supports = grouped.setdefault(key, {})
        for var, term in row.items():
            if var not in ("this", "value"):
                supports.setdefault(var, set()).add(term.value)
    found: dict[str, Conflict] = {}
    for (this, value), extra in grouped.items():
        cid = conflict_id(rule.iri, (this, value))
        claims = [views.claim(value, "asserts" if rule.kind != "revision" else "earlier"),
                  views.claim(this, "denies" if rule.kind != "revision" else "later")]
        fills = {"this": claims[1].sentence, "value": claims[0].sentence,
                 "x": claims[1].subject.label, "e": claims[1].object.label,
                 "predicate": claims[1].predicate.label}
        chain = [{"step": "claim", "text": claims[0].sentence}]
        for var in ("contests", "wing"):
            iris = sorted(extra.get(var, ()))
            # a gazetteer background statement supports the chain but is no claim
            background = [i for i in iris if i.startswith(BACKGROUND_PREFIX)]
            support_views = [views.claim(i, "supports") for i in iris if i not in background]
            claims.extend(support_views)
            words = [v.sentence for v in support_views]
            chain += [{"step": "claim", "text": w} for w in words]
            if background and var == "wing":
                words.append(views.background(claims[0].subject.iri, claims[1].subject.iri))
                chain.append({"step": "background", "text": words[-1]})
            fills[var] = " and ".join(words)
        chain.append({"step": "rule", "text": rule.label})
        denied = claims[1]
        inferred = views.statement(ClaimView(**{**denied.__dict__, "negated": not denied.negated}))
        chain.append({"step": "inferred", "text": f"so {inferred}"})
        chain.append({"step": "denial", "text": f"but {denied.sentence}"})
        explanation = rule.explanation.format(**fills).replace("; ;", ";")
        found[cid] = Conflict(
            id=cid, iri=CONFLICT_PREFIX + cid, kind=rule.kind, rule=rule.name, rule_label=rule.label,
            explanation=explanation[0].upper() + explanation[1:],
            status=statuses.get(CONFLICT_PREFIX + cid, "open"), claims=claims,
            chain=chain if rule.kind == "derived" else [],
        )
    return found



def conflict_page(kb: KnowledgeBase, *, kinds: Sequence[str] | None = None, entity: str | None = None,
                  source: str | None = None, claims: Iterable[str] | None = None, prefix: str | None = None,
                  ids: Iterable[str] | None = None, include_dismissed: bool = True, status: Sequence[str] | None = None,
                  rules: Sequence[Rule] | None = None, limit: int | None = None,
                  offset: int = 0, index: ConflictIndex | None = None) -> tuple[int, list[Conflict]]:
    """A page of the base's conflicts, in listing order (status, kind, date,
    ID), with claims side by side; and how many conflicts pass the filters.

    ``entity`` and ``source`` are IRIs: keep conflicts with a claim about that
    entity (subject or object), or stated by or in that source; ``claims``
    keeps those with one of these claims in any role, ``prefix`` those whose
    ID starts with it, ``ids`` those with these IDs, ``status`` those with one of these statuses. Only the
    page's conflicts are read from the graph. ``index`` is an open conflict index to read (left open).
    """

    statuses = _statuses(kb)
    with contextlib.nullcontext(index) if index is not None else open_index(kb, rules) as index:
        return _read_page(kb, index, statuses, rules, None, kinds=kinds, entity=entity, source=source,
                          claims=None if claims is None else sorted(set(claims)), prefix=prefix,
                          ids=None if ids is None else sorted(set(ids)), include_dismissed=include_dismissed,
                          status=status, limit=limit, offset=offset)


def _read_page(kb: KnowledgeBase, index: ConflictIndex, statuses: dict[str, str], rules: Sequence[Rule] | None,
               views: ClaimViews | None, **filters: Any) -> tuple[int, list[Conflict]]:
    """:func:`conflict_page` on an open index, with the statuses read, dressed by ``views``
    (None: views made for the page)."""
    chosen = {r.iri: r for r in (rules or load_rules())}
    total, listed = index.page(_by_id(statuses), **filters)
    rows = index.rows(listed)
    if views is None:
        views = ClaimViews(kb, whole_base=len(listed) > 500)
        views.table = index.table
    views.prefetch(row[var].value for found in rows.values() for row in found for var in row
                   if not row[var].value.startswith(BACKGROUND_PREFIX))
    built: dict[str, Conflict] = {}
    for rule_iri, found in rows.items():
        built.update(_conflicts(views, statuses, chosen[rule_iri], found))
    return total, [built[x.id] for x in listed]


def claims_and_conflicts(kb: KnowledgeBase, claim_iris: Iterable[str], *, entity: str | None = None,
                         source: str | None = None, limit: int,
                         index: ConflictIndex | None = None) -> tuple[list[ClaimView], int, list[Conflict], set[str]]:
    """What an entity's or a source's page shows: these claims' views (as
    :func:`claim_views`), the first ``limit`` conflicts about ``entity`` (or
    with a claim by or in ``source``, as :func:`conflict_page`), how many
    such conflicts there are, and every claim of every one of them. One
    opening of the conflict index (or ``index``, open already), and one set
    of views for all the claims.

    Raises:
        NotFoundError: one of the IRIs is not a claim in the base.
    """
    statuses = _statuses(kb)
    iris = list(claim_iris)
    with contextlib.nullcontext(index) if index is not None else open_index(kb) as index:
        views = ClaimViews(kb)
        views.table = index.table
        views.prefetch(iris)
        shown = [views.claim(iri, "claim") for iri in iris]
        total, conflicts = _read_page(kb, index, statuses, None, views, entity=entity, source=source, limit=limit)
        return shown, total, conflicts, index.claims_of(entity=entity, source=source)


def file_conflicts(kb: KnowledgeBase, default_tlp: str | None, filters: Mapping[str, str], *, offset: int,
                   limit: int, sections: Sequence[Sequence[str]], is_new: Callable[[str], bool] | None = None,
                   only_new: bool = False) -> tuple[Filing, list[Conflict]]:
    """Every conflict filed under kind, status, entity, area, source, grading
    and TLP, counted by facet (:func:`cfkb.engine.facets.file`, with the
    conflicts' statuses), and the page the filters leave, its conflicts read
    whole: no other claim is read."""
    page: list[Conflict] = []

    def read(index: ConflictIndex, ids: list[str]) -> None:
        if ids:
            shown = {c.id: c for c in conflict_page(kb, ids=ids, index=index)[1]}
            page.extend(shown[i] for i in ids)

    filing = facets.file(kb, conflict_statuses(kb), default_tlp, filters, offset=offset, limit=limit,
                         sections=sections, is_new=is_new, only_new=only_new, then=read)
    return filing, page


def find_conflicts(kb: KnowledgeBase, *, kinds: Sequence[str] | None = None, entity: str | None = None,
                   source: str | None = None, include_dismissed: bool = True,
                   rules: Sequence[Rule] | None = None) -> list[Conflict]:
    """Every conflict in the base that passes the filters (see :func:`conflict_page`)."""
    return conflict_page(kb, kinds=kinds, entity=entity, source=source, include_dismissed=include_dismissed,
                         rules=rules)[1]


def conflicts_for_claims(kb: KnowledgeBase, claim_iris: Iterable[str], *,
                         rules: Sequence[Rule] | None = None) -> list[Conflict]:
    """The conflicts involving any of ``claim_iris`` (either side, or a
    supporting claim): the check after ``cfkb claim add`` or an import."""
    return conflict_page(kb, claims=claim_iris, rules=rules)[1]


def view_as_of(kb: KnowledgeBase, day: dt.date, *, known: bool = False) -> KnowledgeBase:
    """An in-memory copy of the base as claimed by ``day`` (statedOn ≤ day),
    or, with ``known``, as the base knew it then (recordedAt ≤ day)."""
    prop = CFKB.recordedAt if known else CFKB.statedOn
    limit = day.isoformat() + ("T23:59:59Z" if known else "")
    later = set()
    for q in kb.store.quads_for_pattern(None, prop, None, None):
        value = value_of(q.object)
        if value[: len(limit)] > limit if known else value > limit:
            later.add(q.subject)
    copy = KnowledgeBase(ox.Store(), None)
    copy.store.extend(q for q in kb.store if q.subject not in later)
    return copy



def conflict_triples(found: Sequence[Conflict]) -> list[ox.Triple]:
    """Each conflict as a cfkb:Conflict node: kind, rule, explanation, status, claims."""
    out = []
    for c in found:
        node = ox.NamedNode(c.iri)
        out += [
            ox.Triple(node, RDF.type, CFKB.Conflict),
            ox.Triple(node, CFKB.conflictKind, ox.Literal(c.kind)),
            ox.Triple(node, CFKB.rule, ox.NamedNode("https://w3id.org/cfkb/shapes#" + c.rule)),
            ox.Triple(node, CFKB.explanation, ox.Literal(c.explanation, language="en")),
            ox.Triple(node, CFKB.status, ox.Literal(c.status)),
        ]
        out += [ox.Triple(node, CFKB.involves, ox.NamedNode(v.iri)) for v in c.claims]
    return out
