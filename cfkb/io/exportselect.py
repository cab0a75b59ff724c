"""Choosing what an export carries: the claims its filters and the TLP release let out, and what they need.

:func:`select` takes the base as :mod:`cfkb.io.exportgraph` reads it and the
:class:`cfkb.io.tlp.Release` under the ceiling, keeps the released claims the
filters ask for (an entity, an area with what overlaps it, a source, dates;
only conflicting claims; only the accepted view), and adds the entities they
name, the assessments whose every target goes out and the blank nodes they
reach, each term checked against the release. Blank nodes are relabelled by
content (:func:`_canonical_bnodes`), so the same graph gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.io.exportconflicts import accepted_triples, conflict_keys, conflict_nodes, latest_statuses
from cfkb.io.exportgraph import (
    ACCEPTED_PREFIX,
    NT_ATTRIBUTED,
    NT_CITED_IN,
    NT_IN_AREA,
    NT_INCLUDES,
    NT_OBJECT,
    NT_PREDICATE,
    NT_STATED_IN,
    NT_STATED_ON,
    NT_STATEMENT,
    NT_SUBJECT,
    NT_SUPPORTED_BY,
    Graph,
    Pairs,
)
from cfkb.io.exportoptions import ExportOptions
from cfkb.io.tlp import LOCAL_RECORD, NT_OF_LEVEL, NT_TLP, NT_TYPE, Memo, Release, allowed, level_of
from cfkb.model.vocabulary import CONFLICT_PREFIX, content_hash
from cfkb.store.core import KnowledgeBase


def resolve_name(kb: KnowledgeBase, name: str | None) -> str | None:
    """The IRI (as N-Triples) of the entity a filter names, or None without one."""
    return f"<{kb.resolve_entity(name)}>" if name else None


def _overlapping(graph: Graph, area: str) -> set[str]:
    """The area, the regions that include it and the provinces it includes."""
    return overlapping(((s, o) for s, pairs in graph.items() for p, o in pairs if p == NT_INCLUDES), area)


def overlapping(edges: Iterable[tuple[str, str]], area: str) -> set[str]:
    """The area, and what includes it or it includes along ``edges`` (region, what it includes), transitively."""
    down: dict[str, set[str]] = defaultdict(set)
    up: dict[str, set[str]] = defaultdict(set)
    for s, o in edges:
        down[s].add(o)
        up[o].add(s)
    found = {area}
    for edges_of in (down, up):
        todo = [area]
        while todo:
            for nxt in edges_of[todo.pop()] - found:
                found.add(nxt)
                todo.append(nxt)
    return found


def _date_of(pairs: Pairs) -> str | None:
    for p, o in pairs:
        if p == NT_STATED_ON:
            return o[1:o.index('"', 1)]
    return None


def claim_matcher(*, entity: str | None, area: set[str] | None, source: str | None, since: dt.date | None,
                  until: dt.date | None) -> Callable[[Pairs], bool]:
    """Whether a claim's pairs match the filters (an entity, areas, a source, dates)."""
    lo = since.isoformat() if since else None
    hi = until.isoformat() if until else None

    def matches(pairs: Pairs) -> bool:
        if entity and not any(o == entity and p in (NT_SUBJECT, NT_OBJECT) for p, o in pairs):
            return False
        if area is not None and not any(p == NT_IN_AREA and o in area for p, o in pairs):
            return False
        if source and not any(o == source and p in (NT_STATED_IN, NT_ATTRIBUTED, NT_CITED_IN) for p, o in pairs):
            return False
        if lo or hi:
            day = _date_of(pairs)
            if day is None or (lo and day < lo) or (hi and day > hi):
                return False
        return True

    return matches


def _filter_claims(graph: Graph, claims: Iterable[str], *, entity: str | None, area: set[str] | None,
                   source: str | None, since: dt.date | None, until: dt.date | None) -> set[str]:
    matches = claim_matcher(entity=entity, area=area, source=source, since=since, until=until)
    return {c for c in claims if matches(graph[c])}

