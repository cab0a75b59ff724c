"""Sources' track records: the claims each made, how they were ranked, the conflicts they are in."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyoxigraph as ox

from cfkb.engine.common import TEXTS, texts
from cfkb.model.vocabulary import CFKB_NS, PROV_NS, RDF_NS, rank_name
from cfkb.store.backend import quads_of_subjects, value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.decisions import _v

if TYPE_CHECKING:
    from cfkb.engine.table import ClaimTable
    from cfkb.workflow.conflicts import Conflict


@dataclass
class SourceRecord:
    iri: str
    label: str
    kind: str
    reliability: str | None
    claims: int
    preferred: int
    deprecated: int
    conflicts: int
    last_spoke: str | None


def source_records(kb: KnowledgeBase, conflicts: Iterable[Conflict] | None = None) -> list[SourceRecord]:
    """Each speaker, outlet and document with its grading and track record."""
    in_conflict: dict[str, set[str]] = defaultdict(set)
    if conflicts is None:
        from cfkb.engine.index import open_index  # deferred: loads duckdb

        with open_index(kb) as index:
            for source, ids in index.by_source().items():
                in_conflict[source] = ids
    for c in conflicts or ():
        for v in c.claims:
            for ref in (v.outlet, v.speaker):
                if ref is not None:
                    in_conflict[ref.iri].add(c.id)
    rows = kb.select(own_query("source_records"))
    out = []
    for r in rows:
        iri = r["src"].value
        out.append(SourceRecord(
            iri=iri, label=r["label"].value if "label" in r else iri,
            kind=r["type"].value.rsplit("#", 1)[-1] if "type" in r else "",
            reliability=_v(r, "rel"), claims=int(r["n"].value),
            preferred=int(r["pref"].value) if "pref" in r else 0,
            deprecated=int(r["dep"].value) if "dep" in r else 0,
            conflicts=len(in_conflict.get(iri, ())), last_spoke=_v(r, "last"),
        ))
    return out


@dataclass
class TrackRecord:
    """What a source's claims add up to: by predicate (its label), rank and grading
    (as a claim view shows them), how many are negative, the first and last date."""

    predicates: Counter[str] = field(default_factory=Counter)
    ranks: Counter[str] = field(default_factory=Counter)
    grades: Counter[str] = field(default_factory=Counter)
    negated: int = 0
    first: str | None = None
    last: str | None = None


#: the fields a track record reads from the graph, where the claim table does not hold them
_GRAPH_FIELDS = {CFKB_NS + "rank": "rank", CFKB_NS + "reliability": "rel", CFKB_NS + "credibility": "cred"}
#: and those it reads from the claim table, where that holds them as the graph does (a regular table)
_TABLE_FIELDS = {RDF_NS + "predicate": "p", CFKB_NS + "negated": "neg", CFKB_NS + "statedOn": "date",
                 PROV_NS + "wasAttributedTo": "who", CFKB_NS + "statedIn": "outlet"}
_RELIABILITY = ox.NamedNode(CFKB_NS + "reliability")


def track_record(kb: KnowledgeBase, table: ClaimTable, claim_iris: Iterable[str]) -> TrackRecord:
    """The track record of these claims, every one of them however many,
    from the fields counted alone, not the claims' views: the predicate,
    sign, date, speaker and outlet from the base's claim ``table`` (all of
    them in one statement, where the table is regular; otherwise from the
    graph), the rank and grading from the graph (a lookup per claim and
    field; batched requests on a server). A claim's grading is its own reliability, else its speaker's
    (where the speaker is not the outlet), else its outlet's, with its own
    credibility, as :class:`~cfkb.workflow.claimviews.ClaimView` shows it."""
    iris = list(dict.fromkeys(claim_iris))
    fields: dict[str, dict[str, str]] = {iri: {} for iri in iris}
    graph_fields = dict(_GRAPH_FIELDS)
    if table.regular:
        for iri, p, neg, date, who, outlet in table.con.execute(
                f"SELECT iri, p, neg, date, who, outlet FROM claims WHERE iri IN (SELECT {TEXTS})",
                [texts(iris)]).fetchall():
            got = {"p": p, "neg": None if neg is None else str(neg).lower(), "date": date, "who": who,
                   "outlet": outlet}
            fields[iri].update((k, v) for k, v in got.items() if v is not None)
    else:
        graph_fields.update(_TABLE_FIELDS)
    # batched requests on a server (quads_of_subjects), a lookup per claim and field on disk
    for q in quads_of_subjects(kb.store, (ox.NamedNode(i) for i in iris),
                               [ox.NamedNode(p) for p in graph_fields]):
        fields[value_of(q.subject)].setdefault(graph_fields[q.predicate.value], value_of(q.object))
    sources = sorted({f[k] for f in fields.values() for k in ("who", "outlet") if k in f})
    reliability: dict[str, str] = {}
    for q in quads_of_subjects(kb.store, (ox.NamedNode(s) for s in sources), [_RELIABILITY]):
        reliability.setdefault(value_of(q.subject), value_of(q.object))
    labels = {r["p"].value: r["l"].value for r in kb.select(own_query("predicate_words")) if "l" in r}
    record = TrackRecord()
    dates = []
    for f in fields.values():
        if "p" in f:
            record.predicates[labels.get(f["p"], f["p"].rsplit("#", 1)[-1])] += 1
        record.negated += f.get("neg") == "true"
        if "date" in f:
            dates.append(f["date"])
        record.ranks[rank_name(f["rank"]) if "rank" in f else "normal"] += 1
        spoke = "who" in f and f["who"] != f.get("outlet")
        rel = next((r for r in (f.get("rel"), reliability.get(f["who"]) if spoke else None,
                                reliability.get(f.get("outlet", ""))) if r is not None), None)
        cred = int(f["cred"]) if "cred" in f else None
        if rel or cred:
            record.grades[f"{rel or '?'}{cred or '?'}"] += 1
    if dates:
        record.first, record.last = min(dates), max(dates)
    return record
