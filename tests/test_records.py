"""A source's track record, counted over its claims' few fields, agrees with its claims' views."""

from __future__ import annotations

from collections import Counter

import pyoxigraph as ox

from bench.generate import generate
from cfkb.engine.table import open_table
from cfkb.model.vocabulary import CFKB
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.claimviews import claim_views
from cfkb.workflow.decisions import rank
from cfkb.workflow.grading import rate_source
from cfkb.workflow.records import TrackRecord, track_record


def _summed(kb: KnowledgeBase, iris: list[str]) -> TrackRecord:
    """What the source page summed up from its claims' views."""
    views = claim_views(kb, iris)
    dates = sorted(v.date for v in views if v.date)
    return TrackRecord(
        predicates=Counter(v.predicate.label for v in views), ranks=Counter(v.rank for v in views),
        grades=Counter(f"{v.reliability or '?'}{v.credibility or '?'}" for v in views
                       if v.reliability or v.credibility),
        negated=sum(1 for v in views if v.negated), first=dates[0] if dates else None,
        last=dates[-1] if dates else None)


def test_a_track_record_counts_as_the_claims_views_show_them(tmp_path):
    ds = generate(300, seed=4, noise_share=0.3)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    by_outlet = Counter(c.source for c in ds.claims)
    outlet = by_outlet.most_common(1)[0][0]
    iris = [c.iri for c in ds.claims if c.source == outlet]
    # gradings from every place a view takes one: the claim's own, its speaker's, its outlet's
    ungraded = iris[: len(iris) // 2]
    kb.write(remove=[q for i in ungraded for p in (CFKB.reliability, CFKB.credibility)
                     for q in kb.store.quads_for_pattern(ox.NamedNode(i), p, None, None)])
    speakers = sorted({c.speaker for c in ds.claims if c.source == outlet and c.speaker})
    assert speakers
    rate_source(kb, speakers[0], "B", analyst="test")
    rate_source(kb, outlet, "E", analyst="test")
    rank(kb, iris[0], "deprecated", analyst="test", reason="retracted")
    rank(kb, iris[1], "preferred", analyst="test")

    with open_table(kb) as table:
        assert table.regular
        record = track_record(kb, table, iris)
        # a claim named twice counts once; no claims, an empty record
        assert track_record(kb, table, iris + iris[:3]) == record
        assert track_record(kb, table, []) == TrackRecord()
    assert record == _summed(kb, iris)
    assert record.ranks["deprecated"] == record.ranks["preferred"] == 1
    assert {"B?", "E?"} <= set(record.grades) and len(record.grades) > 2
    assert sum(record.predicates.values()) == len(iris) and record.first and record.first < (record.last or "")
    # a table that cannot hold every field as the graph does (a date that is no xsd:date):
    # the fields come from the graph, with the same record
    odd = ox.NamedNode(iris[2])
    date = next(kb.store.quads_for_pattern(odd, CFKB.statedOn, None, None))
    kb.write(add=[ox.Quad(odd, CFKB.statedOn, ox.Literal("2019"), date.graph_name)], remove=[date])
    with open_table(kb) as table:
        assert not table.regular
        assert track_record(kb, table, iris) == _summed(kb, iris)
        assert track_record(kb, table, iris).first == "2019"
    kb.close()
