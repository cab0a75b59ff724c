"""Interested parties: a speaker talking about its own side.

A speaker is a party to an entity it leads, is the political wing of, or is
a member of, directly or in at most :data:`STAKE_STEPS` steps (Khazali leads
AAH, which leads Safwa). The conflict views flag such claims and say why.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import pyoxigraph as ox

from cfkb.engine.common import TEXTS, texts
from cfkb.model.vocabulary import CFKB_NS, RDF_NS
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query

#: The relations that make a speaker a party to what a claim is about, read
#: from the speaker upwards: what it leads, is the political wing of, or is a
#: member of. Never downwards (a coalition's other members are not the
#: speaker's side), nor through alliances or support.
STAKE_RELATIONS = ("leads", "politicalWingOf", "memberOf")
#: How many such steps a stake may take: Khazali leads AAH, which leads Safwa.
STAKE_STEPS = 2
_STAKE_WORDS = {"leads": "leads", "politicalWingOf": "is the political wing of", "memberOf": "is a member of"}
#: One step up from ?a: asserted (not negated) claims, and gazetteer relations. Each file lists
#: :data:`STAKE_RELATIONS` in its VALUES block.
def _up_texts() -> tuple[str, str]:
    return own_query("stake_step_claimed"), own_query("stake_step_gazetteer")

#: How many entities one request for their gazetteer relations names.
_NODES_PER_QUERY = 500
#: A base in memory reads every edge at once after this many nodes were looked up one by one.
PRELOAD_AFTER = 32

#: The bases a :meth:`Stakes.prepare` has read a few speakers' edges of, in this process: the
#: next one reads every edge instead, kept for later pages (:data:`_EDGES`).
_PREPARED: weakref.WeakSet[KnowledgeBase] = weakref.WeakSet()

#: A stake: the steps from the speaker to the entity, as (relation, entity).
Path = tuple[tuple[str, str], ...]

#: Every edge of a base as :meth:`Stakes.preload` read it, with the generation it was read at:
#: the edges are claims and gazetteer relations, so no write that leaves the generation moves them.
_EDGES: weakref.WeakKeyDictionary[KnowledgeBase, tuple[str, dict[str, set[tuple[str, str]]]]] = \
    weakref.WeakKeyDictionary()


def _claimed_within(table: Any, nodes: list[str], steps: int) -> dict[str, set[tuple[str, str]]]:
    """The asserted claims of :data:`STAKE_RELATIONS` (from the claim table) one step up from each
    node that ``nodes`` reach in fewer than ``steps`` such claims, every one of those nodes a key
    (an empty set for one with none): one statement, one scan of the table, for the whole walk."""
    # a level of the walk per step (a recursive CTE costs more here: 63 against 48 ms at 100k claims)
    levels = [f"l1 AS MATERIALIZED (SELECT s, p, o FROM up WHERE s IN (SELECT {TEXTS}))"]
    levels += [f"l{i} AS MATERIALIZED (SELECT s, p, o FROM up WHERE s IN (SELECT o FROM l{i - 1}))"
               for i in range(2, steps + 1)]
    rows = table.con.execute(
        "WITH up AS MATERIALIZED (SELECT s, p, o FROM claims WHERE neg = false AND o IS NOT NULL"
        f" AND p IN (SELECT {TEXTS})), " + ", ".join(levels) + " "
        + " UNION ".join(f"SELECT s, p, o FROM l{i}" for i in range(1, steps + 1)),
        [texts(CFKB_NS + r for r in STAKE_RELATIONS), texts(nodes)]).fetchall()
    reached, frontier = set(nodes), set(nodes)
    for _ in range(steps - 1):
        frontier = {b for a, _, b in rows if a in frontier}
        reached |= frontier
    edges: dict[str, set[tuple[str, str]]] = {node: set() for node in reached}
    for a, p, b in rows:
        edges[a].add((p.rsplit("#", 1)[-1], b))
    return edges


class Stakes:
    """For each speaker, the entities it is a party to, each with the
    shortest path of :data:`STAKE_RELATIONS` that makes it one (at most
    :data:`STAKE_STEPS`). Worked out per speaker when first asked, so a view
    of a few claims does not walk the whole base."""

    def __init__(self, kb: KnowledgeBase, table: Any = None) -> None:
        self.kb = kb
        #: an open claim table current for ``kb`` (:class:`cfkb.engine.table.ClaimTable`), to read
        #: instead of opening it again
        self.table = table
        self._of: dict[str, dict[str, Path]] = {}
        #: each node's steps up in order, as :meth:`of` walks them (many speakers share the nodes above them)
        self._ordered: dict[str, list[tuple[str, str]]] = {}
        self._up: dict[str, set[tuple[str, str]]] = {}
        self._preloaded = False

    def preload(self) -> None:
        """Read every edge at once: cheaper than one speaker at a time when
        more than a few speakers will be asked. The asserted claims come from
        the claim table (:mod:`cfkb.engine.table`), the gazetteer's relations
        from one index scan each."""
        from cfkb.engine.table import open_table  # deferred: loads duckdb

        generation = self.table.generation if self.table is not None else self.kb.generation()
        held = _EDGES.get(self.kb)
        if held is not None and held[0] == generation:
            self._up, self._preloaded = held[1], True
            return
        edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
        with open_table(self.kb) if self.table is None else nullcontext(self.table) as table:
            for a, p, b in table.con.execute(
                    "SELECT s, p, o FROM claims WHERE neg = false AND s IS NOT NULL AND o IS NOT NULL"
                    f" AND p IN (SELECT {TEXTS})",
                    [texts(CFKB_NS + r for r in STAKE_RELATIONS)]).fetchall():
                edges[a].add((p.rsplit("#", 1)[-1], b))
        if self.kb.path is None:
            self._gazetteer_edges(edges)
            self._up, self._preloaded = edges, True
            _EDGES[self.kb] = (generation, edges)
            return
        claim_type = ox.NamedNode(CFKB_NS + "Claim")
        rdf_type = ox.NamedNode(RDF_NS + "type")
        for relation in STAKE_RELATIONS:
            for q in self.kb.store.quads_for_pattern(None, ox.NamedNode(CFKB_NS + relation), None, None):
                if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode) \
                        and not any(True for _ in self.kb.store.quads_for_pattern(q.subject, rdf_type, claim_type)):
                    edges[q.subject.value].add((relation, q.object.value))
        self._up, self._preloaded = edges, True
        _EDGES[self.kb] = (generation, edges)

    def prepare(self, actors: Iterable[str]) -> None:
        """Read the edges within :data:`STAKE_STEPS` of these speakers at once: a page's few
        dozen speakers cost two short reads, not every edge of the base (:meth:`preload`)."""
        if self._preloaded or self.kb.in_memory:
            return  # every edge is read already, or a base in memory, asked node by node
        if self.kb in _PREPARED:  # a process that shows page after page (a server): read them all, once
            self.preload()
            return
        _PREPARED.add(self.kb)
        from cfkb.engine.table import open_table  # deferred: loads duckdb

        frontier = sorted({a for a in actors if a not in self._up})
        claimed: dict[str, set[tuple[str, str]]] = {}
        with open_table(self.kb) if self.table is None else nullcontext(self.table) as table:
            for step in range(STAKE_STEPS):
                if not frontier:
                    break
                # the claim table is read once for the whole walk up from the speakers; only a node
                # reached through a gazetteer relation alone needs a read of its own
                missing = [node for node in frontier if node not in claimed]
                if missing:
                    claimed.update(_claimed_within(table, missing, STAKE_STEPS - step))
                found = self._gazetteer_steps(frontier)
                for node in frontier:
                    self._up[node] = claimed.get(node, set()) | found.get(node, set())
                frontier = sorted({b for node in frontier for _, b in self._up[node] if b not in self._up})

    def _gazetteer_steps(self, nodes: list[str]) -> dict[str, set[tuple[str, str]]]:
        """The gazetteer relations (not claims) one step up from each node, in a request per
        :data:`_NODES_PER_QUERY` nodes."""
        edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for start in range(0, len(nodes), _NODES_PER_QUERY):
            chunk = [ox.NamedNode(n) for n in nodes[start:start + _NODES_PER_QUERY]]
            for r in self.kb.select(own_query("stake_step_gazetteer"), values=("a", chunk)):
                edges[r["a"].value].add((r["p"].value.rsplit("#", 1)[-1], r["b"].value))
        return edges

    def _gazetteer_edges(self, edges: dict[str, set[tuple[str, str]]]) -> None:
        """The gazetteer's relations (not claims) in one query: a server would
        take a request per relation and per statement to check it is no claim."""
        for r in self.kb.select(own_query("stake_gazetteer_edges")):
            edges[r["a"].value].add((r["p"].value.rsplit("#", 1)[-1], r["b"].value))

    def _steps(self, node: str) -> set[tuple[str, str]]:
        if node in self._up:  # prepared, or asked before
            return self._up[node]
        if not self._preloaded and (not self.kb.in_memory or len(self._up) >= PRELOAD_AFTER):
            # a base on disk, or on a server, has a claim table: one read of it beats a query per node
            self.preload()
        if self._preloaded:
            return self._up.get(node, set())
        if node not in self._up:  # a base in memory: one node's two queries
            found: set[tuple[str, str]] = set()
            for text in _up_texts():
                for r in self.kb.select(text, {"a": ox.NamedNode(node)}, plan_with_bindings=True):
                    found.add((r["p"].value.rsplit("#", 1)[-1], r["b"].value))
            self._up[node] = found
        return self._up[node]

    def of(self, actor: str) -> dict[str, Path]:
        """The entities ``actor`` is a party to, with the path to each (itself: no steps)."""
        if actor not in self._of:
            paths: dict[str, Path] = {actor: ()}
            frontier = [actor]
            for _ in range(STAKE_STEPS):
                nxt = []
                for node in frontier:
                    ordered = self._ordered.get(node)
                    if ordered is None:
                        ordered = self._ordered[node] = sorted(self._steps(node))
                    for relation, target in ordered:
                        if target not in paths:
                            paths[target] = paths[node] + ((relation, target),)
                            nxt.append(target)
                frontier = nxt
            self._of[actor] = paths
        return self._of[actor]


def interest(stakes: Stakes, speaker: str | None, subject: str, obj: str | None = None,
             label: Callable[[str], str] = str) -> str | None:
    """Why the speaker is a party to what the claim is about, or None:
    'Hossein Moanes leads Harakat Hoquq'; 'Qais al-Khazali leads AAH, which
    leads Tahalof al-Safwa al-Watani'; 'Hossein Moanes is the claim's subject'."""
    if not speaker:
        return None
    paths = stakes.of(speaker)
    found = [(len(paths[e]), e) for e in (subject, obj) if e and e in paths]
    if not found:
        return None
    _, target = min(found)
    path = paths[target]
    if not path:
        return f"{label(speaker)} is the claim's {'subject' if target == subject else 'object'}"
    words = [f"{label(speaker)} {_STAKE_WORDS[path[0][0]]} {label(path[0][1])}"]
    words += [f"which {_STAKE_WORDS[relation]} {label(node)}" for relation, node in path[1:]]
    return ", ".join(words)


def interested(stakes: Stakes, speaker: str | None, subject: str, obj: str | None = None) -> bool:
    """True when the speaker talks about its own side (Moanes about Hoquq)."""
    return interest(stakes, speaker, subject, obj) is not None
