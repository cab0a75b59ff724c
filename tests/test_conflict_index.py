"""The conflict index: read when current, made again when not, kept current by writes of any size."""

from __future__ import annotations

import logging
import random
from collections import Counter

import duckdb
import pyoxigraph as ox
import pytest

from bench.generate import generate
from cfkb.engine import FILE, delta, lookup
from cfkb.engine import index as conflict_index
from cfkb.engine.index import open_index
from cfkb.model.vocabulary import CFKB_NS, RDF_NS
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.claimviews import claim_views
from cfkb.workflow.conflicts import conflict_id, conflict_page, engine_keys, find_conflicts
from conftest import invoke


def _index_keys(kb: KnowledgeBase) -> set[tuple[str, frozenset[str]]]:
    with open_index(kb) as index:
        return index.conflict_keys()


def _stamp(kb: KnowledgeBase) -> dict[str, str]:
    con = duckdb.connect(str(kb.path / FILE), read_only=True)
    try:
        return dict(con.execute("SELECT k, v FROM meta").fetchall())
    finally:
        con.close()


def _filing(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    """What the index keeps for the listings: every conflict's tags and its dates."""
    return (con.execute("SELECT id, facet, value FROM conflict_tags ORDER BY ALL").fetchall(),
            con.execute("SELECT id, date, newest, recorded FROM conflicts ORDER BY ALL").fetchall())


def _assert_filing_as_made_afresh(kb: KnowledgeBase) -> None:
    """The tags and dates the writes kept equal those of an index made from scratch,
    and the tags are what each conflict's member rows say, tag by tag."""
    from cfkb.engine import marks
    from cfkb.engine.index import fill, rules_digest
    from cfkb.engine.shapes import load_rules
    from cfkb.engine.table import build

    with open_index(kb) as index:
        assert marks.stamped(index.con) == marks.stamp_of(kb)
        kept = _filing(index.con)
        members = index.con.execute("SELECT id, s, o, area, who, outlet, grading, tlp FROM conflict_members").fetchall()
        dates = index.con.execute(
            "SELECT m.id, m.claim, m.date, m.recorded, k.this FROM conflict_members m JOIN conflicts k USING (id)"
        ).fetchall()
    with build(kb) as fresh:
        fill(fresh, kb, load_rules(), rules_digest())
        marks.fill(fresh.con, kb)
        assert _filing(fresh.con) == kept
    tags = set()
    for cid, s, o, area, who, outlet, grading, tlp in members:
        tags |= {(cid, "entity", e) for e in (s, o) if e} | {(cid, "source", e) for e in (who, outlet) if e}
        tags |= {(cid, "area", area)} if area else set()
        tags |= {(cid, "grading", grading), (cid, "tlp", tlp)}
    assert set(kept[0]) == tags and len(kept[0]) == len(tags)
    by_id: dict[str, list] = {}
    for cid, claim, date, recorded, this in dates:
        by_id.setdefault(cid, []).append((claim, date or "", recorded or "", this))
    assert kept[1] == sorted((cid, next((d for c, d, _, t in rows if c == t), ""), max(d for _, d, _, _ in rows),
                              max(r for _, _, r, _ in rows)) for cid, rows in by_id.items())


def _base(tmp_path, n: int = 160, seed: int = 11) -> tuple[KnowledgeBase, object]:
    ds = generate(n, seed=seed, noise_share=0.3)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    return kb, ds


def test_views_read_the_index_while_its_stamp_is_the_base_generation(tmp_path):
    kb, ds = _base(tmp_path)
    full = {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)}
    assert full and _stamp(kb)["index_generation"] == kb.generation()
    # the listing is what the index holds: a conflict taken out of it is gone from the views
    con = duckdb.connect(str(kb.path / FILE))
    gone = con.execute("SELECT id FROM conflicts ORDER BY id LIMIT 1").fetchone()[0]
    con.execute("DELETE FROM conflicts WHERE id = ?", [gone])
    con.close()
    assert gone not in {c.id for c in find_conflicts(kb)}
    # any write that can change a conflict moves the index with it (here: nothing taken back)
    kb.write(ds.claims[0].quads())
    assert _stamp(kb)["index_generation"] == kb.generation()
    # a stale stamp (a copied store, a killed writer) makes it again from the rules
    con = duckdb.connect(str(kb.path / FILE))
    con.execute("UPDATE meta SET v = 'stale' WHERE k = 'index_generation'")
    con.close()
    assert {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)} == full
    assert _stamp(kb)["index_generation"] == kb.generation()
    kb.close()


