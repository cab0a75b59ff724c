"""Export: deterministic, prefixed, TLP-filtered RDF of the base for partners.

:func:`export_base` reads the base once as N-Triples (pyoxigraph's writer
escapes every term), keeps terms as their N-Triples strings, decides with
:func:`cfkb.io.tlp.release` what may leave under the TLP ceiling, narrows that to
the subset asked for, and writes one of five formats. Each subject's triples
form one block (a claim with its provenance together); blocks and their lines
are sorted, so the same base and options always give the same bytes. A header
block says who exported, when, with which cfkb, filters, ceiling and licence,
and how many claims were withheld by TLP (never which).

What never leaves: TLP:RED; anything above the ceiling, whatever it is (a
claim, an entity, a source, an entity at a vocabulary's or a foreign IRI,
what the base says about a vocabulary term) and wherever its ``cfkb:tlp`` is
(the base's own graphs included); claims that name a withheld entity,
source, document or term; entities only withheld claims mention; import
batches, their files and analysts; the base's settings; who recorded each
claim and when (the receiving base records its own); assessments that touch
a withheld claim; analysts' names on assessments. The header names the one
who exported, as the point of contact for the release.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, cast

import pyoxigraph as ox

from cfkb.errors import InputError, UnknownFormatError
from cfkb.io.tlp import (
    DEFAULT_CEILING,
    LEVEL_OF_NT,
    LOCAL_RECORD,
    NT_OF_LEVEL,
    NT_TLP,
    NT_TYPE,
    Memo,
    Release,
    allowed,
    default_level,
    effective_ceiling,
    level_of,
    release,
)
from cfkb.model.vocabulary import (
    CFID_NS,
    CFKB,
    CLAIM_PREFIX,
    CONFLICT_PREFIX,
    DCT,
    INTERNAL_GRAPHS,
    PREFIXES,
    PROV,
    RDF,
    XSD,
    content_hash,
)
from cfkb.store.backend import Backend, GraphName
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.store.remote import RemoteStore
from cfkb.version import __version__

FORMATS = ("turtle", "trig", "jsonld", "nt", "nq")
PROFILES = ("nanopub",)
NP_NS = "http://www.nanopub.org/nschema#"
#: The licence an export carries unless told otherwise: the TLP 2.0 rules.
TLP_LICENSE = "https://www.first.org/tlp/"
EXPORT_PREFIX = CFID_NS + "export/"
ACCEPTED_PREFIX = CFID_NS + "accepted/"
NANOPUB_PREFIX = CFID_NS + "np/"

Pairs = list[tuple[str, str]]
Graph = dict[str, Pairs]

_LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CANONICAL_INTEGER = re.compile(r'^"-?(0|[1-9][0-9]*)$')


def _nt(term: ox.NamedNode) -> str:
    return f"<{term.value}>"


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
NT_SUBJECT, NT_PREDICATE, NT_OBJECT = _nt(RDF.subject), _nt(RDF.predicate), _nt(RDF.object)
NT_NEGATED, NT_STATED_IN, NT_STATED_ON = _nt(CFKB.negated), _nt(CFKB.statedIn), _nt(CFKB.statedOn)
NT_ATTRIBUTED, NT_CITED_IN, NT_IN_AREA = _nt(PROV.wasAttributedTo), _nt(CFKB.citedIn), _nt(CFKB.inArea)
NT_INCLUDES, NT_RANK, NT_MODALITY = _nt(CFKB.includes), _nt(CFKB.rank), _nt(CFKB.modality)
NT_ASSESSES, NT_PREFERS = _nt(CFKB.assesses), _nt(CFKB.prefers)
NT_PREFERRED, NT_DEPRECATED = _nt(CFKB.PreferredRank), _nt(CFKB.DeprecatedRank)
NT_TRUE = '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'
NT_STATEMENT = f"<{RDF.Statement.value}>"
NT_SUPPORTED_BY = _nt(CFKB.supportedBy)
#: The claim's content (what was said, in which context): a nanopub's assertion.
_ASSERTION = frozenset({NT_TYPE, NT_SUBJECT, NT_PREDICATE, NT_OBJECT, NT_NEGATED, NT_IN_AREA,
                        _nt(CFKB.election), NT_MODALITY, _nt(CFKB.validFrom), _nt(CFKB.validUntil)})


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how.

    Names (``entity``, ``area``, ``source``) may be any label, alias, CURIE or
    IRI the base knows. ``when`` is the export time written in the header
    (default: now); pass it to get the same bytes twice.
    """

    format: str = "turtle"
    ceiling: str = DEFAULT_CEILING
    entity: str | None = None
    area: str | None = None
    source: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    conflicts_only: bool = False
    accepted_view: bool = False
    profile: str | None = None
    when: dt.datetime | None = None
    exporter: str | None = None
    license: str = TLP_LICENSE

    @property
    def subset(self) -> bool:
        return bool(self.entity or self.area or self.source or self.since or self.until
                    or self.conflicts_only or self.accepted_view)


