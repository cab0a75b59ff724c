"""The link chart's data: the claims around one entity, as nodes and edges.

A neighbourhood rather than the whole base: from a centre entity, the claims
whose subject or object it is (the named query ``neighbours``, the entity
bound, never pasted), then the same for the entities they reach, out to a
depth, keeping the busiest neighbours first until the node cap is reached.
Claims with the same subject, predicate, object, sign and area are one edge.
An area's neighbours also come from the claims placed in it, in a region that
includes it or in an area it includes; where such an area is drawn, a dotted
link joins it to the subjects of the claims placed there, and a region to the
areas it includes.

The replay date keeps the claims stated on or before it (undated claims
always); a conflict counts on that date when none of its claims is later.
A conflict's claims all join the chart when one of them is in it, so both
sides of a red edge show, as long as they pass the filters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from cfkb.engine.index import open_index
from cfkb.errors import InputError, NotFoundError
from cfkb.model.spelling import expand_curie
from cfkb.model.vocabulary import CFKB_NS, content_hash
from cfkb.server.data import local_name
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow import queries
from cfkb.workflow.conflicts import conflict_statuses

#: How far from the centre a chart reaches, at most.
MAX_DEPTH = 3
#: Nodes in a chart unless asked otherwise, and at most.
DEFAULT_NODES = 40
MAX_NODES = 300
#: Nodes one click on a node may add.
EXPAND_NODES = 30
#: Entities expanded in one chart, at most.
MAX_EXPAND = 40
#: Edges in one answer, at most.
MAX_EDGES = 1000
#: Claims read about one entity, at most (a hub has thousands).
MAX_CLAIMS = 5000

#: Conflicting claims beyond the node cap, as a share of it: the other sides of red edges.
PARTNER_SHARE = 0.5
#: Claims, and conflicts, listed with one edge, at most (the counts say how many there are).
EDGE_CLAIMS = 20

#: The types of the areas claims are placed in.
AREA_TYPES = {"Province", "Region"}
#: The pseudo-predicates of the links the chart draws besides claims: a claim's subject to the area
#: the claim is placed in, and a region to an area it includes.
PLACED_IN = CFKB_NS + "inArea"
INCLUDES = CFKB_NS + "includes"


@dataclass(frozen=True)
class Clash:
    """A conflict as the chart draws it: its ID, kind, status and claims."""

    id: str
    kind: str
    status: str
    claims: frozenset[str]


def conflict_set(kb: KnowledgeBase) -> list[Clash]:
    """The base's conflicts, dismissed ones left out: the ones
    :func:`cfkb.workflow.conflicts.find_conflicts` finds, read from the conflict index
    (:mod:`cfkb.engine.index`) without building each side's text."""

    with open_index(kb) as index:
        rows = index.members(conflict_statuses(kb))
    grouped: dict[tuple[str, str, str], set[str]] = {}
    for cid, kind, status, claim, *_ in rows:
        if status != "dismissed":
            grouped.setdefault((cid, kind, status), set()).add(claim)
    return sorted((Clash(cid, kind, status, frozenset(claims)) for (cid, kind, status), claims in grouped.items()),
                  key=lambda c: c.id)


@dataclass(frozen=True)
class Filters:
    """What a chart shows: claims in an area (or one overlapping it), about an election,
    with one of some predicates, stated by a date."""

    area: str | None = None
    election: str | None = None
    kinds: frozenset[str] = frozenset()
    as_of: dt.date | None = None


@dataclass(frozen=True)
class Link:
    """One claim as the chart reads it."""

    claim: str
    subject: str
    predicate: str
    object: str
    negated: bool
    area: str | None
    election: str | None
    date: str | None


@dataclass
class Edge:
    """Claims with the same subject, predicate, object, sign and area."""

    id: str
    subject: str
    predicate: str
    object: str
    negated: bool
    area: str | None
    claims: list[Link] = field(default_factory=list)
    conflicts: list[Clash] = field(default_factory=list)

    @property
    def dates(self) -> list[str]:
        return sorted({c.date for c in self.claims if c.date})