def _held_in_copy(kb) -> bool:
    """Whether the key-lookup copy is at the base's generation, holding writes DuckDB has not had."""
    import sqlite3

    con = sqlite3.connect(kb.path / "claims.sqlite")
    try:
        meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
        return meta["generation"] == kb.generation() and con.execute("SELECT count(*) FROM held").fetchone()[0] > 0
    finally:
        con.close()


def test_conflict_ids_made_in_sql_are_the_conflict_ids(tmp_path):
    kb, _ = _base(tmp_path)
    with open_index(kb) as index:
        rows = index.con.execute("SELECT id, rule, this, value FROM conflicts").fetchall()
    assert rows
    assert all(cid == conflict_id(rule, (this, value)) for cid, rule, this, value in rows)
    kb.close()


def test_a_rule_change_makes_the_index_again_and_says_so(tmp_path, caplog):
    kb, _ = _base(tmp_path, 60)
    before = _index_keys(kb)
    con = duckdb.connect(str(kb.path / FILE))
    con.execute("UPDATE meta SET v = 'other rules' WHERE k = 'index_rules'")
    con.execute("DELETE FROM conflicts")
    con.close()
    with caplog.at_level(logging.WARNING, logger="cfkb.engine"):
        assert _index_keys(kb) == before
    assert "the rules changed" in caplog.text
    kb.close()


@pytest.mark.parametrize("limit", [delta.DELTA_LIMIT, 10])
def test_batches_of_any_size_keep_the_index_equal_to_a_full_run(tmp_path, monkeypatch, limit):
    """Claims arrive in batches of 1 to 40 (above ``limit`` a batch runs the
    rules over the whole table); after each, the index equals the compiled
    SPARQL over the whole base, including conflicts a new sub-list
    membership takes away, and claims taken back."""
    monkeypatch.setattr(delta, "DELTA_LIMIT", limit)
    ds = generate(260, seed=5, noise_share=0.2)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.background))
    rng = random.Random(5)
    claims = list(ds.claims)
    rng.shuffle(claims)
    first, rest = claims[:80], claims[80:]
    kb.write([q for c in first for q in c.quads()])
    assert _index_keys(kb) == engine_keys(kb)
    while rest:
        size = rng.randint(1, 40)
        batch, rest = rest[:size], rest[size:]
        kb.write([q for c in batch for q in c.quads()])
        assert _stamp(kb)["index_generation"] == kb.generation() or _held_in_copy(kb), \
            "the write kept the index current, or the key-lookup copy holds it for the index's next reader"
        assert _index_keys(kb) == engine_keys(kb)
        assert _stamp(kb)["index_generation"] == kb.generation(), "the reader handed the held writes to the index"
    assert engine_keys(kb) == ds.truth
    # a claim taken back (a write that changes a statement the table held)
    _filed(kb, None, {})  # the marks made, and kept from here on
    _assert_filing_as_made_afresh(kb)
    victim = next(iter(next(iter(ds.truth))[1]))
    kb.write(remove=list(kb.store.quads_for_pattern(ox.NamedNode(victim), None, None, None)))
    assert _stamp(kb)["index_generation"] == kb.generation()
    assert _index_keys(kb) == engine_keys(kb)
    _assert_filing_as_made_afresh(kb)
    kb.close()


