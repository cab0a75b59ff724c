"""The conflict engine: rules from ``shapes/``, run set-at-a-time on the store.

Each conflict rule is a SHACL-SPARQL constraint annotated with
``cfkb:conflictKind`` and an explanation template. pySHACL running the shapes
is the reference semantics (:func:`reference_keys`); for speed cfkb compiles
each constraint into one query over the whole store, with ``$this`` free and
the shape's target as a triple pattern (:func:`compile_rule`), instead of one
query per focus node. Both give the same (rule, claims) pairs; a test holds
them to it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib

import cfkb.engine  # noqa: F401 - keeps the claim table current after writes
from cfkb.errors import InputError, NotFoundError
from cfkb.model import (BACKGROUND_PREFIX, CFKB, CFKB_NS, CONFLICT_PREFIX, PREFIXES, PROV_NS, RDF_NS, SH_NS, content_hash,
                        short_id)
from cfkb.store import KnowledgeBase

KINDS = ("direct", "derived", "functional", "revision")
STATUSES = ("open", "disputed", "resolved", "dismissed")


@dataclass(frozen=True)
class Rule:
    """One conflict rule: a SHACL-SPARQL constraint and what it means."""

    iri: str
    kind: str
    label: str
    comment: str
    explanation: str
    select: str
    target_class: str

    @property
    def name(self) -> str:
        return self.iri.rsplit("#", 1)[-1]


@lru_cache(maxsize=4)
def load_rules(paths: tuple[Path, ...] | None = None) -> tuple[Rule, ...]:
    """Every conflict rule in the shape files, in a stable order."""
    from cfkb.resources import shape_files
    from cfkb.validate import load_shapes

    g = load_shapes(paths or tuple(shape_files()))
    SH = rdflib.Namespace(SH_NS)
    C = rdflib.Namespace(CFKB_NS)
    rules = []
    for constraint, kind in g.subject_objects(C.conflictKind):
        shape = g.value(predicate=SH.sparql, object=constraint)
        target = g.value(shape, SH.targetClass) if shape is not None else None
        rules.append(Rule(
            iri=str(constraint),
            kind=str(kind),
            label=str(g.value(constraint, rdflib.RDFS.label) or constraint),
            comment=str(g.value(constraint, rdflib.RDFS.comment) or ""),
            explanation=str(g.value(constraint, C.explanation) or "{value}; but {this}."),
            select=str(g.value(constraint, SH.select)),
            target_class=str(target or C.Claim),
        ))
    if paths is None:  # the shipped shapes: their compiled queries are cfkb's own (cfkb.guard.is_own)
        from cfkb.guard import vouch

        for rule in rules:
            vouch(compile_rule(rule))
    return tuple(sorted(rules, key=lambda r: (KINDS.index(r.kind) if r.kind in KINDS else 99, r.iri)))


def compile_rule(rule: Rule) -> str:
    """The rule as one set-at-a-time query: ``$this`` free, the target a pattern.

    >>> r = Rule("x#R", "direct", "", "", "", "SELECT $this ?value WHERE { $this ?p ?value }", CFKB_NS + "Claim")
    >>> print(compile_rule(r))
    SELECT ?this ?value WHERE { ?this ?p ?value
     FILTER EXISTS { ?this a <https://w3id.org/cfkb/ns#Claim> }
    }
    """
    text = rule.select.replace("$this", "?this")
    where = re.search(r"WHERE\s*\{", text, re.IGNORECASE)
    end = text.rstrip().rfind("}")
    if where is None or end < where.end():
        raise InputError(f"rule {rule.iri}: its sh:select has no WHERE clause")
    # The target is a check on each solution (one lookup), not a pattern the
    # planner might start from (a scan of every claim).
    return f"{text[:end].rstrip()}\n FILTER EXISTS {{ ?this a <{rule.target_class}> }}\n{text[end:]}".strip()


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


def conflict_id(rule_iri: str, claim_iris: Iterable[str]) -> str:
    """A stable conflict ID: a hash of the rule and the clashing claims."""
    return content_hash(rule_iri, *sorted(claim_iris))[:16]


_CLAIM_FIELDS = {
    RDF_NS + "subject": "s", RDF_NS + "predicate": "p", RDF_NS + "object": "o", CFKB_NS + "negated": "neg",
    CFKB_NS + "statedIn": "outlet", PROV_NS + "wasAttributedTo": "who", CFKB_NS + "inArea": "area",
    CFKB_NS + "election": "election", CFKB_NS + "statedOn": "date", CFKB_NS + "quote": "quote", CFKB_NS + "paraphrase": "paraphrase",
    "http://www.w3.org/2000/01/rdf-schema#comment": "note",
    CFKB_NS + "citedIn": "cited", CFKB_NS + "reliability": "rel", CFKB_NS + "credibility": "cred",
    CFKB_NS + "rank": "rank", CFKB_NS + "tlp": "tlp",
}
_RELIABILITY = ox.NamedNode(CFKB_NS + "reliability")


class _Views:
    """Builds and caches claim views and phrases for one engine run."""

    def __init__(self, kb: KnowledgeBase, *, whole_base: bool = False) -> None:
        self.kb = kb
        self.whole_base = whole_base  # views of claims all over the base are coming
        self.index = kb.entity_index()
        self._cache: dict[str, ClaimView] = {}
        self._stakes: Any = None


        self._outlet_reliability: dict[str, Any] = {}
        self.phrases = {
            r["p"].value: (r["pos"].value, r["neg"].value)
            for r in kb.select("SELECT ?p ?pos ?neg WHERE { ?p cfkb:phrase ?pos ; cfkb:negatedPhrase ?neg }")
        }
        self.predicate_labels = {
            r["p"].value: r["l"].value
            for r in kb.select("SELECT ?p ?l WHERE { ?p a cfkb:ClaimPredicate ; rdfs:label ?l }")
        }

    def ref(self, term: Any) -> Ref | None:
        if term is None:
            return None
        return Ref(term.value, self.index.label(term.value))

    def _row(self, iri: str) -> dict[str, Any] | None:
        """A claim's fields (keys as in :data:`_CLAIM_FIELDS`, plus the
        outlet's reliability as ``srel`` and the speaker), read straight from
        the claim's own triples: one index scan instead of a query, since with
        thousands of conflicts the per-query cost dominated."""
        found: dict[str, Any] = {}
        for q in self.kb.store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
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
                rank=r["rank"].value.rsplit("#", 1)[-1].removesuffix("Rank").lower() if "rank" in r else "normal",
                tlp=r["tlp"].value.rsplit("#TLP_", 1)[-1].replace("_", "+") if "tlp" in r else None,
            )
            if view.speaker is not None:
                from cfkb.workflow import Stakes, interest

                if self._stakes is None:
                    self._stakes = Stakes(self.kb)
                    if self.whole_base:
                        self._stakes.preload()
                why = interest(self._stakes, view.speaker.iri, view.subject.iri, view.object.iri, self.index.label)
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
        return f"the gazetteer records {self.index.label(party)} as the political wing of {self.index.label(group)}"


def claim_views(kb: KnowledgeBase, iris: Iterable[str], role: str = "claim") -> list[ClaimView]:
    """Claims as an analyst reads them: labels, statement, sentence, grading.

    Raises:
        NotFoundError: one of the IRIs is not a claim in the base.
    """
    views = _Views(kb)
    return [views.claim(iri, role) for iri in iris]


def _statuses(kb: KnowledgeBase) -> dict[str, str]:
    """The latest status of every assessed conflict, in one query."""
    latest: dict[str, tuple[str, str]] = {}
    for r in kb.select("SELECT ?c ?status ?t WHERE { ?a cfkb:assesses ?c ; cfkb:status ?status ;"
                       " prov:endedAtTime ?t }"):
        c, t = r["c"].value, r["t"].value
        if c not in latest or t > latest[c][0]:
            latest[c] = (t, r["status"].value)
    return {c: status for c, (_, status) in latest.items()}


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


def find_conflicts(kb: KnowledgeBase, *, kinds: Sequence[str] | None = None, entity: str | None = None,
                   source: str | None = None, include_dismissed: bool = True,
                   rules: Sequence[Rule] | None = None) -> list[Conflict]:
    """Every conflict in the base, newest rules' order, with claims side by side.

    ``entity`` and ``source`` are IRIs: keep conflicts with a claim about that
    entity (subject or object), or stated by or in that source.
    """
    statuses = _statuses(kb)
    found: dict[str, Conflict] = {}
    chosen = tuple(rules or load_rules())
    answers = rule_rows(kb) if rules is None else {r.iri: kb.select(compile_rule(r)) for r in chosen}
    # with a filter, the claim table says which statements can pass it: only the
    # conflicts resting on one of them are built (the filter below still decides)
    near = _statements_about(kb, entity, source) if entity or source else None
    views = _Views(kb, whole_base=near is None)
    for rule in chosen:
        if kinds and rule.kind not in kinds:
            continue
        rows = answers[rule.iri]
        if near is not None:
            rows = _rows_touching(rows, near)
        found.update(_conflicts(views, statuses, rule, rows))
    out = list(found.values())
    if entity:
        out = [c for c in out if any(entity in (v.subject.iri, v.object.iri) for v in c.claims)]
    if source:
        out = [c for c in out if any(source in (v.outlet.iri, (v.speaker or v.outlet).iri) for v in c.claims)]
    if not include_dismissed:
        out = [c for c in out if c.status != "dismissed"]
    order = {s: i for i, s in enumerate(STATUSES)}
    return sorted(out, key=lambda c: (order.get(c.status, 9), KINDS.index(c.kind) if c.kind in KINDS else 9,
                                      c.claims[1].date or "", c.id))


def _statements_about(kb: KnowledgeBase, entity: str | None, source: str | None) -> set[str] | None:
    """The statements about ``entity`` (subject or object) and by ``source``
    (speaker or outlet), from the claim table; None where there is no table
    to ask (a base in memory) or it cannot be read exactly."""
    if kb.path is None and not kb.location.startswith(("http://", "https://")):
        return None
    from cfkb.engine.table import open_table

    with open_table(kb) as table:
        if not table.regular:
            return None
        wanted: set[str] | None = None
        if entity:
            wanted = {r[0] for r in table.con.execute("SELECT iri FROM claims WHERE s = ? OR o = ?",
                                                      [entity, entity]).fetchall()}
        if source:
            by = {r[0] for r in table.con.execute("SELECT iri FROM claims WHERE outlet = ? OR who = ?",
                                                  [source, source]).fetchall()}
            wanted = by if wanted is None else wanted | by
    return wanted


def _rows_touching(rows: Iterable[dict[str, Any]], statements: set[str]) -> list[dict[str, Any]]:
    """Every row of each (this, value) conflict that has one of ``statements`` in any role."""
    rows = list(rows)
    pairs = {(r["this"].value, r["value"].value) for r in rows
             if any(term.value in statements for term in r.values())}
    return [r for r in rows if (r["this"].value, r["value"].value) in pairs]


def rule_rows(kb: KnowledgeBase) -> dict[str, list[dict[str, Any]]]:
    """Every rule's result rows, by rule IRI: the stored answers when they
    belong to the base as it is now (:mod:`cfkb.cache`), else a full run,
    which is then stored for the next time."""
    from cfkb import cache

    rules = load_rules()
    generation = kb.generation() if kb.path is not None else None
    answers = cache.load(kb, rules, generation)
    if answers is None:
        answers = full_rows(kb, rules)
        cache.save(kb, rules, answers, generation)
    return answers


def full_rows(kb: KnowledgeBase, rules: Sequence[Rule]) -> dict[str, list[dict[str, Any]]]:
    """Every rule's result rows over the whole base, by rule IRI.

    A base on disk or on a server answers from its claim table
    (:mod:`cfkb.engine`): each rule's SQL form, set-based, with the same rows
    as the compiled SPARQL. An in-memory base, a table the SQL forms cannot
    read exactly (:attr:`~cfkb.engine.table.ClaimTable.regular`), and a rule
    with no SQL form run the compiled SPARQL.
    """
    answers: dict[str, list[dict[str, Any]]] = {}
    if kb.path is not None or kb.location.startswith(("http://", "https://")):
        from cfkb.engine.rules import load_sql, sql_rows
        from cfkb.engine.table import open_table

        forms = load_sql()
        with open_table(kb) as table:
            if table.regular:
                answers = sql_rows(table, [r.iri for r in rules if r.iri in forms])
    for rule in rules:
        if rule.iri not in answers:
            answers[rule.iri] = kb.select(compile_rule(rule))
    return answers


def view_as_of(kb: KnowledgeBase, day: dt.date, *, known: bool = False) -> KnowledgeBase:
    """An in-memory copy of the base as claimed by ``day`` (statedOn ≤ day),
    or, with ``known``, as the base knew it then (recordedAt ≤ day)."""
    prop = CFKB.recordedAt if known else CFKB.statedOn
    limit = day.isoformat() + ("T23:59:59Z" if known else "")
    later = set()
    for q in kb.store.quads_for_pattern(None, prop, None, None):
        if q.object.value[: len(limit)] > limit if known else q.object.value > limit:
            later.add(q.subject)
    copy = KnowledgeBase(ox.Store(), None)
    copy.store.extend(q for q in kb.store if q.subject not in later)
    return copy


# -- the reference semantics -------------------------------------------------

@contextmanager
def _parsed_once() -> Iterator[None]:
    """Let rdflib parse each SPARQL text once while pySHACL runs.

    pySHACL hands rdflib the constraint's text for every focus node, and
    rdflib parses it every time (about 70 ms each). The parsed algebra is
    reusable with other bindings, so this changes speed, not answers.
    """
    from rdflib.plugins.sparql import processor

    original = processor.SPARQLProcessor.query
    parsed: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Any] = {}

    def query(self: Any, strOrQuery: Any, initBindings: Any = None, initNs: Any = None,  # noqa: N803
              base: str | None = None, DEBUG: bool = False) -> Any:  # noqa: N803
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((k, str(v)) for k, v in (initNs or {}).items())))
            if key not in parsed:
                parsed[key] = processor.translateQuery(processor.parseQuery(strOrQuery), base, initNs)
            strOrQuery = parsed[key]
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    processor.SPARQLProcessor.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        processor.SPARQLProcessor.query = original  # type: ignore[method-assign]


def reference_keys(kb: KnowledgeBase) -> set[tuple[str, frozenset[str]]]:
    """(rule, claims) of every conflict pySHACL finds running the shapes."""
    from cfkb.resources import shape_files
    from cfkb.validate import load_shapes, run_pyshacl, to_rdflib

    rules = {r.iri for r in load_rules()}
    data = to_rdflib(kb.quads())
    with _parsed_once():
        _, report = run_pyshacl(data, load_shapes(tuple(shape_files())))
    SH = rdflib.Namespace(SH_NS)
    keys = set()
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        constraint = str(report.value(result, SH.sourceConstraint))
        if constraint in rules:
            keys.add((constraint, frozenset({str(report.value(result, SH.focusNode)),
                                             str(report.value(result, SH.value))})))
    return keys


def engine_keys(kb: KnowledgeBase) -> set[tuple[str, frozenset[str]]]:
    """(rule, claims) of every conflict the compiled queries find."""
    keys = set()
    for rule in load_rules():
        for row in kb.select(compile_rule(rule)):
            keys.add((rule.iri, frozenset({row["this"].value, row["value"].value})))
    return keys


def claim_view(kb: KnowledgeBase, iri: str, role: str = "claim") -> ClaimView:
    """One claim as an analyst reads it (labels, provenance, grading, rank)."""
    return _Views(kb).claim(iri, role)



# -- incremental checking ----------------------------------------------------

_SPO = {RDF_NS + "subject": "subject", RDF_NS + "predicate": "predicate", RDF_NS + "object": "object"}


@lru_cache(maxsize=64)
def rule_patterns(query: str) -> tuple[tuple[str, ...], tuple[tuple[Any, str, Any, bool], ...]]:
    """A rule's selected variables, and every triple pattern in it as
    (subject, predicate IRI, object, inside a ``FILTER NOT EXISTS``), read by
    rdflib's SPARQL parser: patterns of the main groups and of (NOT) EXISTS
    groups alike. Variables come as :class:`rdflib.Variable`.

    >>> selected, patterns = rule_patterns(
    ...     "SELECT ?c WHERE { ?c rdf:subject ?x FILTER NOT EXISTS { ?m rdf:object ?x } }")
    >>> selected, sorted((str(s), p.rsplit("#", 1)[-1], str(o), neg) for s, p, o, neg in patterns)
    (('c',), [('c', 'subject', 'x', False), ('m', 'object', 'x', True)])
    """
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    parsed = prepareQuery(query, initNs=dict(PREFIXES))
    found: list[tuple[Any, str, Any, bool]] = []

    def walk(node: Any, negated: bool) -> None:
        if isinstance(node, CompValue):
            negated = negated or node.name == "Builtin_NOTEXISTS"
            if node.name in ("BGP", "TriplesBlock"):
                for t in node["triples"]:  # (s, p, o), or (s1, p1, o1, s2, p2, o2, ...) inside EXISTS
                    found.extend((s, str(p), o, negated) for s, p, o in zip(t[0::3], t[1::3], t[2::3]))
            for value in node.values():
                walk(value, negated)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value, negated)

    walk(parsed.algebra, False)
    return tuple(str(v) for v in parsed.algebra["PV"]), tuple(found)


def _claim_variables(query: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The claim variables a compiled rule selects, each with the variables
    its ``rdf:subject``/``rdf:predicate``/``rdf:object`` patterns name (a
    claim has one of each, so binding them is safe wherever the pattern is).

    >>> _claim_variables("SELECT ?this ?value WHERE { ?this rdf:subject ?x . ?value rdf:object ?x }")
    (('this', (('subject', 'x'),)), ('value', (('object', 'x'),)))
    """
    selected, patterns = rule_patterns(query)
    links: dict[str, dict[str, str]] = {}
    for s, p, o, _ in patterns:
        if isinstance(s, rdflib.Variable) and isinstance(o, rdflib.Variable) and p in _SPO:
            links.setdefault(str(s), {}).setdefault(_SPO[p], str(o))
    return tuple((v, tuple(sorted(links.get(v, {}).items()))) for v in selected)


def _rows_involving(kb: KnowledgeBase, query: str, claim: ox.NamedNode) -> list[dict[str, Any]]:
    """The rule's result rows in which ``claim`` fills any selected variable.

    The claim is bound in each role in turn, together with the variables its
    own subject, predicate and object fill (one value each, so the answer is
    the same), as a VALUES block the planner sees: the joins start from the
    claim and its entities instead of scanning the base.
    """
    spo: dict[str, Any] = {}
    for q in kb.store.quads_for_pattern(claim, None, None, None):
        pos = _SPO.get(q.predicate.value)
        if pos is not None:
            spo.setdefault(pos, q.object)
    rows = []
    for var, links in _claim_variables(query):
        binding = {var: claim}
        for pos, linked in links:
            if pos in spo and linked != var:
                binding.setdefault(linked, spo[pos])
        rows += kb.select(query, binding, plan_with_bindings=True)
    return rows


def incremental_rows(kb: KnowledgeBase, query: str, claim_iris: Iterable[str]) -> list[dict[str, Any]]:
    """A compiled rule's rows for every conflict that involves one of
    ``claim_iris`` (all rows of each such conflict, for its whole derivation)."""
    pairs: set[tuple[str, str]] = set()
    for iri in sorted(set(claim_iris)):
        for row in _rows_involving(kb, query, ox.NamedNode(iri)):
            pairs.add((row["this"].value, row["value"].value))
    rows = []
    for this, value in sorted(pairs):
        rows += kb.select(query, {"this": ox.NamedNode(this), "value": ox.NamedNode(value)}, plan_with_bindings=True)
    return rows


def rows_involving(kb: KnowledgeBase, rules: Sequence[Rule], claim_iris: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each rule's rows for every conflict that involves one of ``claim_iris``.

    A base on disk or on a server answers from its claim table
    (:func:`cfkb.engine.rules.sql_rows_involving`); an in-memory base, a
    table the SQL forms cannot read exactly, and a rule with no SQL form
    take the compiled SPARQL with the claims bound (:func:`incremental_rows`).
    """
    wanted = sorted({str(i) for i in claim_iris})
    answers: dict[str, list[dict[str, Any]]] = {}
    if wanted and (kb.path is not None or kb.location.startswith(("http://", "https://"))):
        from cfkb.engine.rules import load_sql, sql_rows_involving
        from cfkb.engine.table import open_table

        forms = load_sql()
        with open_table(kb) as table:
            if table.regular:
                answers = sql_rows_involving(table, [r.iri for r in rules if r.iri in forms], wanted)
    for rule in rules:
        if rule.iri not in answers:
            answers[rule.iri] = incremental_rows(kb, compile_rule(rule), wanted)
    return answers


def conflicts_for_claims(kb: KnowledgeBase, claim_iris: Iterable[str], *,
                         rules: Sequence[Rule] | None = None) -> list[Conflict]:
    """The conflicts involving any of ``claim_iris``, checking only what they can affect.

    The same conflicts :func:`find_conflicts` reports whose claims (either
    side, or a supporting claim) include one of these, found by running each
    rule with one of them bound in each of the rule's claim variables: the
    check after ``cfkb claim add`` or an import, in milliseconds per claim
    instead of a pass over the whole base.
    """
    wanted = sorted({str(i) for i in claim_iris})
    views = _Views(kb)
    statuses = _statuses(kb)
    found: dict[str, Conflict] = {}
    chosen = tuple(rules or load_rules())
    answers = rows_involving(kb, chosen, wanted)
    for rule in chosen:
        found.update(_conflicts(views, statuses, rule, answers[rule.iri]))
    order = {s: i for i, s in enumerate(STATUSES)}
    return sorted(found.values(), key=lambda c: (order.get(c.status, 9),
                                                 KINDS.index(c.kind) if c.kind in KINDS else 9,
                                                 c.claims[1].date or "", c.id))