@dataclass
class Node:
    iri: str
    label: str
    types: list[str]
    depth: int
    expanded: bool = False


@dataclass
class Chart:
    centre: str
    depth: int
    filters: Filters
    node_cap: int
    nodes: dict[str, Node]
    edges: list[Edge]
    #: what was cut to fit the caps, one phrase each; empty when nothing was
    capped: list[str]
    #: the first and last claim date seen around the centre, before the replay date cut
    first: str | None
    last: str | None


def words(name: str) -> str:
    """A predicate's local name as words.

    >>> words("politicalWingOf")
    'political wing of'
    """
    return re.sub(r"(?<!^)([A-Z])", r" \1", name).lower()


def verb(e: Edge | Link) -> str:
    return ("not " if e.negated else "") + words(local_name(e.predicate))


# -- reading ------------------------------------------------------------------------

def _link(r: dict[str, Any], iri: str, area: str | None = None) -> Link:
    """A claim from a query's row (``subject``, ``predicate``, ``object``, ``negated`` and,
    when bound, ``area``, ``election``, ``date``)."""
    def value(name: str) -> str | None:
        return r[name].value if name in r else None

    return Link(iri, r["subject"].value, r["predicate"].value, r["object"].value, r["negated"].value == "true",
                area or value("area"), value("election"), value("date"))


def _links(kb: KnowledgeBase, entity: str) -> list[Link]:
    text = queries.library()["neighbours"].text
    out: dict[str, Link] = {}
    for r in kb.select(text, {"entity": ox.NamedNode(entity)}):
        iri = r["claim"].value
        if iri in out:
            continue  # a second area or date: the first is drawn
        out[iri] = _link(r, iri)
        if len(out) >= MAX_CLAIMS:
            break
    return list(out.values())


def overlapping(kb: KnowledgeBase, area: str) -> set[str]:
    """The area, the regions that include it and the areas it includes."""
    return {area} | {r["other"].value for r in kb.select(own_query("chart_overlapping"), {"area": ox.NamedNode(area)})}


def entity_iri(kb: KnowledgeBase, text: str) -> str:
    """The entity a request names, by CURIE, IRI, name or alias.

    Raises:
        InputError: not a name of anything (or of several things).
    """
    text = text.strip()
    if not text or len(text) > 500:
        raise InputError("name an entity: a name, alias, CURIE or IRI of up to 500 characters")
    index = kb.entity_index()
    iri = expand_curie(text)
    if iri is None or iri not in index:
        iri = index.resolve(text)
    try:
        ox.NamedNode(iri)
    except ValueError:
        raise InputError(f"not an IRI: {text[:80]!r}") from None
    return iri


def busiest(kb: KnowledgeBase) -> str | None:
    """The entity most claims are about (as their subject): where a chart opens when none is named."""
    rows = kb.select(own_query("chart_busiest"))
    return rows[0]["entity"].value if rows else None


def _placed(kb: KnowledgeBase, area: str) -> list[Link]:
    out: dict[str, Link] = {}
    for a in sorted(overlapping(kb, area)):
        for r in kb.select(own_query("chart_placed"), {"area": ox.NamedNode(a)}):
            iri = r["claim"].value
            out.setdefault(iri, _link(r, iri, a))
            if len(out) >= MAX_CLAIMS:
                return list(out.values())
    return list(out.values())


def _claim(kb: KnowledgeBase, iri: str) -> Link | None:
    rows = kb.select(own_query("chart_claim"), {"claim": ox.NamedNode(iri)})
    if not rows:
        return None
    return _link(rows[0], iri)


# -- the neighbourhood -----------------------------------------------------------------