def test_a_new_sub_list_membership_takes_a_functional_conflict_away(tmp_path):
    kb, ds = _base(tmp_path, 200, seed=3)
    functional = [k for k in _index_keys(kb) if k[0].endswith("#FunctionalConflict")]
    assert functional
    one, other = sorted(functional[0][1])
    objects = [next(kb.store.quads_for_pattern(ox.NamedNode(c), ox.NamedNode(RDF_NS + "object"), None, None)).object
               for c in (one, other)]
    said = ox.NamedNode("https://w3id.org/cfkb/id/claim/test-sublist")
    quads = next(iter(ds.claims)).quads()
    # the same provenance as a generated claim, saying the first list is part of the second
    kept = [ox.Quad(said, q.predicate, q.object, q.graph_name) for q in quads
            if q.predicate.value not in (RDF_NS + "subject", RDF_NS + "object", RDF_NS + "predicate",
                                         CFKB_NS + "negated", CFKB_NS + "inArea", CFKB_NS + "election")]
    kept += [ox.Quad(said, ox.NamedNode(RDF_NS + "subject"), objects[0]),
             ox.Quad(said, ox.NamedNode(RDF_NS + "predicate"), ox.NamedNode(CFKB_NS + "memberOf")),
             ox.Quad(said, ox.NamedNode(RDF_NS + "object"), objects[1]),
             ox.Quad(said, ox.NamedNode(CFKB_NS + "negated"), ox.Literal("false", datatype=ox.NamedNode(
                 "http://www.w3.org/2001/XMLSchema#boolean")))]
    kb.write(kept)
    after = _index_keys(kb)
    assert functional[0] not in after
    assert after == engine_keys(kb)
    kb.close()


def test_pages_split_the_listing_and_count_it(tmp_path):
    kb, _ = _base(tmp_path, 200)
    everything = find_conflicts(kb)
    total, first = conflict_page(kb, limit=7)
    assert total == len(everything) > 14
    assert [c.id for c in first] == [c.id for c in everything[:7]]
    _, second = conflict_page(kb, limit=7, offset=7)
    assert [c.id for c in second] == [c.id for c in everything[7:14]]
    assert conflict_page(kb, limit=5, offset=total) == (total, [])
    entity = everything[0].claims[1].subject.iri
    total, page = conflict_page(kb, entity=entity, limit=2)
    about = [c for c in everything if any(entity in (v.subject.iri, v.object.iri) for v in c.claims)]
    assert total == len(about) and [c.id for c in page] == [c.id for c in about[:2]]
    cid = everything[3].id
    assert [c.id for c in conflict_page(kb, prefix=cid[:8])[1]] == [cid]
    kb.close()


def test_claim_add_keeps_the_index_current_and_counts_what_it_made(runner, store_path):
    assert invoke(runner, store_path, "conflicts").exit_code == 0
    result = invoke(runner, store_path, "claim", "add", "--subject", "Harakat Hoquq", "--predicate",
                    "participatesIn", "--object", "December 2023 provincial elections", "--negated",
                    "--source", "Al-Iraqiya TV", "--date", "2023-09-01")
    assert result.exit_code == 0, result.output
    assert "1 new conflict" in result.stderr
    with KnowledgeBase.open(store_path) as kb:
        assert _held_in_copy(kb), "one claim is kept in the key-lookup copy, without DuckDB"
        assert _stamp(kb)["index_generation"] != kb.generation()
        assert _index_keys(kb) == engine_keys(kb)
        assert _stamp(kb)["index_generation"] == kb.generation(), "the reader handed it to the index"


def test_a_writer_counts_its_new_conflicts_as_its_upkeep_filed_them(runner, store_path):
    """A write's own upkeep says how many conflicts its new claims are in: the
    same number the index gives when it is opened afterwards."""
    from cfkb.io.batch import InputFile
    from cfkb.io.importer import import_into

    assert invoke(runner, store_path, "conflicts").exit_code == 0  # the index exists: writes keep it
    rows = ("subject,predicate,object,source,date,negated\n"
            "Harakat Hoquq,participatesIn,December 2023 provincial elections,Al-Iraqiya TV,2023-09-01,true\n"
            "Kataib Hezbollah,participatesIn,December 2023 provincial elections,Al-Rabaa TV,2023-09-02,false\n"
            "Harakat Hoquq,memberOf,Tahalof al-Safwa al-Watani,Al-Iraqiya TV,2023-09-03,true\n")
    report = import_into(str(store_path), [InputFile("three.csv", rows.encode())], analyst="test",
                         count_conflicts=True)
    assert len(report.claims_added) == 3
    with KnowledgeBase.open(store_path) as kb:
        generation = kb.generation()
        assert delta.filed_for(generation, report.claims_added) == report.new_conflicts
        assert delta.filed_for("another generation", report.claims_added) is None
        with open_index(kb) as index:
            assert index.page({}, claims=report.claims_added, limit=0)[0] == report.new_conflicts
            assert [index.page({}, claims=[c], limit=0)[0] for c in report.claims_added] == [
                delta.filed_for(generation, [c]) for c in report.claims_added]
    assert report.new_conflicts >= 2


