"""What the web pages show, read from the base.

Every query here is one of cfkb's own texts (``queries/own/<name>.rq``,
:func:`cfkb.store.owntexts.own_query`) with values bound through
substitutions; nothing a user types is pasted into SPARQL.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.engine.index import open_index
from cfkb.errors import NotFoundError
from cfkb.model.vocabulary import CFID_NS, CFKB_NS, CLAIM_PREFIX, RDFS_NS, SKOS_NS
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.claimviews import ClaimView, claim_views
from cfkb.workflow.conflicts import Conflict, claims_and_conflicts, conflicts_for_claims
from cfkb.workflow.records import track_record

#: The claims an entity's or a source's page lists at a time (``?page=``).
PAGE_CLAIMS = 100
#: An entity's or a source's page lists this many of its conflicts; the dashboard, filtered, lists them all.
PAGE_CONFLICTS = 50

@dataclass
class Label:
    text: str
    lang: str | None
    alt: bool


@dataclass
class Fact:
    """A gazetteer statement about an entity (not a claim): predicate, other end, direction."""

    predicate: str
    other: str
    literal: bool
    lang: str | None
    incoming: bool


@dataclass
class ClaimGroup:
    area: str | None
    election: str | None
    claims: list[ClaimView]


@dataclass
class EntityPage:
    iri: str
    label: str
    types: list[str]
    labels: list[Label]
    facts: list[Fact]
    groups: list[ClaimGroup]
    timeline: list[ClaimView]
    conflicts: list[Conflict]  # the first PAGE_CONFLICTS
    claim_total: int
    statements_by: int
    in_conflict: set[str] = field(default_factory=set)
    conflict_total: int = 0
    #: which page of the claims this is (1-based), of how many
    page: int = 1
    pages: int = 1

    @property
    def first(self) -> int:
        """The number of the page's first claim (1-based)."""
        return (self.page - 1) * PAGE_CLAIMS + 1

    @property
    def shown(self) -> int:
        """How many claims the page shows."""
        return sum(len(g.claims) for g in self.groups)


@dataclass
class SourcePage:
    iri: str
    label: str
    types: list[str]
    claims: list[ClaimView]
    claim_total: int
    roles: Counter[str]
    predicates: Counter[str]
    ranks: Counter[str]
    grades: Counter[str]
    negated: int
    first: str | None
    last: str | None
    conflicts: list[Conflict]  # the first PAGE_CONFLICTS
    in_conflict: set[str] = field(default_factory=set)
    conflict_total: int = 0
    #: which page of the claims this is (1-based), of how many
    page: int = 1
    pages: int = 1

    @property
    def first_shown(self) -> int:
        """The number of the page's first claim (1-based)."""
        return (self.page - 1) * PAGE_CLAIMS + 1