class _Walk:
    """The claims read so far, by entity, with the filters applied."""

    def __init__(self, kb: KnowledgeBase, filters: Filters) -> None:
        self.kb = kb
        self.filters = filters
        self.areas = overlapping(kb, filters.area) if filters.area else None
        self.read: dict[str, list[Link]] = {}
        #: every claim read, whether it passes the filters or not
        self.seen: dict[str, Link | None] = {}
        self.dates: list[str] = []
        self.capped: list[str] = []

    def passes(self, link: Link) -> bool:
        f = self.filters
        if f.as_of is not None and link.date is not None and link.date[:10] > f.as_of.isoformat():
            return False
        if self.areas is not None and link.area not in self.areas:
            return False
        if f.election is not None and link.election != f.election:
            return False
        return not f.kinds or link.predicate in f.kinds

    def is_area(self, iri: str) -> bool:
        return bool(AREA_TYPES & {local_name(t) for t in self.kb.entity_index().types.get(iri, ())})

    def around(self, entity: str) -> list[Link]:
        """The claims about an entity, and for an area the claims placed in it or an area
        overlapping it, that pass the filters."""
        if entity not in self.read:
            found = _links(self.kb, entity)
            if self.is_area(entity):
                found = list({x.claim: x for x in found + _placed(self.kb, entity)}.values())
            if len(found) >= MAX_CLAIMS:
                self.capped.append(f"only the first {MAX_CLAIMS} claims about {self.kb.entity_index().label(entity)}")
            self.dates.extend(x.date[:10] for x in found if x.date)
            self.seen.update((x.claim, x) for x in found)
            self.read[entity] = [x for x in found if self.passes(x)]
        return self.read[entity]

    def claim(self, iri: str) -> Link | None:
        if iri not in self.seen:
            self.seen[iri] = _claim(self.kb, iri)
        return self.seen[iri]

    def stood(self, c: Clash) -> bool:
        """Whether a conflict stood on the replay date: none of its claims is later."""
        day = self.filters.as_of
        if day is None:
            return True
        dates = [x.date for x in map(self.claim, c.claims) if x is not None and x.date]
        return all(d[:10] <= day.isoformat() for d in dates)

    def grow(self, nodes: dict[str, int], start: list[str], depth: int, room: int) -> list[str]:
        """Add the neighbours of ``start`` out to ``depth`` steps, at most ``room`` of them."""
        frontier, added = start, list[str]()
        base = min((nodes[s] for s in start), default=0)
        for step in range(1, depth + 1):
            seen: Counter[str] = Counter()
            for entity in frontier:
                for link in self.around(entity):
                    if entity in (link.subject, link.object):
                        others = {link.object if link.subject == entity else link.subject}
                    else:  # a claim placed in the area: its ends, and the area it names
                        others = {link.subject, link.object, link.area or entity}
                    for other in others - nodes.keys():
                        seen[other] += 1
            chosen = sorted(seen, key=lambda iri: (-seen[iri], iri))
            if len(chosen) > room - len(added):
                chosen = chosen[: max(room - len(added), 0)]
                self.capped.append(f"{len(seen) - len(chosen)} more neighbours at {base + step} step(s)")
            for iri in chosen:
                nodes[iri] = base + step
            added.extend(chosen)
            frontier = chosen
            if not frontier:
                break
        return added


def _edge(key: tuple[str, str, str, bool, str | None]) -> Edge:
    return Edge(content_hash(*map(str, key))[:16], *key)