@dataclass
class ExportResult:
    """The exported text and what went into it."""

    text: str
    iri: str
    claims: int
    withheld: int
    ceiling: str
    triples: int = 0
    filters: dict[str, str] = field(default_factory=dict)


# -- reading the base ----------------------------------------------------------

def read_graph(store: Backend) -> Graph:
    """Every triple of the base but the ontology, grouped by subject, as N-Triples strings.

    Named graphs other than the ontology (a partner's nanopublications, say)
    are read into the same graph.
    """
    return _read(store)[0]


def _read(store: Backend) -> tuple[Graph, bool]:
    """:func:`read_graph`, and whether the base may hold blank nodes (False
    only when no ``_:`` occurs anywhere in it, so the blank-node passes can be
    skipped)."""
    reader = _Reader()
    _dump(store, reader, ox.DefaultGraph())
    for g in store.named_graphs():
        if g not in INTERNAL_GRAPHS:
            _dump(store, reader, g)
        else:  # a marking counts wherever it is (only the marking is read from the base's own graphs)
            marks = [ox.Triple(q.subject, q.predicate, q.object)
                     for q in store.quads_for_pattern(None, CFKB.tlp, None, g)]
            if marks:
                reader.write(ox.serialize(marks, format=ox.RdfFormat.N_TRIPLES) or b"")
    reader.close()
    return reader.graph, reader.bnodes