def _view_tags(c, default_tlp):
    """What a conflict is filed under, read from its claims' views."""
    out = {"kind": {c.kind}, "status": {c.status}, "entity": set(), "area": set(), "source": set(),
           "grading": set(), "tlp": set()}
    for v in c.claims:
        out["entity"].update((v.subject.iri, v.object.iri))
        if v.area:
            out["area"].add(v.area.iri)
        out["source"].update(r.iri for r in (v.speaker, v.outlet) if r)
        out["grading"].add(f"{v.reliability or '?'}{v.credibility or '?'}" if v.reliability or v.credibility
                           else "ungraded")
        if v.tlp or default_tlp:
            out["tlp"].add(v.tlp or default_tlp)
    return out


SECTIONS = (("open", "disputed"), ("resolved",), ("dismissed",))


def _filed(kb, default_tlp, filters):
    from cfkb.engine import facets
    from cfkb.workflow.conflicts import conflict_statuses

    return facets.file(kb, conflict_statuses(kb), default_tlp, filters, offset=0, limit=10**6, sections=SECTIONS)


def _reference(kb, default_tlp, filters):
    """What the filing must say, worked out from every conflict's claims' views."""
    views = find_conflicts(kb)
    tags = {c.id: _view_tags(c, default_tlp) for c in views}

    def passes(cid, skip=None):
        return all(v in tags[cid][k] for k, v in filters.items() if k != skip)

    counts = {name: Counter(v for cid in tags if passes(cid, name) for v in tags[cid][name])
              for name in ("kind", "status", "entity", "area", "source", "grading", "tlp")}
    found = [c for c in views if passes(c.id)]
    section = {s: i for i, statuses in enumerate(SECTIONS) for s in statuses}
    return counts, found, section


def _check_filing(kb, default_tlp, filters):
    counts, found, section = _reference(kb, default_tlp, filters)
    filing = _filed(kb, default_tlp, filters)
    assert filing.counts == counts, filters
    assert filing.found == len(found) and set(filing.ids) == {c.id for c in found}, filters
    assert filing.totals == {i: sum(1 for c in found if section.get(c.status) == i) for i in range(3)}
    newest = {c.id: (-section.get(c.status, 3), max(v.date or "" for v in c.claims)) for c in found}
    order = [newest[cid] for cid in filing.ids]
    assert order == sorted(order, reverse=True), "open first, then newest first"


@pytest.mark.parametrize("default_tlp", [None, "AMBER"])
def test_the_dashboard_files_and_counts_conflicts_as_their_claims_views_would(tmp_path, default_tlp):
    kb, _ = _base(tmp_path, 200, seed=7)
    counts, _, _ = _reference(kb, default_tlp, {})
    assert counts["grading"] and counts["source"] and counts["entity"]
    rng = random.Random(3)
    tries = [{}, {"kind": "functional"}, {"status": "open"}]
    for facet in ("entity", "area", "source", "grading", "tlp"):
        if counts[facet]:
            tries.append({facet: rng.choice(sorted(counts[facet]))})
    tries.append({"entity": counts["entity"].most_common(1)[0][0], "grading": counts["grading"].most_common(1)[0][0]})
    for filters in tries:
        _check_filing(kb, default_tlp, filters)
    kb.close()


