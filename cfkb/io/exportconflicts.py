"""The conflicts an export needs, read lightly: for the conflicts-only export and the accepted view.

:func:`conflict_keys` finds every conflict the rules find now as a
:class:`ConflictKey` (its IRI, the clashing claims, all the claims it
involves) without building claim views; :func:`latest_statuses` reads the
status each was last given. :func:`accepted_triples` is the accepted view's
choice of bare triples; :func:`conflict_nodes` the conflicts written out as
``cfkb:Conflict`` nodes for the conflicts-only export. Terms are N-Triples
strings, as in :mod:`cfkb.io.exportgraph`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from cfkb.io.exportgraph import (
    NT_DEPRECATED,
    NT_MODALITY,
    NT_NEGATED,
    NT_OBJECT,
    NT_PREDICATE,
    NT_PREFERRED,
    NT_RANK,
    NT_SUBJECT,
    NT_TRUE,
    Graph,
    Pairs,
)
from cfkb.model.vocabulary import CONFLICT_PREFIX
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query


@dataclass(frozen=True)
class ConflictKey:
    """A conflict: its IRI, its clashing claims and all the claims it involves."""

    iri: str
    clashing: frozenset[str]
    claims: frozenset[str]


def conflict_keys(kb: KnowledgeBase) -> list[ConflictKey]:
    """Every conflict the rules find now, without building claim views."""
    from cfkb.workflow.conflicts import compile_rule, conflict_id, load_rules  # deferred: loads duckdb

    found: dict[str, ConflictKey] = {}
    for rule in load_rules():
        grouped: dict[tuple[str, str], set[str]] = {}
        for row in kb.select(compile_rule(rule)):
            key = (row["this"].value, row["value"].value)
            extra = grouped.setdefault(key, set())
            extra.update(t.value for v, t in row.items() if v not in ("this", "value") and v in ("contests", "wing"))
        for (this, value), extra in grouped.items():
            iri = CONFLICT_PREFIX + conflict_id(rule.iri, (this, value))
            found[iri] = ConflictKey(f"<{iri}>", frozenset({f"<{this}>", f"<{value}>"}),
                                     frozenset(f"<{c}>" for c in {this, value, *extra}))
    return sorted(found.values(), key=lambda k: k.iri)


def latest_statuses(kb: KnowledgeBase) -> dict[str, str]:
    """The latest status each assessed conflict was given."""
    rows = kb.select(own_query("assessment_statuses"))
    latest: dict[str, tuple[str, str]] = {}
    for r in rows:
        c, t = f"<{r['c'].value}>", r["t"].value
        if c not in latest or t > latest[c][0]:
            latest[c] = (t, r["status"].value)
    return {c: s for c, (_, s) in latest.items()}


def accepted_triples(graph: Graph, claims: set[str], conflicts: Sequence[ConflictKey],
                     statuses: dict[str, str]) -> dict[tuple[str, str, str], set[str]]:
    """The bare triples of preferred claims and of uncontested normal ones, with their claims.

    A claim is contested when it is one of the clashing claims of a conflict
    that is not dismissed. Negated claims and claims with a modality assert
    no triple (RDF cannot say "not").
    """
    contested = contested_claims(conflicts, statuses)
    out: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for c in claims:
        triple = accepted_triple(graph[c], contested, c)
        if triple is not None:
            out[triple].add(c)
    return out


def contested_claims(conflicts: Sequence[ConflictKey], statuses: dict[str, str]) -> set[str]:
    """The clashing claims of every conflict that is not dismissed."""
    contested: set[str] = set()
    for k in conflicts:
        if statuses.get(k.iri) != "dismissed":
            contested |= k.clashing
    return contested


def accepted_triple(pairs: Pairs, contested: set[str], claim: str) -> tuple[str, str, str] | None:
    """The bare triple a claim gives the accepted view, or None (see :func:`accepted_triples`)."""
    values = dict(pairs)
    rank = values.get(NT_RANK)
    if rank == NT_DEPRECATED or values.get(NT_NEGATED) == NT_TRUE or NT_MODALITY in values:
        return None
    if rank != NT_PREFERRED and claim in contested:
        return None
    return values[NT_SUBJECT], values[NT_PREDICATE], values[NT_OBJECT]


def conflict_nodes(kb: KnowledgeBase, iris: set[str]) -> list[ox.Triple]:
    """Conflicts as cfkb:Conflict nodes (kind, rule, explanation, status, claims)."""
    if not iris:
        return []
    from cfkb.workflow.conflicts import conflict_triples, find_conflicts  # deferred: loads duckdb

    return conflict_triples([c for c in find_conflicts(kb) if f"<{c.iri}>" in iris])