def _dump(store: Backend, reader: _Reader, graph: GraphName) -> None:
    """One graph of the base as N-Triples, written piece by piece into ``reader``."""
    if isinstance(store, ox.Store):
        # pyoxigraph writes to anything with a write method; its stub names IO[bytes]
        store.dump(cast(IO[bytes], reader), format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
    elif isinstance(store, RemoteStore):
        store.dump(reader, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
    else:  # pragma: no cover - the two backends there are
        raise TypeError(f"cannot read a graph from {type(store).__name__}")


class _Reader:
    """N-Triples lines, as pyoxigraph's dump writes them piece by piece, into a :data:`Graph`.

    The dump is never held whole: each piece's complete lines are added as
    they come.
    """

    def __init__(self) -> None:
        self.graph: Graph = {}
        self.bnodes = False
        self._rest = b""
        # one string per distinct predicate, IRI and short literal (a date, a flag): claims repeat them
        self._terms: dict[str, str] = {}

    def write(self, data: bytes) -> int:
        # pyoxigraph ends every line with " .\n" and escapes newlines inside literals
        end = data.rfind(b" .\n")
        if end < 0:
            self._rest += data
            return len(data)
        piece, self._rest = self._rest + data[: end + 3], data[end + 3:]
        self._add(piece)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._rest:  # a dump always ends a line; this is a last line without one
            self._add(self._rest + b" .\n")
            self._rest = b""

    def _add(self, piece: bytes) -> None:
        self.bnodes = self.bnodes or b"_:" in piece
        graph = self.graph
        get = graph.get
        term = self._terms.setdefault
        lines = piece.decode("utf-8").split(" .\n")
        lines.pop()  # what follows the last line
        for line in lines:
            s, p, o = line.split(" ", 2)
            pair = (term(p, p), term(o, o) if o[0] == "<" or len(o) < 80 else o)
            pairs = get(s)
            if pairs is None:
                graph[s] = [pair]
            else:
                pairs.append(pair)


def data_quads(store: ox.Store) -> list[ox.Quad]:
    """Everything but the ontology graph."""
    return [q for q in store if q.graph_name not in INTERNAL_GRAPHS]


# -- conflicts, light: (conflict IRI, clashing claims, all claims) -------------

@dataclass(frozen=True)
class _ConflictKey:
    iri: str
    clashing: frozenset[str]
    claims: frozenset[str]


def _conflict_keys(kb: KnowledgeBase) -> list[_ConflictKey]:
    """Every conflict the rules find now, without building claim views."""
    from cfkb.workflow.conflicts import compile_rule, conflict_id, load_rules  # deferred: loads duckdb

    found: dict[str, _ConflictKey] = {}
    for rule in load_rules():
        grouped: dict[tuple[str, str], set[str]] = {}
        for row in kb.select(compile_rule(rule)):
            key = (row["this"].value, row["value"].value)
            extra = grouped.setdefault(key, set())
            extra.update(t.value for v, t in row.items() if v not in ("this", "value") and v in ("contests", "wing"))
        for (this, value), extra in grouped.items():
            iri = CONFLICT_PREFIX + conflict_id(rule.iri, (this, value))
            found[iri] = _ConflictKey(f"<{iri}>", frozenset({f"<{this}>", f"<{value}>"}),
                                      frozenset(f"<{c}>" for c in {this, value, *extra}))
    return sorted(found.values(), key=lambda k: k.iri)


def _statuses(kb: KnowledgeBase) -> dict[str, str]:
    """The latest status each assessed conflict was given."""
    rows = kb.select(own_query("assessment_statuses"))
    latest: dict[str, tuple[str, str]] = {}
    for r in rows:
        c, t = f"<{r['c'].value}>", r["t"].value
        if c not in latest or t > latest[c][0]:
            latest[c] = (t, r["status"].value)
    return {c: s for c, (_, s) in latest.items()}


# -- choosing what goes out ------------------------------------------------------

def _resolve(kb: KnowledgeBase, name: str | None) -> str | None:
    return f"<{kb.entity_index().resolve(name)}>" if name else None


def _overlapping(graph: Graph, area: str) -> set[str]:
    """The area, the regions that include it and the provinces it includes."""
    down: dict[str, set[str]] = defaultdict(set)
    up: dict[str, set[str]] = defaultdict(set)
    for s, pairs in graph.items():
        for p, o in pairs:
            if p == NT_INCLUDES:
                down[s].add(o)
                up[o].add(s)
    found = {area}
    for edges in (down, up):
        todo = [area]
        while todo:
            for nxt in edges[todo.pop()] - found:
                found.add(nxt)
                todo.append(nxt)
    return found


def _date_of(pairs: Pairs) -> str | None:
    for p, o in pairs:
        if p == NT_STATED_ON:
            return o[1:o.index('"', 1)]
    return None


def _filter_claims(graph: Graph, claims: Iterable[str], *, entity: str | None, area: set[str] | None,
                   source: str | None, since: dt.date | None, until: dt.date | None) -> set[str]:
    out = set()
    lo = since.isoformat() if since else None
    hi = until.isoformat() if until else None
    for c in claims:
        pairs = graph[c]
        if entity and not any(o == entity and p in (NT_SUBJECT, NT_OBJECT) for p, o in pairs):
            continue
        if area is not None and not any(p == NT_IN_AREA and o in area for p, o in pairs):
            continue
        if source and not any(o == source and p in (NT_STATED_IN, NT_ATTRIBUTED, NT_CITED_IN) for p, o in pairs):
            continue
        if lo or hi:
            day = _date_of(pairs)
            if day is None or (lo and day < lo) or (hi and day > hi):
                continue
        out.add(c)
    return out


def _accepted(graph: Graph, claims: set[str], conflicts: Sequence[_ConflictKey],
              statuses: dict[str, str]) -> dict[tuple[str, str, str], set[str]]:
    """The bare triples of preferred claims and of uncontested normal ones, with their claims.

    A claim is contested when it is one of the clashing claims of a conflict
    that is not dismissed. Negated claims and claims with a modality assert
    no triple (RDF cannot say "not").
    """
    contested: set[str] = set()
    for k in conflicts:
        if statuses.get(k.iri) != "dismissed":
            contested |= k.clashing
    out: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for c in claims:
        pairs = graph[c]
        values = dict(pairs)
        rank = values.get(NT_RANK)
        if rank == NT_DEPRECATED or values.get(NT_NEGATED) == NT_TRUE or NT_MODALITY in values:
            continue
        if rank != NT_PREFERRED and c in contested:
            continue
        out[(values[NT_SUBJECT], values[NT_PREDICATE], values[NT_OBJECT])].add(c)
    return out


@dataclass
class _Selection:
    blocks: Graph
    claims: set[str]
    conflict_triples: list[ox.Triple] = field(default_factory=list)


def _select(kb: KnowledgeBase, graph: Graph, rel: Release, opts: ExportOptions, *,
            bnodes: bool = True) -> _Selection:
    entity, source = _resolve(kb, opts.entity), _resolve(kb, opts.source)
    area_iri = _resolve(kb, opts.area)
    for name, iri in ((opts.entity, entity), (opts.area, area_iri), (opts.source, source)):
        if iri and not rel.may_name(iri):
            raise InputError(f"{name!r} is marked above the TLP ceiling {rel.ceiling} (or only withheld claims"
                             " mention it); nothing about it can be exported at this ceiling")
    area = _overlapping(graph, area_iri) if area_iri else None
    chosen = _filter_claims(graph, rel.claims, entity=entity, area=area, source=source,
                            since=opts.since, until=opts.until)
    kinds = rel.kinds
    need_conflicts = opts.conflicts_only or opts.accepted_view or any(k == "assessment" for k in kinds.values())
    conflicts = _conflict_keys(kb) if need_conflicts else []
    released_conflicts = {k.iri: k for k in conflicts if k.claims <= rel.claims}
    conflict_triples: list[ox.Triple] = []
    if opts.conflicts_only:
        kept = [k for k in released_conflicts.values() if k.claims & chosen]
        chosen = set().union(*(k.claims for k in kept)) if kept else set()
        conflict_triples = _conflict_triples(kb, {k.iri for k in kept})
    accepted: dict[tuple[str, str, str], set[str]] = {}
    if opts.accepted_view:
        accepted = _accepted(graph, chosen, conflicts, _statuses(kb))
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
    for (s, p, o), claims in accepted.items():
        blocks.setdefault(s, []).append((p, o))
        node = f"<{ACCEPTED_PREFIX}{content_hash(s, p, o)}>"
        blocks[node] = [(NT_TYPE, NT_STATEMENT), (NT_SUBJECT, s), (NT_PREDICATE, p), (NT_OBJECT, o)]
        blocks[node] += [(NT_SUPPORTED_BY, c) for c in claims]
    if not bnodes:  # nothing in the base is a blank node: nothing to follow or relabel
        return _Selection(blocks=blocks, claims=chosen, conflict_triples=conflict_triples)
    # blank nodes go with what refers to them
    todo = [o for pairs in blocks.values() for _, o in pairs if o[0] == "_"]
    while todo:
        b = todo.pop()
        if b in blocks or b not in graph:
            continue
        blocks[b] = [(p, o) for p, o in graph[b] if keep_term(o)]
        todo.extend(o for _, o in blocks[b] if o[0] == "_")
    return _Selection(blocks=_canonical_bnodes(blocks), claims=chosen, conflict_triples=conflict_triples)


def _bnode_releasable(graph: Graph, rel: Release, node: str, seen: set[str]) -> bool:
    if node in seen:
        return True
    seen.add(node)
    pairs = graph.get(node, [])
    if any(p == NT_TLP for p, _ in pairs) and not allowed(level_of(pairs, rel.default), rel.ceiling):
        return False
    return all(rel.may_name(o) if o[0] == "<" else
               _bnode_releasable(graph, rel, o, seen) if o[0] == "_" else True for _, o in pairs)


def _conflict_triples(kb: KnowledgeBase, iris: set[str]) -> list[ox.Triple]:
    """Conflicts as cfkb:Conflict nodes (kind, rule, explanation, status, claims)."""
    if not iris:
        return []
    from cfkb.workflow.conflicts import conflict_triples, find_conflicts  # deferred: loads duckdb

    return conflict_triples([c for c in find_conflicts(kb) if f"<{c.iri}>" in iris])


def _canonical_bnodes(blocks: Graph) -> Graph:
    """Relabel blank nodes by what they say and what points at them, so that
    the same graph in another base gets the same labels (and bytes)."""
    bnodes = sorted(s for s in blocks if s[0] == "_")
    dangling = {o for pairs in blocks.values() for _, o in pairs if o[0] == "_"} - set(blocks)
    bnodes += sorted(dangling)
    if not bnodes:
        return blocks
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

    def relabel(t: str) -> str:
        return labels.get(t, t)

    return {relabel(s): [(p, relabel(o)) for p, o in pairs] for s, pairs in blocks.items()}


# -- the header -------------------------------------------------------------------

def _literal(value: str, datatype: ox.NamedNode | None = None) -> str:
    return str(ox.Literal(value, datatype=datatype) if datatype else ox.Literal(value))


def _header(opts: ExportOptions, rel: Release, claims: int, when: dt.datetime,
            filters: dict[str, str]) -> tuple[str, Pairs]:
    pairs: Pairs = [
        (NT_TYPE, _nt(CFKB.Export)),
        (_nt(DCT.created), _literal(when.isoformat(), XSD.dateTime)),
        (_nt(CFKB.softwareVersion), _literal(f"cfkb {__version__}")),
        (_nt(CFKB.tlpCeiling), NT_OF_LEVEL[rel.ceiling]),
        (NT_TLP, NT_OF_LEVEL[rel.ceiling]),
        (_nt(DCT.license), str(ox.NamedNode(opts.license))),
        (_nt(CFKB.claimCount), _literal(str(claims), XSD.integer)),
        (_nt(CFKB.withheldClaims), _literal(str(rel.withheld_claims), XSD.integer)),
        (_nt(CFKB.defaultTlp), NT_OF_LEVEL[rel.default]),
    ]
    if opts.exporter:
        pairs.append((_nt(DCT.creator), _literal(opts.exporter)))
    for name, value in filters.items():
        pairs.append((_nt(CFKB.term("filter" + name[0].upper() + name[1:])), value))
    iri = f"<{EXPORT_PREFIX}{content_hash(*sorted(p + ' ' + o for p, o in pairs))}>"
    return iri, pairs


def _filters(kb: KnowledgeBase, opts: ExportOptions) -> dict[str, str]:
    found: dict[str, str] = {}
    for key in ("entity", "area", "source"):
        name = getattr(opts, key)
        if name:
            found[key] = _resolve(kb, name) or ""
    if opts.since:
        found["since"] = _literal(opts.since.isoformat(), XSD.date)
    if opts.until:
        found["until"] = _literal(opts.until.isoformat(), XSD.date)
    if opts.conflicts_only:
        found["conflictsOnly"] = NT_TRUE
    if opts.accepted_view:
        found["acceptedView"] = NT_TRUE
    if opts.profile:
        found["profile"] = _literal(opts.profile)
    return found


# -- the whole export ---------------------------------------------------------------

def export_base(kb: KnowledgeBase, options: ExportOptions | None = None) -> ExportResult:
    """Export the base as the options say: TLP-filtered, deterministic.

    Raises:
        UnknownFormatError: an unknown format or profile.
        InputError: a filter names an entity above the ceiling.
        UnknownNameError, AmbiguousNameError: a filter names no (or several) entities.
    """
    opts = options or ExportOptions()
    if opts.format not in FORMATS:
        raise UnknownFormatError(f"unknown export format {opts.format!r}; choose one of {', '.join(FORMATS)}")
    if opts.profile is not None and opts.profile not in PROFILES:
        raise UnknownFormatError(f"unknown profile {opts.profile!r}; choose one of {', '.join(PROFILES)}")
    if opts.profile == "nanopub" and opts.format not in ("trig", "nq"):
        raise UnknownFormatError("the nanopub profile needs named graphs: use --format trig or nq")
    with collector_paused():
        return _export(kb, opts)


def _export(kb: KnowledgeBase, opts: ExportOptions) -> ExportResult:
    ceiling = effective_ceiling(opts.ceiling)
    when = (opts.when or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    graph, bnodes = _read(kb.store)
    rel = release(graph, ceiling, default_level(kb))
    sel = _select(kb, graph, rel, opts, bnodes=bnodes)
    filters = _filters(kb, opts)
    iri, header = _header(opts, rel, len(sel.claims), when, filters)
    blocks = sel.blocks
    for t in sel.conflict_triples:
        blocks.setdefault(str(t.subject), []).append((str(t.predicate), str(t.object)))
    if opts.profile == "nanopub":
        text = _nanopub(opts.format, iri, header, blocks, sel.claims, when, opts)
    else:
        text = write(opts.format, blocks, header=(iri, header))
    return ExportResult(text=text, iri=iri[1:-1], claims=len(sel.claims), withheld=rel.withheld_claims,
                        ceiling=ceiling, triples=sum(len(v) for v in blocks.values()), filters=filters)


# -- writers ---------------------------------------------------------------------------

class _Shortener:
    """N-Triples terms to Turtle, shortened with prefixes where that is safe."""

    def __init__(self, prefixes: dict[str, str]) -> None:
        self.prefixes = [(f"<{ns}", p) for p, ns in prefixes.items()]
        self.cache: dict[str, str] = {f"<{RDF.type.value}>": "a"}

    def iri(self, t: str) -> str:
        for ns, p in self.prefixes:
            if t.startswith(ns):
                local = t[len(ns):-1]
                if _LOCAL.match(local):
                    return f"{p}:{local}"
        return t

    def __call__(self, t: str) -> str:
        c = t[0]
        if c == '"' and t[-1] != ">":
            return t  # plain and language-tagged literals are the same in Turtle
        found = self.cache.get(t)
        if found is not None:
            return found
        if c == "<":
            found = self.iri(t)
        elif c == '"':
            lex, dtype = t.rsplit('"^^<', 1)
            dtype = dtype[:-1]
            if (dtype == XSD.boolean.value and lex in ('"true', '"false')
                    or dtype == XSD.integer.value and _CANONICAL_INTEGER.match(lex)):
                found = lex[1:]
            elif dtype == XSD_STRING:
                found = lex + '"'
            else:
                found = f'{lex}"^^{self.iri("<" + dtype + ">")}'
        else:
            found = t
        if len(self.cache) < 1_000_000:
            self.cache[t] = found
        return found


def _block(subject: str, pairs: Pairs, short: _Shortener, indent: str = "") -> str:
    """One subject's triples: ``s a T ;\n    p o1, o2 ;\n    q o .``"""
    joiner = " ;\n" + indent + "    "
    pairs = sorted(pairs)
    preds = [p for p, _ in pairs]
    if len(preds) == len(set(preds)):
        # one object per predicate, as in every claim: the sorted pairs are
        # the lines, the type first; terms mostly come from the cache
        get = short.cache.get
        parts = [f"{get(p) or short(p)} {get(o) or short(o)}" for p, o in pairs]
        if NT_TYPE in preds:
            parts.insert(0, parts.pop(preds.index(NT_TYPE)))
        return f"{indent}{get(subject) or short(subject)} {joiner.join(parts)} ."
    by_p: dict[str, list[str]] = {}
    for p, o in pairs:
        objs = by_p.get(p)
        if objs is None:
            by_p[p] = [o]
        else:
            objs.append(o)
    preds = sorted(by_p)
    if NT_TYPE in by_p:
        preds.remove(NT_TYPE)
        preds.insert(0, NT_TYPE)
    parts = []
    for p in preds:
        objs = by_p[p]
        # most predicates have one object: skip the set and the sort
        written = short(objs[0]) if len(objs) == 1 else ", ".join(sorted({short(o) for o in objs}))
        parts.append(f"{short(p)} {written}")
    return f"{indent}{short(subject)} {joiner.join(parts)} ."


def _order(blocks: Graph) -> list[str]:
    """Claims first, then statements, conflicts, assessments, entities, blank nodes."""
    claims: list[str] = []
    derived: list[str] = []
    others: list[str] = []
    blank: list[str] = []
    claim, statement = "<" + CLAIM_PREFIX, ("<" + ACCEPTED_PREFIX, "<" + CONFLICT_PREFIX)
    for s in blocks:
        if s.startswith(claim):
            claims.append(s)
        elif s.startswith(statement):
            derived.append(s)
        elif s[0] == "_":
            blank.append(s)
        else:
            others.append(s)
    for section in (claims, derived, others, blank):
        section.sort()
    return claims + derived + others + blank


def _nt_block(subject: str, pairs: Pairs, graph: str = "") -> str:
    """One subject's triples as sorted, distinct N-Triples (or N-Quads) lines."""
    lead = f"{subject} "
    end = f" {graph} .\n" if graph else " .\n"
    return lead + (end + lead).join([f"{p} {o}" for p, o in sorted(set(pairs))]) + end if pairs else ""


def _prefix_lines(prefixes: dict[str, str]) -> str:
    return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in prefixes.items())


def write(fmt: str, blocks: Graph, *, header: tuple[str, Pairs] | None = None,
          prefixes: dict[str, str] | None = None) -> str:
    """Blocks of (predicate, object) N-Triples strings per subject, in a format.

    The header block comes first; every other block and line is sorted.
    """
    prefixes = prefixes or dict(PREFIXES)
    order = _order(blocks)
    if fmt in ("nt", "nq"):
        head = _nt_block(*header) if header else ""
        return head + "".join([_nt_block(s, blocks[s]) for s in order])
    if fmt in ("turtle", "trig"):
        short = _Shortener(prefixes)
        out = [_prefix_lines(prefixes)]
        if fmt == "trig":
            out.append("\n{")  # the default graph, written as a graph block for every TriG reader
        if header:
            out.append("\n# This export: who, when, what was asked, under which TLP ceiling.\n")
            out.append(_block(header[0], header[1], short) + "\n")
        # a subject left with no triple writes nothing ("s ." is not Turtle)
        out += ["\n" + _block(s, blocks[s], short) + "\n" for s in order if blocks[s]]
        if fmt == "trig":
            out.append("}\n")
        return "".join(out)
    if fmt == "jsonld":
        return _jsonld(blocks, header, prefixes)
    raise UnknownFormatError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _jsonld(blocks: Graph, header: tuple[str, Pairs] | None, prefixes: dict[str, str]) -> str:
    """JSON-LD as rdflib's serialiser compacts it, then sorted so that it is deterministic.

    rdflib's serialiser takes minutes for 100k claims, so the nodes are built
    here with rdflib's own rules for each distinct term (its
    ``Converter.to_raw_value`` and ``Context``); what those rules would treat
    specially (RDF lists, a value rdflib would drop) goes
    through rdflib's serialiser itself.
    """
    nodes = _jsonld_nodes(blocks, header, prefixes)
    context: object = dict(prefixes)
    if nodes is None:
        import rdflib

        g = rdflib.Graph()
        nt = write("nt", blocks, header=header)
        # keep the blank nodes' canonical labels (rdflib's parser would draw new, random ones)
        labels = {t[2:] for s, pairs in blocks.items() for t in (s, *(o for _, o in pairs)) if t[0] == "_"}
        if nt:
            g.parse(data=nt, format="nt", bnode_context={b: rdflib.BNode(b) for b in labels})
        doc = json.loads(g.serialize(format="json-ld", context=dict(prefixes), auto_compact=True))
        context = doc.pop("@context", dict(prefixes))
        nodes = doc.pop("@graph", [doc] if doc else [])

    def canon(value: object) -> object:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((canon(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
        return value

    nodes = [{k: canon(v) for k, v in n.items()} for n in nodes]

    def is_header(n: dict[str, object]) -> bool:
        types = n.get("@type", [])
        return "cfkb:Export" in (types if isinstance(types, list) else [types])

    nodes.sort(key=lambda n: (not is_header(n), str(n.get("@id", ""))))
    return json.dumps({"@context": context, "@graph": nodes}, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class _NotPlain(Exception):
    """The graph has something rdflib's JSON-LD serialiser treats specially."""


_RDF_LIST = (f"<{RDF.first.value}>", f"<{RDF.rest.value}>")


def _jsonld_nodes(blocks: Graph, header: tuple[str, Pairs] | None,
                  prefixes: dict[str, str]) -> list[dict[str, object]] | None:
    """The JSON-LD node objects rdflib's serialiser makes of these blocks,
    compacted with the prefixes; None when rdflib must make them itself."""
    import rdflib
    from rdflib.plugins.serializers.jsonld import Converter
    from rdflib.plugins.shared.jsonld.context import Context

    ctx = Context(dict(prefixes))
    converter = Converter(ctx, False, False)
    empty = rdflib.Graph()
    # the subject the converter asks for is read only for blank-node objects, never passed here
    no_subject = rdflib.URIRef("urn:cfkb:none")
    # a predicate that is one of the context's own IRIs would be written as that term
    reserved = {f"<{ns}>" for ns in prefixes.values()} | set(_RDF_LIST)
    keys: dict[str, str] = {}
    values: dict[str, object] = {}

    def key_of(p: str) -> str:
        found = keys.get(p)
        if found is None:
            if p in reserved:
                raise _NotPlain(p)
            found = keys[p] = str(ctx.to_symbol(p[1:-1]))
        return found

    def value_of(o: str) -> object:
        found = values.get(o, values)
        if found is not values:
            return found
        if o[0] == "<":
            found = converter.to_raw_value(empty, no_subject, rdflib.URIRef(o[1:-1]), {})
        elif o[0] == "_":  # a node of its own, named by its label
            found = {"@id": o}
            if not everything.get(o):
                dangling.add(o)
        elif o[0] == '"':
            end = o.rindex('"')
            lex, rest = o[1:end], o[end + 1:]
            if "\\" not in lex and (not rest or (rest[0] == "@" and rest == rest.lower())):
                found = {"@language": rest[1:], "@value": lex} if rest else lex  # what rdflib makes of it
            else:  # escapes, datatypes: rdflib's own parse and conversion
                lit = next(iter(rdflib.Graph().parse(data=f"<urn:x:s> <urn:x:p> {o} .\n", format="nt")))[2]
                assert isinstance(lit, rdflib.Literal)  # the object of that one line
                found = converter.to_raw_value(empty, no_subject, lit, {})
        else:
            raise _NotPlain(o)
        values[o] = found
        return found

    everything = dict(blocks)
    if header:
        everything[header[0]] = [*everything.get(header[0], []), *header[1]]
    nodes: dict[str, dict[str, object]] = {}
    dangling: set[str] = set()  # blank nodes with no triple of their own: rdflib gives each a bare node
    try:
        for s, pairs in everything.items():
            if not pairs:
                continue
            if s[0] not in "<_":
                raise _NotPlain(s)
            node_id = ctx.shrink_iri(s[1:-1]) if s[0] == "<" else s
            if node_id in nodes:  # two subjects, one compact name: rdflib keeps one
                raise _NotPlain(s)
            node: dict[str, object] = {"@id": node_id}
            value: object
            for p, o in set(pairs):
                if p == NT_TYPE:
                    if o[0] != "<":
                        raise _NotPlain(o)
                    key, value = "@type", keys.get(o) or key_of(o)
                else:
                    key, value = keys.get(p) or key_of(p), value_of(o)
                # rdflib's Converter.add_to_node, but for the case where it
                # drops values (several, one of them false, 0 or "")
                old = node.get(key)
                if old is None:
                    node[key] = value
                elif not old or not value:
                    raise _NotPlain(s)
                elif isinstance(old, list):
                    old.append(value)
                else:
                    node[key] = [old, value]
            nodes[node_id] = node
        if any(s[0] == "_" for s in everything) and not _reachable_blank_nodes(everything):
            raise _NotPlain("a blank node only other blank nodes lead to")
        for b in dangling - nodes.keys():
            nodes[b] = {"@id": b}
    except _NotPlain:
        return None
    return list(nodes.values())


def _reachable_blank_nodes(blocks: Graph) -> bool:
    """Whether rdflib's JSON-LD serialiser reaches every blank node: it starts
    from the IRIs and the blank nodes nothing points at, and follows objects."""
    referenced = {o for pairs in blocks.values() for _, o in pairs if o[0] == "_"}
    todo = [s for s, pairs in blocks.items() if pairs and (s[0] == "<" or s not in referenced)]
    seen = set(todo)
    while todo:
        for _, o in blocks.get(todo.pop(), ()):
            if o[0] == "_" and o not in seen:
                seen.add(o)
                todo.append(o)
    return all(s in seen for s, pairs in blocks.items() if pairs)


def _nanopub(fmt: str, iri: str, header: Pairs, blocks: Graph, claims: set[str], when: dt.datetime,
             opts: ExportOptions) -> str:
    """Each claim as a nanopublication: head, assertion, provenance and pubinfo graphs.

    The assertion is what was said (the claim's triple, negation and
    context); the provenance who said it, where, when, in which words, and
    the grading; the publication info the marking, rank, export time, exporter
    and licence. Entities and the export header go in the default graph.
    """
    np = {n: f"<{NP_NS}{n}>" for n in ("Nanopublication", "hasAssertion", "hasProvenance", "hasPublicationInfo")}
    info_pairs = [(_nt(DCT.created), _literal(when.isoformat(), XSD.dateTime)),
                  (_nt(DCT.license), str(ox.NamedNode(opts.license))), (_nt(CFKB.export), iri)]
    if opts.exporter:
        info_pairs.append((_nt(DCT.creator), _literal(opts.exporter)))
    derived, meta = _nt(PROV.wasDerivedFrom), (NT_TLP, NT_RANK)
    default: Graph = {s: pairs for s, pairs in blocks.items() if s not in claims}
    prefixes = {**PREFIXES, "np": NP_NS}
    short = _Shortener(prefixes)
    skip = len("<" + CLAIM_PREFIX)
    # Each claim's four graphs are written as soon as they are made; the
    # pieces are sorted at the end by graph name (N-Quads) or by
    # nanopublication, then head, assertion, provenance, pubinfo (TriG).
    pieces: list[tuple[str, str]] = []
    for c in claims:
        h = c[skip:-1]
        base = NANOPUB_PREFIX + h
        pub, head, assertion, prov, info = (f"<{base}{x}>" for x in ("", "#head", "#assertion", "#provenance",
                                                                      "#pubinfo"))
        pairs = blocks[c]
        graphs = (
            (head, {pub: [(NT_TYPE, np["Nanopublication"]), (np["hasAssertion"], assertion),
                          (np["hasProvenance"], prov), (np["hasPublicationInfo"], info)]}),
            (assertion, {c: [(p, o) for p, o in pairs if p in _ASSERTION]}),
            (prov, {c: [(p, o) for p, o in pairs if p not in _ASSERTION and p not in meta],
                    assertion: [(derived, c)] + [(NT_ATTRIBUTED, o) for p, o in pairs if p == NT_ATTRIBUTED]}),
            (info, {pub: info_pairs, c: [(p, o) for p, o in pairs if p in meta]}),
        )
        if fmt == "nq":
            pieces += [(g, "".join([_nt_block(s, graph[s], g) for s in sorted(graph)])) for g, graph in graphs]
        else:
            text = []
            for g, graph in graphs:
                body = "\n".join([_block(s, graph[s], short, "    ") for s in sorted(graph) if graph[s]])
                text.append(f"\n{g} {{\n{body}\n}}\n")
            pieces.append((h, "".join(text)))
    pieces.sort()
    if fmt == "nq":
        return (_nt_block(iri, header) + "".join([_nt_block(s, default[s]) for s in _order(default)])
                + "".join([text for _, text in pieces]))
    out = [_prefix_lines(prefixes), "\n# This export: who, when, what was asked, under which TLP ceiling.\n",
           "{\n", _block(iri, header, short) + "\n"]
    out += ["\n" + _block(s, default[s], short) + "\n" for s in _order(default) if default[s]]
    out.append("}\n")
    out += [text for _, text in pieces]
    return "".join(out)


# -- the old entry points, kept for callers that hold terms ---------------------------

def turtle(triples: Iterable[ox.Triple], header: str = "") -> str:
    """Deterministic Turtle of some triples: prefixes, then one sorted block per subject."""
    blocks: Graph = {}
    for t in triples:
        blocks.setdefault(str(t.subject), []).append((str(t.predicate), str(t.object)))
    text = write("turtle", blocks)
    return (header + "\n" if header else "") + text


__all__ = [
    "ExportOptions", "ExportResult", "FORMATS", "PROFILES", "TLP_LICENSE", "data_quads", "export_base",
    "read_graph", "turtle", "write", "LEVEL_OF_NT",
]
