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
from cfkb.errors import NotFoundError
from cfkb.model.vocabulary import (
    BACKGROUND_PREFIX,
    CFKB,
    CFKB_NS,
    CONFLICT_PREFIX,
    PROV_NS,
    RDF,
    RDF_NS,
    rank_name,
    short_id,
)
from cfkb.store.backend import quads_of_subjects, value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.stakes import Stakes, interest

__all__ = ["KINDS", "STATUSES", "ClaimView", "Conflict", "Filing", "Ref", "Rule", "claim_view", "claim_views",
           "claims_and_conflicts",
           "compile_rule", "conflict_id", "conflict_page", "conflict_statuses", "conflicts_for_claims", "engine_keys",
           "file_conflicts", "find_conflicts", "full_rows",
           "incremental_rows", "load_rules", "reference_keys", "rows_involving", "rule_patterns", "view_as_of"]

# -- conflicts as things ---------------------------------------------------

@dataclass
class Ref:
    """An entity in output: its IRI and label."""

    iri: str
    label: str


@dataclass
class ClaimView:
    """A claim as an analyst reads it, with its role in a conflict."""

    id: str
    iri: str
    role: str
    subject: Ref
    predicate: Ref
    object: Ref
    negated: bool
    area: Ref | None
    election: Ref | None
    speaker: Ref | None
    outlet: Ref
    date: str | None
    quote: str | None
    quote_lang: str | None
    cited_in: Ref | None
    reliability: str | None
    credibility: int | None
    rank: str
    tlp: str | None
    interested: bool = False
    statement: str = ""
    sentence: str = ""
    #: the words as the citing document reports them, not verbatim (never in quotation marks)
    paraphrase: str | None = None
    #: why the speaker is an interested party ("Hossein Moanes leads Harakat Hoquq")
    interest: str | None = None
    #: the grades apart: given on the claim itself, the speaker's, the outlet's
    #: (``reliability`` is the first of them there is)
    claim_reliability: str | None = None
    speaker_reliability: str | None = None
    outlet_reliability: str | None = None
    #: the encoder's note on the claim (rdfs:comment): how a passage was read
    note: str | None = None

    @property
    def attributed(self) -> str:
        return (self.speaker or self.outlet).label

    @property
    def grades(self) -> list[tuple[str, str]]:
        """Each grade with what it grades, the claim's own first:
        [("claim", "B2"), ("speaker", "B"), ("outlet", "C")]."""
        own = (self.claim_reliability or "") + (str(self.credibility) if self.credibility else "")
        out = [("claim", own)] if own else []
        if self.speaker_reliability:
            out.append(("speaker", self.speaker_reliability))
        if self.outlet_reliability:
            out.append(("outlet", self.outlet_reliability))
        return out

    @property
    def grading(self) -> str:
        """'claim B2, speaker B, outlet C', or '' when nothing is graded."""
        return ", ".join(f"{who} {grade}" for who, grade in self.grades)


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



_CLAIM_FIELDS = {
    RDF_NS + "subject": "s", RDF_NS + "predicate": "p", RDF_NS + "object": "o", CFKB_NS + "negated": "neg",
    CFKB_NS + "statedIn": "outlet", PROV_NS + "wasAttributedTo": "who", CFKB_NS + "inArea": "area",
    CFKB_NS + "election": "election", CFKB_NS + "statedOn": "date", CFKB_NS + "quote": "quote",
    CFKB_NS + "paraphrase": "paraphrase",
    "http://www.w3.org/2000/01/rdf-schema#comment": "note",
    CFKB_NS + "citedIn": "cited", CFKB_NS + "reliability": "rel", CFKB_NS + "credibility": "cred",
    CFKB_NS + "rank": "rank", CFKB_NS + "tlp": "tlp",
}
_RELIABILITY = ox.NamedNode(CFKB_NS + "reliability")
#: the claim fields that name an entity shown with its label
_LABELLED = ("s", "o", "area", "election", "outlet", "who", "cited")