@dataclass
class Selection:
    """What goes out: the blocks per subject, the claims among them, and the conflicts as nodes."""

    blocks: Graph
    claims: set[str]
    conflict_triples: list[ox.Triple] = field(default_factory=list)



def add_accepted(blocks: Graph, accepted: Mapping[tuple[str, str, str], Iterable[str]]) -> None:
    """The accepted view into ``blocks``: each asserted triple on its subject, and a statement
    node for it naming the claims that support it."""
    for (s, p, o), claims in accepted.items():
        blocks.setdefault(s, []).append((p, o))
        node = f"<{ACCEPTED_PREFIX}{content_hash(s, p, o)}>"
        blocks[node] = [(NT_TYPE, NT_STATEMENT), (NT_SUBJECT, s), (NT_PREDICATE, p), (NT_OBJECT, o)]
        blocks[node] += [(NT_SUPPORTED_BY, c) for c in claims]

def select(kb: KnowledgeBase, graph: Graph, rel: Release, opts: ExportOptions, *,
           bnodes: bool = True) -> Selection:
    """What of the released base goes out under these options (``bnodes``: the base may hold blank nodes)."""
    entity, source = resolve_name(kb, opts.entity), resolve_name(kb, opts.source)
    area_iri = resolve_name(kb, opts.area)
    for name, iri in ((opts.entity, entity), (opts.area, area_iri), (opts.source, source)):
        if iri and not rel.may_name(iri):
            raise InputError(f"{name!r} is marked above the TLP ceiling {rel.ceiling} (or only withheld claims"
                             " mention it); nothing about it can be exported at this ceiling")
    area = _overlapping(graph, area_iri) if area_iri else None
    chosen = _filter_claims(graph, rel.claims, entity=entity, area=area, source=source,
                            since=opts.since, until=opts.until)
    kinds = rel.kinds
    need_conflicts = opts.conflicts_only or opts.accepted_view or any(k == "assessment" for k in kinds.values())
    conflicts = conflict_keys(kb) if need_conflicts else []
    released_conflicts = {k.iri: k for k in conflicts if k.claims <= rel.claims}
    conflict_triples: list[ox.Triple] = []
    if opts.conflicts_only:
        kept = [k for k in released_conflicts.values() if k.claims & chosen]
        chosen = set().union(*(k.claims for k in kept)) if kept else set()
        conflict_triples = conflict_nodes(kb, {k.iri for k in kept})
    accepted: dict[tuple[str, str, str], set[str]] = {}
    if opts.accepted_view:
        accepted = accepted_triples(graph, chosen, conflicts, latest_statuses(kb))
        chosen = set().union(*accepted.values()) if accepted else set()

    default_tlp = NT_OF_LEVEL[rel.default]
    # Whether a term may appear, decided once per distinct term: claims name
    # the same entities and literals over and over.
    keep = Memo(lambda o: rel.may_name(o) if o[0] == "<" else
                    _bnode_releasable(graph, rel, o, set()) if o[0] == "_" else True)
    keep_term = keep.__getitem__

    def marked(pairs: Pairs) -> Pairs:
        return pairs if NT_TLP in dict(pairs) else pairs + [(NT_TLP, default_tlp)]

    blocks: Graph = {}
    for c in chosen:
        blocks[c] = marked([(p, o) for p, o in graph[c] if p not in LOCAL_RECORD and keep_term(o)])
    # entities: all that may leave, or, for a subset, those its claims name (and what they name)
    if opts.subset:
        todo = [o for c in chosen for _, o in blocks[c] if o in graph and kinds.get(o) == "entity"]
    else:
        todo = [s for s, k in kinds.items() if k in ("entity", "vocabulary")]
    while todo:
        e = todo.pop()
        if e in blocks or (kinds.get(e) == "entity" and e not in rel.nodes):
            continue
        if kinds.get(e) == "vocabulary" and not allowed(rel.levels[e], rel.ceiling):
            continue  # what the base says about a term, marked (or by default) above the ceiling
        pairs = [(p, o) for p, o in graph[e] if keep_term(p) and keep_term(o)]
        blocks[e] = marked(pairs)
        if opts.subset:
            todo.extend(o for _, o in pairs if o in graph and kinds.get(o) == "entity" and o not in blocks)
    # assessments, when everything they touch goes out; analysts stay home
    for a, k in kinds.items():
        if k != "assessment":
            continue
        refs = [o for _, o in graph[a] if o[0] == "<"]
        targets_ok = all(
            (o in blocks) if kinds.get(o) in ("claim", "entity")
            else (o in released_conflicts and released_conflicts[o].claims <= chosen)
            if o.startswith("<" + CONFLICT_PREFIX)
            else True
            for o in refs
        )
        if targets_ok and any(o in blocks or o in released_conflicts for o in refs):
            blocks[a] = [(p, o) for p, o in graph[a] if keep_term(o)]
    add_accepted(blocks, accepted)
    if not bnodes:  # nothing in the base is a blank node: nothing to follow or relabel
        return Selection(blocks=blocks, claims=chosen, conflict_triples=conflict_triples)
    # blank nodes go with what refers to them
    todo = [o for pairs in blocks.values() for _, o in pairs if o[0] == "_"]
    while todo:
        b = todo.pop()
        if b in blocks or b not in graph:
            continue
        blocks[b] = [(p, o) for p, o in graph[b] if keep_term(o)]
        todo.extend(o for _, o in blocks[b] if o[0] == "_")
    return Selection(blocks=_canonical_bnodes(blocks), claims=chosen, conflict_triples=conflict_triples)


