"""The analyst's decisions: flagging and resolving conflicts, ranking claims, their history.

Every decision is a ``cfkb:Assessment`` (a ``prov:Activity``) saying who
decided what, when and why. Assessments point at conflict and claim IRIs,
which are content hashes, so they survive re-imports and re-runs. A claim's
current rank and a source's current reliability are plain triples that the
latest assessment sets; the history stays in the assessments.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyoxigraph as ox

from cfkb.errors import InputError, NotFoundError
from cfkb.model.terms import analyst_iri
from cfkb.model.vocabulary import (
    CFID_NS,
    CFKB,
    CLAIM_PREFIX,
    CONFLICT_PREFIX,
    PROV,
    RANKS,
    RDF,
    RDFS,
    XSD,
    content_hash,
    rank_name,
    rank_term,
    short_id,
)
from cfkb.store.backend import Term, value_of
from cfkb.store.core import KnowledgeBase, Row
from cfkb.store.owntexts import own_query

if TYPE_CHECKING:
    from cfkb.workflow.conflicts import Conflict



ASSESSMENT_PREFIX = CFID_NS + "assessment/"


def _now() -> dt.datetime:
    # microseconds, so two decisions in one second keep their order
    return dt.datetime.now(dt.timezone.utc)


def resolve_claim(kb: KnowledgeBase, text: str) -> str:
    """The IRI of the claim a claim ID (or a unique prefix of one, 4+ characters) names."""
    text = text.strip().removeprefix(CLAIM_PREFIX)
    if len(text) < 4:
        raise InputError("give at least 4 characters of the claim ID")
    claims = (value_of(q.subject) for q in kb.store.quads_for_pattern(None, RDF.type, CFKB.Claim, None))
    candidates = [iri for iri in claims if iri.startswith(CLAIM_PREFIX + text)]
    if not candidates:
        raise NotFoundError(f"no claim with ID {text!r}; 'cfkb query claims_about -p entity=NAME' shows IDs")
    if len(candidates) > 1:
        raise InputError(f"claim ID {text!r} is ambiguous ({len(candidates)} match); give more characters")
    return candidates[0]


def resolve_conflict(kb: KnowledgeBase, text: str) -> Conflict:
    """The conflict a (prefix of a) conflict ID names, as found now."""
    from cfkb.workflow.conflicts import conflict_page  # deferred: loads duckdb

    text = text.strip().removeprefix(CONFLICT_PREFIX)
    if len(text) < 4:
        raise InputError("give at least 4 characters of the conflict ID")
    total, found = conflict_page(kb, prefix=text, limit=1)
    if not found:
        raise NotFoundError(f"no conflict with ID {text!r}; 'cfkb conflicts --all' lists them")
    if total > 1:
        raise InputError(f"conflict ID {text!r} is ambiguous ({total} match); give more characters")
    return found[0]


def _assessment(kb: KnowledgeBase, target: str, analyst: str, when: dt.datetime,
                **values: ox.NamedNode | ox.Literal | None) -> tuple[ox.NamedNode, list[ox.Quad]]:
    node = ox.NamedNode(ASSESSMENT_PREFIX + content_hash(target, when.isoformat(), analyst, *map(str, values.values())))
    agent = analyst_iri(analyst)
    quads = [
        ox.Quad(node, RDF.type, CFKB.Assessment),
        ox.Quad(node, CFKB.assesses, ox.NamedNode(target)),
        ox.Quad(node, PROV.wasAssociatedWith, agent),
        ox.Quad(node, PROV.endedAtTime, ox.Literal(when.isoformat(), datatype=XSD.dateTime)),
        ox.Quad(agent, RDF.type, PROV.Person),
        ox.Quad(agent, RDFS.label, ox.Literal(analyst)),
    ]
    for name, term in values.items():
        if term is not None:
            quads.append(ox.Quad(node, CFKB.term(name), term))
    return node, quads


def _replace(kb: KnowledgeBase, subject: ox.NamedNode, predicate: ox.NamedNode,
             value: ox.NamedNode | ox.Literal | None) -> tuple[list[ox.Quad], list[ox.Quad]]:
    """(add, remove) that set a single-valued property."""
    remove = list(kb.store.quads_for_pattern(subject, predicate, None, ox.DefaultGraph()))
    add = [ox.Quad(subject, predicate, value)] if value is not None else []
    return add, [q for q in remove if q not in add]


@dataclass
class FlagResult:
    conflict: str
    status: str
    assessment: str
    deprecated: list[str] = field(default_factory=list)
    preferred: str | None = None
    #: the conflict's claims that are ranked now or were before, with the rank they have now
    ranks: dict[str, str] = field(default_factory=dict)


def flag(kb: KnowledgeBase, conflict_id: str, *, status: str, analyst: str, reason: str | None = None,
         prefer: str | None = None, deprecate_others: bool = True, when: dt.datetime | None = None) -> FlagResult:
    """Record an assessment of a conflict: its status, the claim believed, why.

    Resolving with ``prefer`` ranks that claim preferred and, unless
    ``deprecate_others`` is false, the claims on the other side deprecated,
    with the reason. Those ranks belong to the resolution: a later
    assessment of the conflict (reopened, disputed, dismissed, or resolved
    the other way) takes them back, and each claim's rank is worked out
    again from the decisions still standing (:func:`rank_decisions`).

    Raises:
        InputError: an unknown status, a resolution without a reason, or a
            preferred claim that is not a side of the conflict, or given
            with a status other than resolved.
    """
    from cfkb.workflow.conflicts import STATUSES  # deferred: loads duckdb

    if status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    reason = (reason or "").strip() or None
    if status == "resolved" and not reason:
        raise InputError("resolving a conflict needs a reason: say why you believe one side")
    if prefer and status != "resolved":
        raise InputError(f"only a resolution prefers a claim; a {status} conflict has no preferred side")
    conflict = resolve_conflict(kb, conflict_id)
    when = when or _now()
    preferred = None
    losers: list[str] = []
    if prefer:
        preferred = resolve_claim(kb, prefer)
        sides = {v.iri for v in conflict.claims}
        if preferred not in sides:
            raise InputError(f"claim {prefer} is not part of conflict {conflict.id}")
        winner = next(v for v in conflict.claims if v.iri == preferred)
        if winner.role == "supports":
            raise InputError(f"claim {prefer} only supports the chain; prefer one of the two sides")
        if deprecate_others:
            losing_roles = {"asserts"} if winner.role == "denies" else {"denies"}
            if winner.role in ("earlier", "later"):
                losing_roles = {"earlier", "later"} - {winner.role}
            losers = [v.iri for v in conflict.claims
                      if v.iri != preferred and v.role in losing_roles]
    node, add = _assessment(
        kb, conflict.iri, analyst, when,
        status=ox.Literal(status), reason=ox.Literal(reason) if reason else None,
        prefers=ox.NamedNode(preferred) if preferred else None,
    )
    add += [ox.Quad(node, CFKB.deprecates, ox.NamedNode(iri)) for iri in losers]
    pending = _Pending(conflict.iri, node.value, when, status, preferred, frozenset(losers),
                       reason, analyst)
    # the conflict's claims, and any other claim the standing decision on it ranked: each one's
    # rank is worked out again from the decisions that stand once this one is recorded
    touched = {v.iri for v in conflict.claims}
    touched.update(d.claim for d in _decisions_of_conflict(kb, conflict.iri))
    result = FlagResult(conflict.id, status, node.value, preferred=preferred, deprecated=list(losers))
    remove: list[ox.Quad] = []
    for claim in sorted(touched):
        settled = settle_rank(rank_decisions(kb, claim, pending=pending))
        a, r = _rank_quads(kb, claim, settled.rank, settled.reason)
        add += a
        remove += r
        had_rank = any(True for _ in kb.store.quads_for_pattern(ox.NamedNode(claim), CFKB.rank, None, None))
        if settled.rank != "normal" or had_rank:
            result.ranks[claim] = settled.rank
    kb.write(add=add, remove=remove, keeps_conflicts=True)
    return result


def _rank_quads(kb: KnowledgeBase, claim: str, rank: str, reason: str | None) -> tuple[list[ox.Quad], list[ox.Quad]]:
    node = ox.NamedNode(claim)
    add, remove = _replace(kb, node, CFKB.rank, None if rank == "normal" else rank_term(rank))
    a2, r2 = _replace(kb, node, CFKB.rankReason, ox.Literal(reason) if reason and rank != "normal" else None)
    return add + a2, remove + r2


def rank(kb: KnowledgeBase, claim_id: str, rank_name: str, *, analyst: str, reason: str | None = None,
         when: dt.datetime | None = None) -> str:
    """Set a claim's rank (preferred, normal, deprecated) by hand, recorded as an assessment.

    The hand rank is one decision among those that rank the claim; a
    conflict resolution that deprecates it still does (:func:`settle_rank`).
    Returns the claim's IRI; :func:`current_rank` gives the rank it has now.
    """
    if rank_name not in RANKS:
        raise InputError(f"rank must be one of {', '.join(RANKS)}, not {rank_name!r}")
    reason = (reason or "").strip() or None
    if rank_name == "deprecated" and not reason:
        raise InputError("deprecating a claim needs a reason")
    claim = resolve_claim(kb, claim_id)
    when = when or _now()
    node, add = _assessment(kb, claim, analyst, when, rank=rank_term(rank_name),
                            reason=ox.Literal(reason) if reason else None)
    pending = _Pending(claim, node.value, when, rank_name, None, frozenset(), reason, analyst, by_hand=True)
    settled = settle_rank(rank_decisions(kb, claim, pending=pending))
    a, r = _rank_quads(kb, claim, settled.rank, settled.reason)
    kb.write(add=add + a, remove=r, keeps_conflicts=True)
    return claim


# -- decisions that rank claims --------------------------------------------------

@dataclass(frozen=True)
class Decision:
    """A standing decision that ranks a claim: a conflict's latest
    assessment when it is a resolution naming the claim, or the claim's
    latest hand rank."""

    claim: str
    rank: str
    assessment: str
    when: str
    analyst: str
    reason: str | None
    conflict: str | None  # None for a rank set by hand

    @property
    def conflict_id(self) -> str | None:
        return self.conflict.removeprefix(CONFLICT_PREFIX) if self.conflict else None


@dataclass(frozen=True)
class _Pending:
    """An assessment about to be written, standing in for the stored ones."""

    target: str
    assessment: str
    when: dt.datetime
    status: str  # a conflict status, or a rank for a hand rank
    prefers: str | None
    deprecates: frozenset[str]
    reason: str | None
    analyst: str
    by_hand: bool = False


@dataclass(frozen=True)
class Settled:
    rank: str
    reason: str | None
    decisions: tuple[Decision, ...]


def display_time(text: str) -> str:
    """An assessment's time as an analyst reads it.

    >>> display_time("2026-12-03T07:50:27.312542Z")
    '2026-12-03 07:50:27 UTC'
    """
    value = _instant(text)
    if value.year == 1:
        return text
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _instant(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _latest_of_conflict(kb: KnowledgeBase, conflict: str) -> _Pending | None:
    """The conflict's latest assessment (the one standing), as read from the base."""
    # per assessment: its first row (when, status, reason, who, prefers) and every claim it deprecates
    found: dict[str, tuple[Row, set[str]]] = {}
    for r in kb.select(own_query("conflict_assessments"), {"conflict": ox.NamedNode(conflict)}):
        _, deprecates = found.setdefault(r["a"].value, (r, set()))
        if "deprecates" in r:
            deprecates.add(r["deprecates"].value)
    if not found:
        return None
    a, (row, deprecates) = max(found.items(), key=lambda item: (_instant(item[1][0]["when"].value), item[0]))
    return _Pending(conflict, a, _instant(row["when"].value), row["status"].value, _v(row, "prefers"),
                    frozenset(deprecates), _v(row, "reason"), _v(row, "who") or "")


