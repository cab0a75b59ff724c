"""Claims as an analyst reads them: labels, statement, sentence, provenance, grading.

:class:`ClaimViews` reads what a set of claims shows in a few batched lookups
(their fields, the labels of what they name, their sources' grades) and
caches it for one listing; :mod:`cfkb.workflow.conflicts` dresses each
conflict's claims with it, the pages and the report show single claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from cfkb.errors import NotFoundError
from cfkb.model.vocabulary import CFKB_NS, PROV_NS, RDF_NS, rank_name, short_id
from cfkb.store.backend import quads_of_subjects, value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.stakes import Stakes, interest

__all__ = ["ClaimView", "ClaimViews", "Ref", "claim_view", "claim_views"]


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


class ClaimViews:
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
        for source, key in (("outlet", "srel"), ("speaker", "sprel")):
            if source in found and (grade := self._source_reliability(found[source])) is not None:
                found[key] = grade
        return found

    def _source_reliability(self, source: Any) -> Any:
        """A source's own reliability grade (None: ungraded), looked up once per source."""
        iri = source.value
        if iri not in self._outlet_reliability:
            rel = next(iter(self.kb.store.quads_for_pattern(source, _RELIABILITY, None, None)), None)
            self._outlet_reliability[iri] = rel.object if rel is not None else None
        return self._outlet_reliability[iri]

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
    views = ClaimViews(kb)
    iris = list(iris)
    views.prefetch(iris)
    return [views.claim(iri, role) for iri in iris]


def claim_view(kb: KnowledgeBase, iri: str, role: str = "claim") -> ClaimView:
    """One claim as an analyst reads it (labels, provenance, grading, rank)."""
    views = ClaimViews(kb)
    views.prefetch([iri])
    return views.claim(iri, role)