def test_grades_given_after_the_table_is_made_are_filed_at_once(tmp_path):
    from cfkb.engine import marks
    from cfkb.engine.index import open_index
    from cfkb.workflow.grading import grade_claim, rate_source

    kb, _ = _base(tmp_path, 160, seed=13)
    _check_filing(kb, None, {})
    claims = [v for c in find_conflicts(kb) for v in c.claims]
    claim, bare = claims[0], next(v for v in claims[1:] if v.outlet and v.iri != claims[0].iri)
    revision = kb.marks_revision()
    grade_claim(kb, claim.iri, 6 if claim.credibility != "6" else 5, analyst="a")
    # a claim left with no grade of its own takes its outlet's reliability, and no credibility
    own = [q for p in ("reliability", "credibility")
           for q in kb.store.quads_for_pattern(ox.NamedNode(bare.iri), ox.NamedNode(CFKB_NS + p), None, None)]
    kb.write(remove=own, keeps_conflicts=True)
    rate_source(kb, bare.outlet.iri, "F", analyst="a")
    assert kb.marks_revision() != revision
    with open_index(kb) as index:  # kept by the writes themselves, not made again by a read
        assert marks.stamped(index.con) == marks.stamp_of(kb)
    _check_filing(kb, None, {})
    _check_filing(kb, None, {"source": bare.outlet.iri})
    assert _filed(kb, None, {}).counts["grading"]["F?"]
    _assert_filing_as_made_afresh(kb)
    kb.close()


def test_a_marks_table_that_is_not_the_bases_is_made_again(tmp_path):
    from cfkb.engine import marks

    kb, _ = _base(tmp_path, 120, seed=17)
    _filed(kb, None, {})
    con = duckdb.connect(str(kb.path / FILE))
    con.execute("UPDATE marks SET reliability = 'A', credibility = '1'")  # edited by hand
    con.execute("UPDATE meta SET v = 'someone else' WHERE k = 'marks'")
    con.close()
    _check_filing(kb, None, {})
    con = duckdb.connect(str(kb.path / FILE), read_only=True)
    assert marks.stamped(con) == marks.stamp_of(kb)
    con.close()
    kb.close()


def test_a_damaged_claim_table_is_made_again_and_says_so(tmp_path, caplog):
    kb, _ = _base(tmp_path, 80)
    before = _index_keys(kb)
    (kb.path / FILE).unlink()
    con = duckdb.connect(str(kb.path / FILE))  # a DuckDB file, but not a whole claim table
    con.execute("CREATE TABLE meta (k VARCHAR, v VARCHAR)")
    con.close()
    with caplog.at_level(logging.WARNING, logger="cfkb.engine"):
        assert _index_keys(kb) == before
    assert "is damaged: made again from the graph" in caplog.text
    kb.close()


def test_making_a_claim_table_tells_how_far_it_has_got(tmp_path):
    from cfkb.engine import table

    told: list[tuple[int, int]] = []
    table.on_progress(lambda done, total: told.append((done, total)))
    try:
        kb, _ = _base(tmp_path, 40)
        _index_keys(kb)
        kb.close()
    finally:
        table.on_progress(None)
    assert told and told[-1][0] == told[-1][1] and [d for d, _ in told] == sorted(d for d, _ in told)


def test_an_entity_page_lists_a_page_of_its_conflicts_and_counts_them_all(tmp_path, monkeypatch):
    from cfkb.server import data

    kb, _ = _base(tmp_path, 260, seed=5)
    everything = find_conflicts(kb)
    entity = max({v.subject.iri for c in everything for v in c.claims},
                 key=lambda e: sum(1 for c in everything if any(e in (v.subject.iri, v.object.iri) for v in c.claims)))
    about = [c for c in everything if any(entity in (v.subject.iri, v.object.iri) for v in c.claims)]
    assert len(about) >= 3
    monkeypatch.setattr(data, "PAGE_CONFLICTS", 2)
    page = data.entity_page(kb, entity)
    assert page.conflict_total == len(about)
    assert [c.id for c in page.conflicts] == [c.id for c in about[:2]]
    # every claim of every conflict about it is marked, not only those of the page listed
    assert page.in_conflict == {v.iri for c in about for v in c.claims}
    kb.close()