def _standing(kb: KnowledgeBase, conflict: str, pending: _Pending | None) -> _Pending | None:
    if pending is not None and not pending.by_hand and pending.target == conflict:
        return pending
    return _latest_of_conflict(kb, conflict)


def _decisions_of_conflict(kb: KnowledgeBase, conflict: str, pending: _Pending | None = None) -> list[Decision]:
    latest = _standing(kb, conflict, pending)
    if latest is None or latest.status != "resolved":
        return []
    out = []
    if latest.prefers:
        out.append(Decision(latest.prefers, "preferred", latest.assessment, latest.when.isoformat(),
                            latest.analyst, latest.reason, conflict))
    out += [Decision(c, "deprecated", latest.assessment, latest.when.isoformat(), latest.analyst, latest.reason,
                     conflict) for c in sorted(latest.deprecates)]
    return out


def rank_decisions(kb: KnowledgeBase, claim: str, *, pending: _Pending | None = None) -> list[Decision]:
    """The decisions standing now that rank ``claim``: each conflict whose
    latest assessment resolves it preferring or deprecating the claim, and
    the claim's latest hand rank (unless it is "normal"). Newest first."""
    conflicts = {r["conflict"].value for r in kb.select(own_query("conflicts_ranking"), {"claim": ox.NamedNode(claim)})}
    if pending is not None and not pending.by_hand:
        conflicts.add(pending.target)
    out = []
    for conflict in sorted(conflicts):
        out += [d for d in _decisions_of_conflict(kb, conflict, pending) if d.claim == claim]
    hand: _Pending | None = None
    if pending is not None and pending.by_hand and pending.target == claim:
        hand = pending
    else:
        rows = kb.select(own_query("hand_ranks"), {"claim": ox.NamedNode(claim)})
        if rows:
            r = max(rows, key=lambda r: (_instant(r["when"].value), r["a"].value))
            name = rank_name(r["rank"].value)
            hand = _Pending(claim, r["a"].value, _instant(r["when"].value), name, None, frozenset(),
                            _v(r, "reason"), _v(r, "who") or "", by_hand=True)
    if hand is not None and hand.status != "normal":
        out.append(Decision(claim, hand.status, hand.assessment, hand.when.isoformat(), hand.analyst,
                            hand.reason, None))
    return sorted(out, key=lambda d: (_instant(d.when), d.assessment), reverse=True)


