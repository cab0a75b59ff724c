"""The export in bounded memory: Turtle, TriG, N-Triples, N-Quads and JSON-LD written as they are made.

The same release and selection as :func:`cfkb.io.tlp.release` and
:func:`cfkb.io.exportselect.select`, and the same bytes, without holding the
base: :func:`cfkb.io.exportspill.read_spilled` reads the dump once, keeps
the subjects that are not claim IRIs (entities, sources, vocabulary,
assessments, blank nodes: what the release needs to judge a claim) and
spills the claims to bucket files that give them back in IRI order. Then:

1. every claim is judged as it is read back (its marking, and whether every
   IRI it names may be named); what is kept per claim is one byte (released
   and matching the filters) in IRI order, the count of withheld claims, and
   which released entities the claims mention;
2. for a subset (a filter, conflicts only, the accepted view) or a base with
   blank nodes, a second pass collects what the kept claims need beside
   them (the entities they name, the blank nodes they reach, the accepted
   view's triples);
3. the entities, assessments, statements and blank nodes that go out are
   chosen in memory as the selection does, and the header is made (it
   counts the claims, so it waits for step 1);
4. the header, the claims read back a last time in IRI order, each filtered
   and written at once, then the other blocks in their order. JSON-LD's
   nodes go by their compacted ``@id``: the claims' nodes come in that order
   (checked as they come), the others are merged in
   (:func:`cfkb.io.exportjsonld.jsonld_pieces`); the text goes to a file
   beside the spill first, since what rdflib's serialiser must write instead
   (RDF lists, a value it would drop, claims whose names sort otherwise) may
   only show late, and then the export holds the base after all.

An IRI in the claims' namespace that a kept block names (an assessment's
target, say) is judged from the store itself, the way the dump would have
shown it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.io.exportconflicts import (
    ConflictKey,
    accepted_triple,
    conflict_keys,
    conflict_nodes,
    contested_claims,
    latest_statuses,
)
from cfkb.io.exportgraph import (
    NT_INCLUDES,
    Pairs,
)
from cfkb.io.exportheader import filters_of, header
from cfkb.io.exportjsonld import NotPlain, jsonld_pieces
from cfkb.io.exportnanopub import OutOfOrder, nanopub_pieces
from cfkb.io.exportoptions import ExportOptions, ExportResult
from cfkb.io.exportpieces import CHUNK, MEMO, Counted, Memo, chain, merge_sorted, write_chunked
from cfkb.io.exportselect import add_accepted, bnode_labels, claim_matcher, overlapping, resolve_name
from cfkb.io.exportspill import CLAIM_NT, Spilled, read_spilled
from cfkb.io.exportwrite import Shortener, block_order, nt_pieces, turtle_pieces
from cfkb.io.tlp import (
    LOCAL_RECORD,
    NT_OF_LEVEL,
    NT_TLP,
    NT_TYPE,
    _bnode_ok,
    allowed,
    default_level,
    effective_ceiling,
    is_private,
    is_vocabulary,
    kind_of,
    level_of,
)
from cfkb.model.vocabulary import CFKB, CONFLICT_PREFIX, INTERNAL_GRAPHS, PREFIXES, TLP_LEVELS
from cfkb.store.core import KnowledgeBase

#: The formats written this way (JSON-LD unless rdflib must make its nodes), and the nanopublication
#: profile (unless its claims' names sort otherwise than their IRIs).
STREAMED = ("turtle", "trig", "nt", "nq", "jsonld")
_SKIP = LOCAL_RECORD | {NT_TLP}

Facts = tuple[str | None, str, bool, bool]  # kind (None: not a subject), marking, hidden, a releasable entity


def export_streamed(kb: KnowledgeBase, opts: ExportOptions, write: Callable[[str], object]) -> ExportResult | None:
    """Export in one of :data:`STREAMED` formats, handing the text to ``write`` piece by piece
    (the result's ``text`` is empty); None, with nothing written, for JSON-LD that rdflib's serialiser
    must make (:func:`cfkb.io.exportjsonld.write_jsonld`: the export then holds the base)."""
    with tempfile.TemporaryDirectory(prefix="cfkb-export-") as tmp:
        return _Export(kb, opts, read_spilled(kb.store, Path(tmp))).run(write)


class _Export:
    def __init__(self, kb: KnowledgeBase, opts: ExportOptions, spill: Spilled) -> None:
        self.kb, self.opts, self.spill = kb, opts, spill
        self.graph = spill.graph
        self.ceiling = effective_ceiling(opts.ceiling)
        self.default = default_level(kb)
        self.ok_levels = frozenset(level for level in TLP_LEVELS if allowed(level, self.ceiling))
        self.default_ok = allowed(self.default, self.ceiling)
        self.kinds: dict[str, str] = {}
        self.levels: dict[str, str] = {}
        self.hidden: set[str] = set()
        #: each entity that may leave: 0 no claim mentions it, 1 only withheld claims do, 3 a released claim does
        #: (its keys are the kept graph's strings: a claim read back adds none)
        self.mentions: dict[str, int] = {}
        self.rest_claims: list[str] = []
        self._facts: dict[str, Facts] = {}
        for s, pairs in self.graph.items():
            self._know(s, pairs)
        self.decided = Memo(lambda o: self._may_name_released(o) if o[0] == "<" else
                             _bnode_ok(self.graph, o, self._may_name_released, self.ceiling, self.default, set()))
        self.withheld = 0
        self.released_of: dict[str, bool] = {}
        self.chosen_of: dict[str, bool] = {}
        self.matches: Callable[[Pairs], bool] | None = None
        #: the claims that go out, when a conflict or the accepted view chose them (else the flags say)
        self.explicit: set[str] | None = None
        self.keep = Memo(lambda o: self.may_name(o) if o[0] == "<" else
                          self._bnode_releasable(o, set()) if o[0] == "_" else True)
        self.default_tlp = NT_OF_LEVEL[self.default]

    # -- what the base says about a subject -------------------------------------------

    def _facts_of(self, s: str, pairs: Pairs) -> tuple[str, str, bool, bool]:
        marks = [(p, o) for p, o in pairs if p in (NT_TYPE, NT_TLP)]
        kind = kind_of(s, marks)
        level = level_of(marks, self.default)
        hidden = kind != "entity" and any(p == NT_TLP for p, _ in marks) and level not in self.ok_levels
        return kind, level, hidden, kind == "entity" and level in self.ok_levels

    def _know(self, s: str, pairs: Pairs) -> None:
        kind, level, hidden, ok = self._facts_of(s, pairs)
        self.kinds[s] = kind
        if kind == "vocabulary":  # (the only level read once the release is made)
            self.levels[s] = level
        if kind == "claim":
            self.rest_claims.append(s)
        if ok:
            self.mentions.setdefault(s, 0)
        if hidden:
            self.hidden.add(s)

    def store_pairs(self, term: str) -> Pairs | None:
        """A subject's pairs as the dump would give them (None: not a subject of the base)."""
        try:
            node = ox.NamedNode(term[1:-1])
        except ValueError:
            return None
        pairs = [(str(q.predicate), str(q.object)) for q in self.kb.store.quads_for_pattern(node, None, None, None)
                 if q.graph_name not in INTERNAL_GRAPHS or q.predicate == CFKB.tlp]
        return pairs or None

    def facts(self, term: str) -> Facts:
        """What the base says about an IRI in the claims' namespace, read from the store."""
        found = self._facts.get(term)
        if found is None:
            pairs = self.store_pairs(term)
            found = self._facts[term] = (self._facts_of(term, pairs) if pairs is not None
                                         else (None, self.default, False, False))
        return found

    def kind(self, term: str) -> str | None:
        return self.facts(term)[0] if term.startswith(CLAIM_NT) else self.kinds.get(term)

    def is_hidden(self, term: str) -> bool:
        return self.facts(term)[2] if term.startswith(CLAIM_NT) else term in self.hidden

    def is_ok_entity(self, term: str) -> bool:
        return self.facts(term)[3] if term.startswith(CLAIM_NT) else term in self.mentions

    # -- the release (cfkb.io.tlp.release) ----------------------------------------------

    def _by_kind(self, term: str) -> bool | None:
        """Whether a term that is no released node may be named, where its marking, its kind or
        its namespace decide (None: the base's default marking does)."""
        if self.is_hidden(term):
            return False
        kind = self.kind(term)
        if is_vocabulary(term) and (kind or "vocabulary") == "vocabulary":
            return True
        if kind is not None or is_private(term):
            return False
        return None

    def _may_name_released(self, term: str) -> bool:
        if self.is_ok_entity(term):
            return True
        decided = self._by_kind(term)
        return self.default_ok if decided is None else decided

    def _judge(self, c: str, pairs: Pairs) -> tuple[bool, list[str]]:
        """Whether a claim may leave, and the IRIs and blank nodes it names."""
        refs = [o for p, o in pairs if (o[0] == "<" and p not in _SKIP) or o[0] == "_"]
        return level_of(pairs, self.default) in self.ok_levels and all(map(self.decided.__getitem__, refs)), refs

    def _claim(self, c: str, pairs: Pairs) -> bool:
        """Judge a claim, count it and note the entities it mentions; whether it goes out (filters too)."""
        ok, refs = self._judge(c, pairs)
        mentions = self.mentions
        seen = 3 if ok else 1
        for r in refs:
            if self.is_ok_entity(r):
                mentions[r] = mentions.get(r, 0) | seen
        if not ok:
            self.withheld += 1
            return False
        return self.matches is None or self.matches(pairs)

    def released(self, term: str) -> bool:
        """Whether a claim may leave (any IRI: False for what is no claim)."""
        found = self.released_of.get(term)
        if found is None:
            pairs = self.graph.get(term) or self.store_pairs(term)
            found = pairs is not None and kind_of(term, pairs) == "claim" and self._judge(term, pairs)[0]
            self.released_of[term] = found
        return found

    def _chosen_by_filters(self, term: str) -> bool:
        found = self.chosen_of.get(term)
        if found is None:
            pairs = self.graph.get(term) or self.store_pairs(term)
            found = (self.released(term) and pairs is not None
                     and (self.matches is None or self.matches(pairs)))
            self.chosen_of[term] = found
        return found

    def chosen(self, term: str) -> bool:
        """Whether a claim goes out."""
        return term in self.explicit if self.explicit is not None else self._chosen_by_filters(term)

    def nodes(self, term: str) -> bool:
        """Whether an IRI is one of the release's nodes (a claim or entity that may leave)."""
        if self.is_ok_entity(term):
            return self.mentions.get(term, 0) != 1
        return self.kind(term) == "claim" and self.released(term)

    def may_name(self, term: str) -> bool:
        """:meth:`cfkb.io.tlp.Release.may_name`."""
        if self.nodes(term):
            return True
        decided = self._by_kind(term)
        return term.startswith("<") and self.default_ok if decided is None else decided

    def _bnode_releasable(self, node: str, seen: set[str]) -> bool:
        if node in seen:
            return True
        seen.add(node)
        pairs = self.graph.get(node, [])
        if any(p == NT_TLP for p, _ in pairs) and not allowed(level_of(pairs, self.default), self.ceiling):
            return False
        return all(self.may_name(o) if o[0] == "<" else
                   self._bnode_releasable(o, seen) if o[0] == "_" else True for _, o in pairs)

    def keep_term(self, o: str) -> bool:
        return o[0] == '"' or self.keep[o]

    def marked(self, pairs: Pairs) -> Pairs:
        return pairs if any(p == NT_TLP for p, _ in pairs) else pairs + [(NT_TLP, self.default_tlp)]

    def claim_block(self, pairs: Pairs) -> Pairs:
        keep = self.keep
        return self.marked([(p, o) for p, o in pairs if p not in LOCAL_RECORD and (o[0] == '"' or keep[o])])

    # -- the export ----------------------------------------------------------------------

    def run(self, write: Callable[[str], object]) -> ExportResult | None:
        opts, kb, graph, kinds = self.opts, self.kb, self.graph, self.kinds
        when = (opts.when or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
        entity, source = resolve_name(kb, opts.entity), resolve_name(kb, opts.source)
        area_iri = resolve_name(kb, opts.area)
        if entity or area_iri or source or opts.since or opts.until:
            edges = [(s, o) for s, pairs in graph.items() for p, o in pairs if p == NT_INCLUDES] + self.spill.includes
            self.matches = claim_matcher(entity=entity, area=overlapping(edges, area_iri) if area_iri else None,
                                         source=source, since=opts.since, until=opts.until)
        conflicts: list[ConflictKey] | None = None
        if opts.conflicts_only or opts.accepted_view or "assessment" in kinds.values():
            conflicts = conflict_keys(kb)
        watch = {t for pairs in graph.values() for p, o in pairs for t in (p, o) if t.startswith(CLAIM_NT)}
        watch.update(c for k in conflicts or () for c in k.claims)

        # 1. every claim judged; one byte each, in IRI order
        chosen_count = 0
        for c in self.rest_claims:
            before = self.withheld
            chosen = self._claim(c, graph[c])
            self.released_of[c] = self.withheld == before
            self.chosen_of[c] = chosen
            chosen_count += chosen
        flags = bytearray()
        odd: dict[str, Pairs] = {}
        for s, pairs in self.spill.blocks():
            if kind_of(s, pairs) != "claim":
                odd[s] = pairs
                flags.append(0)
                continue
            before = self.withheld
            chosen = self._claim(s, pairs)
            flags.append(chosen)
            chosen_count += chosen
            if s in watch:
                self.released_of[s] = self.withheld == before
                self.chosen_of[s] = chosen
        for s, pairs in odd.items():  # claim-named subjects that are no claims: judged like the rest
            graph[s] = pairs
            self._know(s, pairs)
        if conflicts is None and "assessment" in kinds.values():
            conflicts = conflict_keys(kb)
        conflicts = conflicts or []

        for name, iri in ((opts.entity, entity), (opts.area, area_iri), (opts.source, source)):
            if iri and not self.may_name(iri):
                raise InputError(f"{name!r} is marked above the TLP ceiling {self.ceiling} (or only withheld claims"
                                 " mention it); nothing about it can be exported at this ceiling")
        released_conflicts = {k.iri: k for k in conflicts if all(map(self.released, k.claims))}
        conflict_triples: list[ox.Triple] = []
        if opts.conflicts_only:
            kept = [k for k in released_conflicts.values() if any(map(self._chosen_by_filters, k.claims))]
            self.explicit = set().union(*(k.claims for k in kept)) if kept else set()
            conflict_triples = conflict_nodes(kb, {k.iri for k in kept})

        # 2. what the claims that go out need beside them
        accepted: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        entities: set[str] = set()
        claim_bnodes: dict[str, Pairs] = {}
        if opts.subset or self.spill.bnodes:
            contested = contested_claims(conflicts, latest_statuses(kb)) if opts.accepted_view else set()
            contributors: set[str] = set()

            def visit(c: str, pairs: Pairs) -> None:
                if opts.accepted_view:
                    triple = accepted_triple(pairs, contested, c)
                    if triple is None:
                        return
                    accepted[triple].add(c)
                    contributors.add(c)
                block = self.claim_block(pairs)
                if opts.subset:
                    entities.update(o for _, o in block if o in graph and kinds.get(o) == "entity")
                if self.spill.bnodes:
                    found = [(p, o) for p, o in block if o[0] == "_"]
                    if found:
                        claim_bnodes[c] = found

            explicit = self.explicit
            for c in self.rest_claims:
                if c in explicit if explicit is not None else self.chosen_of[c]:
                    visit(c, graph[c])
            for i, (s, pairs) in enumerate(self.spill.blocks()):
                if s in explicit if explicit is not None else flags[i]:
                    visit(s, pairs)
            if opts.accepted_view:
                self.explicit = contributors
        if self.explicit is not None:
            chosen_count = len(self.explicit)

        # 3. the other blocks that go out, chosen as the selection does
        blocks = self._other_blocks(entities, released_conflicts, accepted)
        labels: dict[str, str] = {}
        if self.spill.bnodes:
            todo = [o for pairs in blocks.values() for _, o in pairs if o[0] == "_"]
            todo += [o for pairs in claim_bnodes.values() for _, o in pairs]
            while todo:
                b = todo.pop()
                if b in blocks or b not in graph:
                    continue
                blocks[b] = [(p, o) for p, o in graph[b] if self.keep_term(o)]
                todo.extend(o for _, o in blocks[b] if o[0] == "_")
            view = dict(blocks)
            for c, pairs in claim_bnodes.items():
                view[c] = view.get(c, []) + pairs
            labels = bnode_labels(view)
            if labels:
                blocks = {labels.get(s, s): [(p, labels.get(o, o)) for p, o in pairs] for s, pairs in blocks.items()}
        for t in conflict_triples:
            blocks.setdefault(str(t.subject), []).append((str(t.predicate), str(t.object)))

        # 4. the header, the claims in IRI order, the rest
        filters = filters_of(kb, opts)
        iri, head = header(opts, ceiling=self.ceiling, default=self.default, withheld=self.withheld,
                           claims=chosen_count, when=when, filters=filters)
        mem_claims = sorted(s for s in blocks if s.startswith(CLAIM_NT))
        rest = {s: pairs for s, pairs in blocks.items() if not s.startswith(CLAIM_NT)}
        ordered = merge_sorted(self._claim_blocks(flags, labels), [(s, blocks[s]) for s in mem_claims])
        counted = Counted(ordered)
        if opts.profile == "nanopub":
            # the claims named as claims, in IRI order; the other claims held; the rest is the default graph
            counted = Counted(self._claim_blocks(flags, labels))
            held = {c: rest.pop(c) for c in self.rest_claims if c in rest}
            rest.update((s, blocks[s]) for s in mem_claims)
            if not self._via_file(nanopub_pieces(opts.format, iri, head, rest, counted, when, opts, held=held),
                                  write, OutOfOrder):
                return None
            rest.update(held)
        elif opts.format == "jsonld":
            stream_bnodes = {c: [(p, labels.get(o, o)) for p, o in pairs] for c, pairs in claim_bnodes.items()}
            if not self._via_file(jsonld_pieces(counted, rest, (iri, head), dict(PREFIXES), stream_bnodes, MEMO),
                                  write, NotPlain):
                return None
        else:
            everything = chain(counted, ((s, rest[s]) for s in block_order(rest)))
            if opts.format in ("nt", "nq"):
                pieces = nt_pieces(everything, (iri, head))
            else:
                pieces = turtle_pieces(everything, dict(PREFIXES), header=(iri, head), trig=opts.format == "trig",
                                       short=Shortener(dict(PREFIXES), limit=MEMO))
            write_chunked(pieces, write)
        triples = counted.triples + sum(len(pairs) for pairs in rest.values())
        return ExportResult(text="", iri=iri[1:-1], claims=chosen_count, withheld=self.withheld,
                            ceiling=self.ceiling, triples=triples, filters=filters)

    def _via_file(self, pieces: Iterable[str], write: Callable[[str], object], refusal: type[Exception]) -> bool:
        """Write the pieces to a file beside the spill, then hand it to ``write``; False (nothing written)
        when making them raised ``refusal`` (JSON-LD that rdflib must make, claims whose nanopublications
        come out of order): the export then holds the base."""
        path = self.spill.directory / "export.out"
        try:
            with open(path, "w", encoding="utf-8") as out:
                write_chunked(pieces, out.write)
        except refusal:
            return False
        with open(path, encoding="utf-8") as done:
            while chunk := done.read(CHUNK):
                write(chunk)
        return True

    def _claim_blocks(self, flags: bytearray, labels: dict[str, str]) -> Iterator[tuple[str, Pairs]]:
        explicit = self.explicit
        for i, (s, pairs) in enumerate(self.spill.blocks()):
            if not (s in explicit if explicit is not None else flags[i]):
                continue
            block = self.claim_block(pairs)
            if labels:
                block = [(p, labels.get(o, o)) for p, o in block]
            yield s, block

    def _other_blocks(self, entities: set[str], released_conflicts: dict[str, ConflictKey],
                      accepted: dict[tuple[str, str, str], set[str]]) -> dict[str, Pairs]:
        """Every block that goes out but the claims named as claims are: as :func:`cfkb.io.exportselect.select`."""
        opts, graph, kinds, keep_term = self.opts, self.graph, self.kinds, self.keep_term
        blocks: dict[str, Pairs] = {}
        for c in self.rest_claims:
            if self.chosen(c):
                blocks[c] = self.claim_block(graph[c])
                if opts.subset:
                    entities.update(o for _, o in blocks[c] if o in graph and kinds.get(o) == "entity")
        # entities: all that may leave, or, for a subset, those its claims name (and what they name)
        todo = list(entities) if opts.subset else [s for s, k in kinds.items() if k in ("entity", "vocabulary")]
        while todo:
            e = todo.pop()
            if e in blocks or (kinds.get(e) == "entity" and not self.nodes(e)):
                continue
            if kinds.get(e) == "vocabulary" and not allowed(self.levels[e], self.ceiling):
                continue  # what the base says about a term, marked (or by default) above the ceiling
            pairs = [(p, o) for p, o in graph[e] if keep_term(p) and keep_term(o)]
            blocks[e] = self.marked(pairs)
            if opts.subset:
                todo.extend(o for _, o in pairs if o in graph and kinds.get(o) == "entity" and o not in blocks)

        def out(o: str) -> bool:
            return o in blocks or (self.kind(o) == "claim" and self.chosen(o))

        # assessments, when everything they touch goes out; analysts stay home
        for a, k in kinds.items():
            if k != "assessment":
                continue
            refs = [o for _, o in graph[a] if o[0] == "<"]
            targets_ok = all(
                out(o) if self.kind(o) in ("claim", "entity")
                else (o in released_conflicts and all(map(self.chosen, released_conflicts[o].claims)))
                if o.startswith("<" + CONFLICT_PREFIX)
                else True
                for o in refs
            )
            if targets_ok and any(out(o) or o in released_conflicts for o in refs):
                blocks[a] = [(p, o) for p, o in graph[a] if keep_term(o)]
        add_accepted(blocks, accepted)
        return blocks