def test_a_source_page_lists_a_page_of_its_conflicts_and_counts_them_all(tmp_path, monkeypatch):
    from cfkb.server import data

    kb, _ = _base(tmp_path, 260, seed=5)
    everything = find_conflicts(kb)
    outlet = Counter(v.outlet.iri for c in everything for v in c.claims).most_common(1)[0][0]
    by = find_conflicts(kb, source=outlet)
    assert len(by) >= 3 and all(any(outlet in (v.outlet.iri, v.speaker and v.speaker.iri) for v in c.claims)
                                for c in by)
    monkeypatch.setattr(data, "PAGE_CONFLICTS", 2)
    page = data.source_page(kb, outlet)
    assert page.conflict_total == len(by)
    assert page.conflicts == by[:2]
    # its claims in any conflict it is in, and each shown as the claims' own views show it
    shown = {v.iri for v in page.claims}
    assert page.in_conflict == {v.iri for c in by for v in c.claims} & shown
    assert page.claims == claim_views(kb, [v.iri for v in page.claims])
    kb.close()


def test_a_listing_read_whole_counts_what_it_read(tmp_path):
    kb, _ = _base(tmp_path)
    total, everything = conflict_page(kb)
    assert total == len(everything) == conflict_page(kb, limit=1)[0]
    some = [c.id for c in everything[::3]]
    assert conflict_page(kb, ids=some) == (len(some), [c for c in everything if c.id in set(some)])
    assert conflict_page(kb, ids=some, offset=1) == (len(some), [c for c in everything if c.id in set(some)][1:])
    kb.close()


@pytest.mark.parametrize(("chunk", "remade"), [(7, False), (100_000, False), (100_000, True)])
def test_a_bulk_batch_keeps_the_table_marks_and_index_current_read_in_chunks(tmp_path, monkeypatch, chunk, remade):
    """A journalled batch's lines are read in chunks (a statement may span two) into the
    table's upkeep: claims, marks (the least of the batch's and the table's) and the
    conflict index end as a full build from the graph makes them. A batch many times
    the table's size is not followed: its stamp stays old, and the next read makes
    them again from the graph, with the same result."""
    from cfkb.engine import marks, upkeep
    from cfkb.engine.table import build
    from cfkb.store import core

    monkeypatch.setattr(upkeep, "BATCH_CHUNK", chunk)
    if not remade:  # the batch below is bigger than the table: followed only if the ratio allows it
        monkeypatch.setattr(upkeep, "REMAKE_RATIO", 10**9)
    batches = []
    follow_batch = upkeep._follow_batch
    monkeypatch.setattr(upkeep, "_follow_batch", lambda *a: (batches.append(a), follow_batch(*a)))
    monkeypatch.setattr(core, "BULK_MIN_QUADS", 100)
    ds = generate(400, seed=9, noise_share=0.3)
    claims = list(ds.claims)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.background) + [q for c in claims[:150] for q in c.quads()])
    assert _index_keys(kb) == engine_keys(kb)  # the table and the index made
    _filed(kb, None, {})  # and the marks
    graded = ox.NamedNode(claims[0].iri)
    old = {q.predicate.value.rsplit("#")[1]: q.object.value
           for q in kb.store.quads_for_pattern(graded, None, None, None) if q.predicate.value in marks.COLUMNS}
    extra = [ox.Quad(graded, ox.NamedNode(CFKB_NS + "reliability"), ox.Literal("0")),  # less than any grade
             ox.Quad(graded, ox.NamedNode(CFKB_NS + "credibility"), ox.Literal("9")),  # more than any
             ox.Quad(ox.NamedNode(claims[1].iri), ox.NamedNode(CFKB_NS + "reliability"), ox.Literal("\tA\nB")),
             ox.Quad(ox.NamedNode(claims[2].iri), ox.NamedNode(CFKB_NS + "credibility"), ox.Literal(""))]
    text = ox.serialize([q for c in claims[150:] for q in c.quads()] + extra, format=ox.RdfFormat.N_QUADS) or b""
    with duckdb.connect(str(kb.path / FILE), read_only=True) as con:
        assert upkeep.remade_cheaper(con, [], text) == remade
    before = _stamp(kb)["generation"]
    kb.write_many(nquads=text)
    assert len(batches) == (0 if remade else 1)  # the journalled path: followed, or left for the next read
    if remade:
        assert _stamp(kb)["generation"] == before != kb.generation()
        _filed(kb, None, {})  # the next read: the table, the index and the marks made again
    stamp = _stamp(kb)
    assert stamp["generation"] == stamp["index_generation"] == kb.generation()
    con = duckdb.connect(str(kb.path / FILE), read_only=True)
    try:
        assert marks.stamped(con) == marks.stamp_of(kb)
        stored = {r[0]: r[1:] for r in
                  con.execute("SELECT subject, reliability, credibility, tlp FROM marks").fetchall()}
        rows = con.execute("SELECT * FROM claims ORDER BY ALL").fetchall()
    finally:
        con.close()
    expected = {s: (m.get("reliability"), m.get("credibility"), m.get("tlp")) for s, m in marks._read(kb, None).items()}
    assert stored == expected
    assert stored[graded.value][:2] == ("0", old["credibility"]) and stored[claims[1].iri][0] == "\tA\nB"
    assert stored[claims[2].iri][1] == ""
    with build(kb) as fresh:
        assert rows == fresh.con.execute("SELECT * FROM claims ORDER BY ALL").fetchall()
    assert len(rows) >= 400
    assert _index_keys(kb) == engine_keys(kb) == ds.truth
    _assert_filing_as_made_afresh(kb)
    kb.close()