def _bnode_releasable(graph: Graph, rel: Release, node: str, seen: set[str]) -> bool:
    if node in seen:
        return True
    seen.add(node)
    pairs = graph.get(node, [])
    if any(p == NT_TLP for p, _ in pairs) and not allowed(level_of(pairs, rel.default), rel.ceiling):
        return False
    return all(rel.may_name(o) if o[0] == "<" else
               _bnode_releasable(graph, rel, o, seen) if o[0] == "_" else True for _, o in pairs)


def _canonical_bnodes(blocks: Graph) -> Graph:
    """Relabel blank nodes by what they say and what points at them, so that
    the same graph in another base gets the same labels (and bytes)."""
    labels = bnode_labels(blocks)
    if not labels:
        return blocks

    def relabel(t: str) -> str:
        return labels.get(t, t)

    return {relabel(s): [(p, relabel(o)) for p, o in pairs] for s, pairs in blocks.items()}


def bnode_labels(blocks: Graph) -> dict[str, str]:
    """The label of each blank node of the blocks (as subject or object), by what it says and what points at it."""
    bnodes = sorted(s for s in blocks if s[0] == "_")
    dangling = {o for pairs in blocks.values() for _, o in pairs if o[0] == "_"} - set(blocks)
    bnodes += sorted(dangling)
    if not bnodes:
        return {}
    incoming: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for s, pairs in blocks.items():
        for p, o in pairs:
            if o[0] == "_":
                incoming[o].append((s, p))
    sig = {b: "" for b in bnodes}
    for _ in range(3):  # a few rounds of refinement, Weisfeiler-Lehman style
        def term(t: str, sig: dict[str, str] = sig) -> str:  # this round reads the last round's signatures
            return "_:" + sig[t] if t in sig else t

        sig = {b: content_hash(*sorted(p + " " + term(o) for p, o in blocks.get(b, [])),
                               "\x1e", *sorted(term(s) + " " + p for s, p in incoming[b])) for b in bnodes}
    labels: dict[str, str] = {}
    used: dict[str, int] = defaultdict(int)
    for b in sorted(bnodes, key=lambda b: sig[b]):
        n = used[sig[b]]
        used[sig[b]] += 1
        labels[b] = f"_:b{sig[b][:16]}" + (f"x{n}" if n else "")
    return labels