def local_name(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _require(kb: KnowledgeBase, iri: str) -> None:
    if iri not in kb.entity_index():
        raise NotFoundError(f"no entity <{iri}> in the base")


def _types(kb: KnowledgeBase, iri: str) -> list[str]:
    return sorted(local_name(t) for t in kb.entity_index().types.get(iri, ()))


def entity_labels(kb: KnowledgeBase, iri: str) -> list[Label]:
    """Labels first (English, then other languages), then aliases."""
    rows = kb.select(own_query("entity_labels"), {"e": ox.NamedNode(iri)})
    labels = [Label(r["l"].value, r["l"].language, r["p"].value == SKOS_NS + "altLabel") for r in rows]
    return sorted(labels, key=lambda x: (x.alt, x.lang != "en", x.lang or "", x.text))


def entity_facts(kb: KnowledgeBase, iri: str) -> list[Fact]:
    facts = []
    for r in kb.select(own_query("entity_facts"), {"e": ox.NamedNode(iri)}):
        o = r["o"]
        facts.append(Fact(r["p"].value, o.value, isinstance(o, ox.Literal),
                          o.language if isinstance(o, ox.Literal) else None, r["dir"].value == "in"))
    return sorted(facts, key=lambda f: (f.incoming, f.predicate, f.other))


def entity_page(kb: KnowledgeBase, iri: str, page: int = 1) -> EntityPage:
    """Names, facts, conflicts, and claims by area and election with their
    timeline, :data:`PAGE_CLAIMS` at a time (by date; ``page`` from 1).

    Raises:
        NotFoundError: no such entity.
    """
    _require(kb, iri)
    index = kb.entity_index()
    rows = kb.select(own_query("page_claims_about"), {"entity": ox.NamedNode(iri)}, plan_with_bindings=True)
    claim_iris = list(dict.fromkeys(r["c"].value for r in rows))
    pages = max(1, -(-len(claim_iris) // PAGE_CLAIMS))
    page = min(page, pages)
    views, conflict_total, conflicts, in_conflict = claims_and_conflicts(
        kb, claim_iris[(page - 1) * PAGE_CLAIMS:page * PAGE_CLAIMS], entity=iri, limit=PAGE_CONFLICTS)
    groups: dict[tuple[str | None, str | None], list[ClaimView]] = {}
    for v in views:
        key = (v.area.label if v.area else None, v.election.label if v.election else None)
        groups.setdefault(key, []).append(v)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][1] or "", kv[0][0] is not None, kv[0][0] or ""))
    by = kb.select(own_query("page_claims_by"), {"source": ox.NamedNode(iri)}, plan_with_bindings=True)
    return EntityPage(
        iri=iri, label=index.label(iri), types=_types(kb, iri), labels=entity_labels(kb, iri),
        facts=entity_facts(kb, iri),
        groups=[ClaimGroup(area, election, claims) for (area, election), claims in ordered],
        timeline=sorted((v for v in views if v.date), key=lambda v: (v.date or "", v.id)),
        conflicts=conflicts, claim_total=len(claim_iris),
        statements_by=len({r["c"].value for r in by}),
        in_conflict=in_conflict, conflict_total=conflict_total, page=page, pages=pages,
    )