def test_an_index_delta_cut_short_leaves_the_claim_table_current_and_the_index_made_again(tmp_path, monkeypatch):
    """The index's delta runs in a transaction of its own, after the claim table's has
    committed: one that fails (a killed process, a full disk) leaves the table current
    and the index stamped for the state before the write; the next read makes it again."""
    kb, ds = _base(tmp_path)
    find_conflicts(kb)
    before = kb.generation()
    assert _stamp(kb)["index_generation"] == before
    # a second value for a functional fact the base has: a new conflict
    claim = next(c for c in ds.claims if c.predicate.endswith("#runsAs") and not c.negated)
    other = type(claim)(subject=claim.subject, predicate=claim.predicate, object=claim.object + "-other",
                        source=claim.source, area=claim.area, election=claim.election, date=claim.date)

    def cut_short(con: duckdb.DuckDBPyConnection) -> None:
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(conflict_index, "_derive", cut_short)
    monkeypatch.setattr(lookup, "WRITE_LIMIT", 0)  # the write goes to DuckDB, not the key-lookup copy
    kb.write(other.quads())
    stamp = _stamp(kb)
    assert stamp["generation"] == kb.generation() != before and stamp["index_generation"] == before
    monkeypatch.undo()
    found = {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)}
    assert any(other.iri in pair for _, pair in found)
    # as the rules' SPARQL finds them over the graph
    assert found == {(rule.rsplit("#", 1)[-1], pair) for rule, pair in engine_keys(kb)}
    assert _stamp(kb)["index_generation"] == kb.generation()
    kb.close()


def test_a_grade_given_while_the_copy_holds_writes_files_them_both(tmp_path):
    """A kept claim, then a grade of it: the grade's upkeep hands the held claim on first, under
    the marks revision it was made under, then files the grade; nothing is made again by a read."""
    from cfkb.engine import marks
    from cfkb.workflow.grading import grade_claim

    kb, ds = _base(tmp_path, 160, seed=13)
    _check_filing(kb, None, {})
    claim = next(c for c in ds.claims if c.predicate.endswith("#runsAs") and not c.negated)
    other = type(claim)(subject=claim.subject, predicate=claim.predicate, object=claim.object + "-other",
                        source=claim.source, area=claim.area, election=claim.election, date=claim.date)
    kb.write(other.quads())
    assert _held_in_copy(kb)
    grade_claim(kb, other.iri, 2, analyst="a")
    assert not _held_in_copy(kb) and _stamp(kb)["index_generation"] == kb.generation()
    con = duckdb.connect(str(kb.path / FILE), read_only=True)
    try:
        assert marks.stamped(con) == marks.stamp_of(kb), "the writes kept the marks, no read made them again"
    finally:
        con.close()
    assert _index_keys(kb) == engine_keys(kb)
    _assert_filing_as_made_afresh(kb)
    kb.close()