def settle_rank(decisions: Iterable[Decision]) -> Settled:
    """The rank the standing decisions give a claim: deprecated if any
    deprecates it (so a claim two resolutions deprecate stays deprecated
    until both are undone), else preferred if any prefers it, else normal.
    The reason is the newest deciding decision's."""
    decisions = tuple(decisions)
    for name in ("deprecated", "preferred"):
        deciding = tuple(d for d in decisions if d.rank == name)
        if deciding:
            newest = max(deciding, key=lambda d: (_instant(d.when), d.assessment))
            return Settled(name, newest.reason, deciding)
    return Settled("normal", None, ())


def current_rank(kb: KnowledgeBase, claim: str) -> Settled:
    """A claim's rank now, with the decisions that give it."""
    return settle_rank(rank_decisions(kb, claim))


@dataclass
class Assessment:
    when: str
    analyst: str
    status: str | None
    reason: str | None
    prefers: str | None
    rank: str | None
    iri: str = ""
    deprecates: list[str] = field(default_factory=list)
    credibility: str | None = None
    reliability: str | None = None

    def summary(self) -> str:
        """What was decided, in words: 'resolved, prefers 5c1e0f2a, deprecates 77aa01b2 (why)'."""
        parts = [x for x in (self.status, self.rank and f"rank {self.rank}",
                             self.credibility and f"credibility {self.credibility}",
                             self.reliability and f"reliability {self.reliability}") if x]
        if self.prefers:
            parts.append(f"prefers {short_id(self.prefers)}")
        if self.deprecates:
            parts.append("deprecates " + ", ".join(short_id(c) for c in self.deprecates))
        text = ", ".join(parts) or "assessed"
        return text + (f" ({self.reason})" if self.reason else "")