class _Views:
    """Builds and caches claim views and phrases for one engine run."""

    def __init__(self, kb: KnowledgeBase, *, whole_base: bool = False) -> None:
        self.kb = kb
        self.whole_base = whole_base  # views of claims all over the base are coming
        # the labels of the entities shown are read for them alone (a few batched lookups), not the
        # whole entity index: 1 s at 100k claims on disk, megabytes from a server
        self._labels = None if whole_base else kb.entity_labels
        self.index = kb.entity_index() if self._labels is None else None
        self._label: dict[str, str] = {}
        self._cache: dict[str, ClaimView] = {}
        self._quads: dict[str, list[ox.Quad]] = {}
        self._stakes: Stakes | None = None
        #: the claim table, when one is open for the base as it is (the interested parties read it)
        self.table: Any = None


        self._outlet_reliability: dict[str, Any] = {}
        self.phrases: dict[str, tuple[str, str]] = {}
        self.predicate_labels: dict[str, str] = {}
        for r in kb.select(own_query("predicate_words")):
            if "l" not in r:
                self.phrases[r["p"].value] = (r["pos"].value, r["neg"].value)
            else:
                self.predicate_labels[r["p"].value] = r["l"].value

    def label(self, iri: str) -> str:
        if self.index is not None:
            return self.index.label(iri)
        if iri not in self._label:
            self._fetch_labels([iri])
        return self._label[iri]

    def _fetch_labels(self, iris: Iterable[str]) -> None:
        todo = sorted({i for i in iris if i not in self._label})
        if todo and self._labels is not None:
            self._label.update(self._labels(todo))
            for iri in todo:
                self._label.setdefault(iri, iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1])

    def prefetch(self, iris: Iterable[str]) -> None:
        """Read the claims about to be viewed, their sources' reliability and
        (on a server) their entities' labels in a few batched requests rather
        than a few requests per claim."""
        todo = sorted({i for i in iris if i not in self._cache and i not in self._quads})
        if not todo:
            return
        for iri in todo:
            self._quads[iri] = []
        fields = [ox.NamedNode(p) for p in _CLAIM_FIELDS]
        for q in quads_of_subjects(self.kb.store, (ox.NamedNode(i) for i in todo), fields):
            self._quads[value_of(q.subject)].append(q)
        sources = {value_of(q.object) for i in todo for q in self._quads[i]
                   if _CLAIM_FIELDS[q.predicate.value] in ("outlet", "who") and isinstance(q.object, ox.NamedNode)}
        sources -= set(self._outlet_reliability)
        for source in sources:
            self._outlet_reliability[source] = None
        for q in quads_of_subjects(self.kb.store, (ox.NamedNode(x) for x in sorted(sources)), [_RELIABILITY]):
            if self._outlet_reliability[value_of(q.subject)] is None:
                self._outlet_reliability[value_of(q.subject)] = q.object
        if not self.whole_base:  # the speakers' sides, read for them alone
            speakers = set()
            for i in todo:
                said = {_CLAIM_FIELDS[q.predicate.value]: q.object for q in self._quads[i]
                        if _CLAIM_FIELDS[q.predicate.value] in ("who", "outlet")}
                if "who" in said and said["who"] != said.get("outlet") and isinstance(said["who"], ox.NamedNode):
                    speakers.add(said["who"].value)
            self.stakes().prepare(speakers)
        if self._labels is not None:
            self._fetch_labels(value_of(q.object) for i in todo for q in self._quads[i]
                               if isinstance(q.object, ox.NamedNode)
                               and _CLAIM_FIELDS[q.predicate.value] in _LABELLED)

    def stakes(self) -> Stakes:
        """The interested parties, read whole when claims all over the base are coming."""
        if self._stakes is None:
            self._stakes = Stakes(self.kb, self.table)
            if self.whole_base:
                self._stakes.preload()
        return self._stakes

    def ref(self, term: Any) -> Ref | None:
        if term is None:
            return None
        return Ref(term.value, self.label(term.value))

    def _row(self, iri: str) -> dict[str, Any] | None:
        """A claim's fields (keys as in :data:`_CLAIM_FIELDS`, plus the
        outlet's reliability as ``srel`` and the speaker), read straight from
        the claim's own triples: one index scan instead of a query, since with
        thousands of conflicts the per-query cost dominated."""
        found: dict[str, Any] = {}
        quads = self._quads.pop(iri, None)
        for q in quads if quads is not None else self.kb.store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
            var = _CLAIM_FIELDS.get(q.predicate.value)
            if var is not None and var not in found:
                found[var] = q.object
        if not all(k in found for k in ("s", "p", "o", "neg", "outlet", "who")):
            return None
        who = found.pop("who")
        if who != found["outlet"]:
            found["speaker"] = who
        outlet = found["outlet"].value
        if outlet not in self._outlet_reliability:
            rel = next(iter(self.kb.store.quads_for_pattern(found["outlet"], _RELIABILITY, None, None)), None)
            self._outlet_reliability[outlet] = rel.object if rel is not None else None
        if self._outlet_reliability[outlet] is not None:
            found["srel"] = self._outlet_reliability[outlet]
        if "speaker" in found:
            speaker = found["speaker"].value
            if speaker not in self._outlet_reliability:
                rel = next(iter(self.kb.store.quads_for_pattern(found["speaker"], _RELIABILITY, None, None)), None)
                self._outlet_reliability[speaker] = rel.object if rel is not None else None
            if self._outlet_reliability[speaker] is not None:
                found["sprel"] = self._outlet_reliability[speaker]
        return found

    def claim(self, iri: str, role: str) -> ClaimView:
        if iri not in self._cache:
            r = self._row(iri)
            if r is None:
                raise NotFoundError(f"no claim {iri}")
            pred = r["p"].value
            view = ClaimView(
                id=short_id(iri), iri=iri, role=role,
                subject=self.ref(r["s"]),  # type: ignore[arg-type]
                predicate=Ref(pred, self.predicate_labels.get(pred, pred.rsplit("#", 1)[-1])),
                object=self.ref(r["o"]),  # type: ignore[arg-type]
                negated=r["neg"].value == "true",
                area=self.ref(r.get("area")), election=self.ref(r.get("election")),
                speaker=self.ref(r.get("speaker")), outlet=self.ref(r["outlet"]),  # type: ignore[arg-type]
                date=r["date"].value if "date" in r else None,
                quote=r["quote"].value if "quote" in r else None,
                quote_lang=r["quote"].language if "quote" in r else (
                    r["paraphrase"].language if "paraphrase" in r else None),
                paraphrase=r["paraphrase"].value if "paraphrase" in r else None,
                claim_reliability=r["rel"].value if "rel" in r else None,
                speaker_reliability=r["sprel"].value if "sprel" in r else None,
                outlet_reliability=r["srel"].value if "srel" in r else None,
                note=r["note"].value if "note" in r else None,
                cited_in=self.ref(r.get("cited")),
                reliability=next((r[k].value for k in ("rel", "sprel", "srel") if k in r), None),
                credibility=int(r["cred"].value) if "cred" in r else None,
                rank=rank_name(r["rank"].value) if "rank" in r else "normal",
                tlp=r["tlp"].value.rsplit("#TLP_", 1)[-1].replace("_", "+") if "tlp" in r else None,
            )
            if view.speaker is not None:
                why = interest(self.stakes(), view.speaker.iri, view.subject.iri, view.object.iri, self.label)
                view.interested, view.interest = why is not None, why
            view.statement = self.statement(view)
            view.sentence = self.sentence(view)
            self._cache[iri] = view
        cached = self._cache[iri]
        return ClaimView(**{**cached.__dict__, "role": role})

    def statement(self, c: ClaimView) -> str:
        """'Harakat Hoquq is part of Tahalof al-Safwa al-Watani' (with the area, if any)."""
        pos, neg = self.phrases.get(c.predicate.iri, (c.predicate.label, "not " + c.predicate.label))
        where = f" in {c.area.label}" if c.area else ""
        return f"{c.subject.label} {neg if c.negated else pos} {c.object.label}{where}"

    def sentence(self, c: ClaimView) -> str:
        """'Al-Rabaa TV (2023-08-10) says Harakat Hoquq is part of Tahalof al-Safwa al-Watani'."""
        said = c.speaker.label if c.speaker else c.outlet.label
        context = ", ".join(x for x in ((c.outlet.label if c.speaker else None), c.date) if x)
        return f"{said}{f' ({context})' if context else ''} says {c.statement}"

    def background(self, party: str, group: str) -> str:
        return f"the gazetteer records {self.label(party)} as the political wing of {self.label(group)}"


def claim_views(kb: KnowledgeBase, iris: Iterable[str], role: str = "claim") -> list[ClaimView]:
    """Claims as an analyst reads them: labels, statement, sentence, grading.

    Raises:
        NotFoundError: one of the IRIs is not a claim in the base.
    """
    views = _Views(kb)
    iris = list(iris)
    views.prefetch(iris)
    return [views.claim(iri, role) for iri in iris]


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


def _conflicts(views: _Views, statuses: dict[str, str], rule: Rule,
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
               views: _Views | None, **filters: Any) -> tuple[int, list[Conflict]]:
    """:func:`conflict_page` on an open index, with the statuses read, dressed by ``views``
    (None: views made for the page)."""
    chosen = {r.iri: r for r in (rules or load_rules())}
    total, listed = index.page(_by_id(statuses), **filters)
    rows = index.rows(listed)
    if views is None:
        views = _Views(kb, whole_base=len(listed) > 500)
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
        views = _Views(kb)
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



def claim_view(kb: KnowledgeBase, iri: str, role: str = "claim") -> ClaimView:
    """One claim as an analyst reads it (labels, provenance, grading, rank)."""
    views = _Views(kb)
    views.prefetch([iri])
    return views.claim(iri, role)


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