def source_page(kb: KnowledgeBase, iri: str, page: int = 1) -> SourcePage:
    """A speaker's, outlet's or document's track record over all its claims,
    and its claims :data:`PAGE_CLAIMS` at a time (by date; ``page`` from 1).

    Raises:
        NotFoundError: no such entity.
    """
    _require(kb, iri)
    rows = kb.select(own_query("page_claims_by"), {"source": ox.NamedNode(iri)}, plan_with_bindings=True)
    roles: dict[str, set[str]] = {}
    for r in rows:
        roles.setdefault(r["c"].value, set()).add(r["how"].value)
    claim_iris = list(roles)
    pages = max(1, -(-len(claim_iris) // PAGE_CLAIMS))
    page = min(page, pages)
    with open_index(kb) as index:
        views, conflict_total, conflicts, in_conflict = claims_and_conflicts(
            kb, claim_iris[(page - 1) * PAGE_CLAIMS:page * PAGE_CLAIMS], source=iri, limit=PAGE_CONFLICTS,
            index=index)
        record = track_record(kb, index.table, claim_iris)
    return SourcePage(
        iri=iri, label=kb.entity_index().label(iri), types=_types(kb, iri), claims=views,
        claim_total=len(claim_iris),
        roles=Counter(how for hows in roles.values() for how in hows),
        predicates=record.predicates, ranks=record.ranks, grades=record.grades, negated=record.negated,
        first=record.first, last=record.last,
        conflicts=conflicts, conflict_total=conflict_total,
        in_conflict=in_conflict & set(claim_iris), page=page, pages=pages,
    )


def claim_page(kb: KnowledgeBase, short: str) -> tuple[ClaimView, list[Conflict]]:
    """One claim and the conflicts it is part of.

    Raises:
        NotFoundError: no such claim.
    """
    iri = CLAIM_PREFIX + short
    try:
        node = ox.NamedNode(iri)
    except ValueError:  # not even an IRI: a mistyped or crafted ID
        raise NotFoundError(f"no claim {short!r} in the base") from None
    if not kb.contains(node):
        raise NotFoundError(f"no claim {short} in the base")
    view = claim_views(kb, [iri])[0]
    return view, conflicts_for_claims(kb, [iri])


# -- the graph -----------------------------------------------------------------

@dataclass(frozen=True)
class Edge:
    claim: str
    subject: str
    predicate: str
    object: str
    negated: bool
    conflict: bool


@dataclass
class AreaGraph:
    """The runsAs edges claimed for one area (or, with no area, everywhere)."""

    area: str | None
    label: str
    edges: list[Edge]


def areas(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(IRI, label, Region|Province) of every area, regions first."""
    index = kb.entity_index()
    out = [(r["a"].value, index.label(r["a"].value), local_name(r["t"].value)) for r in kb.select(own_query("areas"))]
    return sorted(out, key=lambda a: (a[2] != "Region", a[1]))


def graph(kb: KnowledgeBase, area: str | None = None) -> list[AreaGraph]:
    """Who runs with whom where: one panel per area with runsAs claims, then
    membership and support (which hold everywhere unless an area is given).

    With ``area`` (an IRI), only that area and the claims with no area.
    """

    with open_index(kb) as found:
        in_conflict = found.clashing()
    index = kb.entity_index()
    panels: dict[str | None, list[Edge]] = {}
    for r in kb.select(own_query("graph_edges")):
        a = r["area"].value if "area" in r else None
        if area is not None and a not in (None, area):
            continue
        pred = local_name(r["p"].value)
        key = a if pred == "runsAs" else "*" + (a or "")
        panels.setdefault(key, []).append(Edge(
            claim=r["c"].value, subject=r["s"].value, predicate=pred, object=r["o"].value,
            negated=r["neg"].value == "true", conflict=r["c"].value in in_conflict,
        ))
    order = {iri: i for i, (iri, _, _) in enumerate(areas(kb))}
    out = []
    for key, edges in panels.items():
        if key is not None and key.startswith("*"):
            where = key[1:] or None
            label = "Membership and support" + (f" in {index.label(where)}" if where else ", all areas")
            a_iri = where
        else:
            a_iri, label = key, (index.label(key) if key else "All areas")
        edges.sort(key=lambda e: (index.label(e.subject), index.label(e.object), e.negated))
        out.append(AreaGraph(a_iri, label, edges))
    out.sort(key=lambda g: (g.label.startswith("Membership"), g.area is not None,
                            order.get(g.area or "", 999), g.label))
    return out


def stats(kb: KnowledgeBase) -> dict[str, int]:
    index = kb.entity_index()
    return {"claims": kb.claim_count(), "entities": len(index.labels)}


def predicate_label(iri: str) -> str:
    if iri.startswith(CFKB_NS):
        return iri[len(CFKB_NS):]
    if iri.startswith(RDFS_NS):
        return "rdfs:" + iri[len(RDFS_NS):]
    return local_name(iri)


# -- lists of entities and sources ---------------------------------------------------

#: Types that name records of the base rather than things in the world: not listed as entities.
NOT_ENTITIES = {"Claim", "BackgroundStatement", "ImportBatch", "Assessment"}
#: A source's kind, by its type.
SOURCE_KINDS = {"Person": "speaker", "MediaOutlet": "outlet", "Document": "document"}


@dataclass
class EntityRow:
    iri: str
    label: str
    types: list[str]


def entity_list(kb: KnowledgeBase, type_name: str | None = None) -> tuple[list[EntityRow], Counter[str]]:
    """Every entity of the base (``cfid:`` IRIs, records such as claims left out), by label,
    and how many there are of each type.

    With ``type_name`` (a local name such as ``Party``), only entities of that type; the
    counts are always over all of them, so that each type shows how many it would list.
    """
    index = kb.entity_index()
    rows: list[EntityRow] = []
    counts: Counter[str] = Counter()
    for iri, types in index.types.items():
        names = sorted(local_name(t) for t in types)
        if not iri.startswith(CFID_NS) or not names or NOT_ENTITIES & set(names) or iri in index.merged:
            continue
        counts.update(names)
        if type_name is None or type_name in names:
            rows.append(EntityRow(iri, index.label(iri), names))
    rows.sort(key=lambda r: (r.label.casefold(), r.iri))
    return rows, counts


def source_kind(kb: KnowledgeBase, iri: str) -> str:
    """``speaker``, ``outlet`` or ``document`` by the source's type; ``other`` for anything else."""
    for t in sorted(kb.entity_index().types.get(iri, ())):
        kind = SOURCE_KINDS.get(local_name(t))
        if kind:
            return kind
    return "other"