def history(kb: KnowledgeBase, target: str) -> list[Assessment]:
    """Every assessment of a conflict or claim, oldest first."""
    rows = kb.select(own_query("assessment_history"), {"target": ox.NamedNode(target)})
    found: dict[str, Assessment] = {}
    for r in rows:
        a = r["a"].value
        if a not in found:
            found[a] = Assessment(
                r["when"].value, r["who"].value, _v(r, "status"), _v(r, "reason"), _v(r, "prefers"),
                rank_name(r["rank"].value) if "rank" in r else None,
                iri=a, credibility=_v(r, "cred"), reliability=_v(r, "rel"))
        dep = _v(r, "dep")
        if dep and dep not in found[a].deprecates:
            found[a].deprecates.append(dep)
    for a in found.values():
        a.deprecates.sort()
    return sorted(found.values(), key=lambda a: (_instant(a.when), a.iri))


def latest_assessments(kb: KnowledgeBase) -> dict[str, Assessment]:
    """The standing (latest) assessment of every assessed conflict, by conflict IRI,
    in one query: what a form to assess it again opens on."""
    rows = kb.select(own_query("status_assessments"))
    by_target: dict[str, dict[str, Assessment]] = defaultdict(dict)
    for r in rows:
        found = by_target[r["target"].value]
        a = r["a"].value
        if a not in found:
            found[a] = Assessment(r["when"].value, _v(r, "who") or "", _v(r, "status"), _v(r, "reason"),
                                  _v(r, "prefers"), None, iri=a)
        dep = _v(r, "dep")
        if dep and dep not in found[a].deprecates:
            found[a].deprecates.append(dep)
    return {target: max(found.values(), key=lambda a: (_instant(a.when), a.iri))
            for target, found in by_target.items()}


def _v(row: Mapping[str, Term | None], key: str) -> str | None:
    term = row.get(key)
    return value_of(term) if term is not None else None