def neighbourhood(kb: KnowledgeBase, centre: str, *, depth: int = 1, filters: Filters = Filters(),
                  node_cap: int = DEFAULT_NODES, expand: tuple[str, ...] = (),
                  conflicts: list[Clash] | None = None) -> Chart:
    """The claims around ``centre`` out to ``depth`` steps, and around each entity in ``expand``.

    ``conflicts`` is the base's conflict set (:func:`conflict_set`), when the caller has it already.

    Raises:
        NotFoundError: ``centre`` is not an entity of the base.
        InputError: depth or caps out of range.
    """
    index = kb.entity_index()
    if centre not in index:
        raise NotFoundError(f"no entity <{centre}> in the base")
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"depth must be 1 to {MAX_DEPTH}")
    if not 1 <= node_cap <= MAX_NODES:
        raise InputError(f"nodes must be 1 to {MAX_NODES}")
    walk = _Walk(kb, filters)
    nodes = {centre: 0}
    walk.grow(nodes, [centre], depth, node_cap - 1)
    expanded = [centre]
    for entity in expand[:MAX_EXPAND]:
        if entity in nodes and entity not in expanded:
            walk.grow(nodes, [entity], 1, min(EXPAND_NODES, MAX_NODES - len(nodes)))
            expanded.append(entity)
    if len(expand) > MAX_EXPAND:
        walk.capped.append(f"only the first {MAX_EXPAND} expanded entities")
    links = {x.claim: x for e in nodes for x in walk.read.get(e, ()) if x.subject in nodes and x.object in nodes}
    clashes: dict[str, list[Clash]] = {}
    for c in conflict_set(kb) if conflicts is None else conflicts:
        for claim in c.claims:
            clashes.setdefault(claim, []).append(c)
    # the other side of every conflict a drawn claim is in, within a share of the node cap
    room, left_out = int(node_cap * PARTNER_SHARE), 0
    for claim in list(links):
        for c in clashes.get(claim, ()):
            if not walk.stood(c):
                continue
            for iri in sorted(c.claims - links.keys()):
                x = walk.claim(iri)
                if x is None or not walk.passes(x):
                    continue
                new = [e for e in dict.fromkeys((x.subject, x.object)) if e not in nodes]
                if len(new) > room:
                    left_out += 1
                    continue
                near = min((nodes[e] for e in (x.subject, x.object) if e in nodes), default=depth)
                for end in new:
                    nodes[end] = near + 1
                room -= len(new)
                links[iri] = x
    if left_out:
        walk.capped.append(f"{left_out} conflicting claims whose entities would pass the node cap")
    edges: dict[tuple[Any, ...], Edge] = {}
    for x in sorted(links.values(), key=lambda x: (x.date or "", x.claim)):
        key = (x.subject, x.predicate, x.object, x.negated, x.area)
        if key not in edges:
            edges[key] = _edge(key)
        edge = edges[key]
        edge.claims.append(x)
        for c in clashes.get(x.claim, ()):
            if c not in edge.conflicts and walk.stood(c):
                edge.conflicts.append(c)
    # where claims are placed, when the area is in the chart, and which region includes which area
    for x in links.values():
        if x.area in nodes:
            key = (x.subject, PLACED_IN, x.area, False, None)
            edges.setdefault(key, _edge(key)).claims.append(x)
    if sum(map(walk.is_area, nodes)) > 1:
        for r in kb.select(own_query("chart_includes")):
            key = (r["region"].value, INCLUDES, r["part"].value, False, None)
            if key[0] in nodes and key[2] in nodes:
                edges[key] = _edge(key)
    drawn = list(edges.values())
    if len(drawn) > MAX_EDGES:
        walk.capped.append(f"{len(drawn) - MAX_EDGES} more edges")
        drawn.sort(key=lambda e: (not e.conflicts, min(nodes[e.subject], nodes[e.object]), -len(e.claims), e.id))
        drawn = drawn[:MAX_EDGES]
    dates = sorted(walk.dates)
    return Chart(
        centre=centre, depth=depth, filters=filters, node_cap=node_cap,
        nodes={iri: Node(iri, index.label(iri), sorted(local_name(t) for t in index.types.get(iri, ())), d,
                         expanded=iri in walk.read)
               for iri, d in nodes.items()},
        edges=drawn, capped=walk.capped, first=dates[0] if dates else None, last=dates[-1] if dates else None,
    )
