"""Claim records stand in for their quads: as N-Quads text, in the shape check, in a bulk import.

A big import no longer makes a Python quad object per claim property: the
commit writes each claim as N-Quads text (:class:`cfkb.model.vocabulary.ClaimText`) and
the compiled shape check reads the records column by column
(:data:`cfkb.model.vocabulary.CLAIM_PROPERTIES`). These tests hold both to
:meth:`Claim.quad_list` and to the quad-based check (which
``test_shapecheck.py`` holds to pySHACL), and check that a bad row deep in a
bulk-sized table is still reported at its file, line and column.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfkb.model.vocabulary import CFID_NS, CFKB, CFKB_NS, CLAIM_PROPERTIES, ONTOLOGY_GRAPH, RDFS, Claim, ClaimText
from cfkb.resources import shapes_dir
from cfkb.shacl.compiler import compiled
from cfkb.shacl.shapecheck import check, record_nodes, type_quads
from cfkb.store.core import BULK_MIN_QUADS, KnowledgeBase
from conftest import invoke
from storestate import store_state
from test_import_roundtrip import claims

SHAPES = (shapes_dir() / "claims.ttl",)
TAIL = [(CFKB.recordedBy, ox.Literal("t")), (CFKB.recordedAt, ox.Literal("2024-01-01", datatype=ox.NamedNode(
    "http://www.w3.org/2001/XMLSchema#date")))]


def _table_quads(c: Claim, iri: str) -> set[ox.Quad]:
    node = ox.NamedNode(iri)
    out = set()
    for p, fields, make in CLAIM_PROPERTIES:
        raw = [getattr(c, f) for f in fields]
        if not fields or (raw[0] is not None and raw[0] != ""):
            out.add(ox.Quad(node, ox.NamedNode(p), make(*raw)))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=st.lists(claims(), min_size=1, max_size=5))
def test_claim_text_and_the_property_table_give_the_quads_of_quad_list(drawn):
    text = ClaimText(TAIL)
    for c in drawn:
        iri = c.iri
        expected = set(c.quad_list(iri=iri))
        node = ox.NamedNode(iri)
        lines = text.lines(c, iri)
        assert set(ox.parse(lines, format=ox.RdfFormat.N_QUADS)) == expected | {ox.Quad(node, p, o) for p, o in TAIL}
        assert lines.count("\n") == len(expected) + len(TAIL)
        assert _table_quads(c, iri) == expected


@pytest.fixture(scope="module")
def base(seed_template) -> KnowledgeBase:
    kb = KnowledgeBase.open(seed_template)
    yield kb
    kb.close()


GOOD = Claim(subject=CFID_NS + "kataib-hezbollah", predicate=CFKB_NS + "participatesIn",
             object=CFID_NS + "iraq-provincial-elections-2023", source=CFID_NS + "al-iraqiya-tv",
             negated=True, speaker=CFID_NS + "qais-al-khazali", date=dt.date(2023, 8, 22),
             area=CFID_NS + "diyala", election=CFID_NS + "iraq-provincial-elections-2023",
             cited_in=CFID_NS + "winep-cf-four-way-split-part-1", reliability="B", credibility=2, tlp="CLEAR",
             quote='a "quote"\nover two lines', quote_lang="ar")
BAD = {
    "no date": {"date": None},
    "object of wrong type": {"object": CFID_NS + "tahalof-nabni"},
    "subject of wrong type": {"subject": CFID_NS + "diyala"},
    "untyped subject": {"subject": CFID_NS + "nobody-knows"},
    "not a claim predicate": {"predicate": "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"},
    "source a person": {"source": CFID_NS + "qais-al-khazali"},
    "cited in an outlet": {"cited_in": CFID_NS + "al-iraqiya-tv"},
    "area an election": {"area": CFID_NS + "iraq-provincial-elections-2023"},
    "reliability G": {"reliability": "G"},
    "credibility 7": {"credibility": 7},
    "credibility 0": {"credibility": 0},
    "tlp unknown": {"tlp": "PURPLE"},
    "election a province": {"election": CFID_NS + "diyala"},
}


def _both(base: KnowledgeBase, records: list[tuple[str, Claim]], extra: list[ox.Quad]) -> tuple[set, set]:
    index = base.entity_index()
    context = type_quads(record_nodes(records, index.types) | {q.subject for q in extra}, index.types)
    ontology = list(base.quads(ONTOLOGY_GRAPH))
    as_quads = extra + [q for iri, c in records for q in c.quad_list(iri=iri)]
    by_quads = check(compiled(SHAPES), as_quads, context, ontology)
    by_records = check(compiled(SHAPES), extra, context, ontology, records)
    return set(by_records), set(by_quads)


@pytest.mark.parametrize("name", sorted(BAD))
def test_records_are_checked_as_their_quads_would_be(base, name):
    bad = dataclasses.replace(GOOD, **BAD[name])
    records = [(GOOD.iri, GOOD), (bad.iri, bad), (CFID_NS + "claim/other", dataclasses.replace(bad, negated=False))]
    by_records, by_quads = _both(base, records, [])
    assert by_records == by_quads
    assert {v.focus for v in by_records} == {bad.iri, CFID_NS + "claim/other"}


def test_a_record_the_batch_says_more_about_is_checked_with_those_quads(base):
    """A partner file may type a claim further or give it a second quote: its quads join the record's."""
    bad = dataclasses.replace(GOOD, reliability="G")
    node = ox.NamedNode(bad.iri)
    extra = [ox.Quad(node, CFKB.quote, ox.Literal("another")), ox.Quad(node, RDFS.label, ox.Literal("x"))]
    by_records, by_quads = _both(base, [(GOOD.iri, GOOD), (bad.iri, bad)], extra)
    assert by_records == by_quads
    assert {v.message for v in by_records} >= {"a claim has at most one quote",
                                               "reliability is one Admiralty grade A-F"}


def test_a_bad_row_deep_in_a_bulk_table_is_reported_at_its_cell(runner, store_path, tmp_path):
    """The record check keeps the file:line:column of the row, and the store stays as it was."""
    rows = ["subject,predicate,object,source,date"]
    day = dt.date(1900, 1, 1)
    n = BULK_MIN_QUADS // 10 + 500
    for i in range(n):
        obj = "Tahalof Nabni" if i == n - 7 else "State of Law"
        rows.append(f"Fadhila,memberOf,{obj},al-Iraqiya TV,{(day + dt.timedelta(days=i)).isoformat()}")
    rows[n - 7 + 1] = rows[n - 7 + 1].replace("memberOf,Tahalof Nabni", "participatesIn,Tahalof Nabni")
    path = tmp_path / "bulk.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"Error: {path}:{n - 7 + 2}:24: object cfid:tahalof-nabni is not a cfkb:Election, as"
        " cfkb:participatesIn needs (cell 'Tahalof Nabni'); fix the row and import again")
    assert store_state(store_path) == before
