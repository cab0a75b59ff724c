"""Round trips: base A -> export -> empty base B -> export gives the same bytes;
partner files dedupe and report new conflicts; no export leaks at any ceiling (issue 7)."""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfkb.io.export import ExportOptions, export_base
from cfkb.io.importer import InputFile
from cfkb.io.partner import import_partner
from cfkb.io.tlp import allowed, effective_ceiling
from cfkb.model.vocabulary import CFID_NS, CFKB, TLP_LEVELS
from cfkb.store.core import KnowledgeBase
from conftest import invoke
from exchange_tools import WHEN, claim, entity

settings.register_profile("exchange", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
EXCHANGE = settings.get_profile("exchange")
STAMP = "2024-05-01T12:00:00Z"


def round_trip(runner, store_a, tmp_path, fmt, *extra):
    ext = {"turtle": "ttl", "nq": "nq", "nt": "nt", "trig": "trig", "jsonld": "jsonld"}[fmt]
    first = tmp_path / f"a.{ext}"
    second = tmp_path / f"b.{ext}"
    args = ("export", "--format", fmt, "--when", STAMP, *extra)
    assert invoke(runner, store_a, *args, "-o", str(first)).exit_code == 0
    store_b = tmp_path / "b.store"
    assert invoke(runner, store_b, "init", "--empty").exit_code == 0
    imported = invoke(runner, store_b, "import", str(first))
    assert imported.exit_code == 0, imported.output
    assert invoke(runner, store_b, *args, "-o", str(second)).exit_code == 0
    return first.read_bytes(), second.read_bytes()


@pytest.mark.parametrize("fmt", ["turtle", "nq", "nt", "trig", "jsonld"])
def test_export_import_export_gives_the_same_bytes(runner, store_path, tmp_path, fmt):
    a, b = round_trip(runner, store_path, tmp_path, fmt)
    assert a == b


def test_round_trip_of_a_marked_subset_keeps_the_body(runner, store_path, tmp_path):
    kb = KnowledgeBase.open(store_path, write=True)
    kb.write([ox.Quad(q.subject, CFKB.tlp, ox.NamedNode(CFKB.TLP_RED.value)) for q in
              kb.store.quads_for_pattern(None, CFKB.statedIn, ox.NamedNode(CFID_NS + "al-rabaa-tv"), None)])
    kb.close()
    a, b = round_trip(runner, store_path, tmp_path, "nq", "--tlp", "AMBER")
    # the header of B says nothing was withheld (B never had the RED claims); the rest is identical
    body = [line for line in a.decode().splitlines() if "/export/" not in line]
    assert body == [line for line in b.decode().splitlines() if "/export/" not in line]
    assert b"al-rabaa" not in a


def test_partner_import_dedupes_keeps_grading_and_reports_new_conflicts(kb, tmp_path):
    partner_kb = KnowledgeBase.memory()
    partner_kb.write(q for q in ox.parse(export_base(kb, ExportOptions(format="nq", when=WHEN)).text.encode(),
                                         format=ox.RdfFormat.N_QUADS))
    from cfkb.model.vocabulary import Claim

    hoquq_in = Claim(subject=CFID_NS + "harakat-hoquq", predicate=CFKB.participatesIn.value,
                     object=CFID_NS + "iraq-provincial-elections-2023", source=CFID_NS + "al-sharqiya-tv",
                     date=dt.date(2023, 9, 1), quote="Hoquq will run after all", quote_lang="en", tlp="GREEN",
                     reliability="C", credibility=3)
    partner_kb.write(hoquq_in.quads())
    sent = export_base(partner_kb, ExportOptions(format="turtle", when=WHEN, exporter="Partner Analyst"))
    before = kb.claim_count()
    result = import_partner(kb, [InputFile("partner.ttl", sent.text.encode(), "turtle")],
                            partner="Institute X", analyst="tester")
    assert result.report.claims_added == [hoquq_in.iri]
    assert len(result.report.claims_present) == before
    assert kb.claim_count() == before + 1
    assert result.new_conflicts and result.ours_vs_theirs
    assert all(any(v.iri == hoquq_in.iri for v in c.claims) for c in result.new_conflicts)
    batch = next(kb.store.quads_for_pattern(None, CFKB.fromPartner, None, None))
    assert batch.object.value == CFID_NS + "partner/institute-x"
    graded = {q.subject for q in kb.store.quads_for_pattern(None, CFKB.grades, ox.NamedNode(hoquq_in.iri), None)}
    assert graded
    again = import_partner(kb, [InputFile("partner.ttl", sent.text.encode(), "turtle")], partner="Institute X",
                           analyst="tester")
    assert again.report.claims_added == [] and again.new_conflicts == []
    mine = export_base(kb, ExportOptions(format="nt", when=WHEN)).text
    assert "Institute X" not in mine and "/grading/" not in mine and "Partner Analyst" not in mine


# -- property: no export at any ceiling carries a withheld value ---------------------

LEVEL = st.sampled_from([*TLP_LEVELS, None])


@st.composite
def marked_bases(draw):
    n_people = draw(st.integers(1, 4))
    people = [draw(LEVEL) for _ in range(n_people)]
    outlets = [draw(LEVEL) for _ in range(draw(st.integers(1, 3)))]
    claims = []
    for _i in range(draw(st.integers(1, 6))):
        claims.append((draw(st.integers(0, n_people - 1)), draw(st.integers(0, len(outlets) - 1)), draw(LEVEL),
                       draw(st.text(alphabet="abc \u0627\u0644\"\\\n", max_size=8))))
    return people, outlets, claims


@settings(EXCHANGE)
@given(base=marked_bases(), ceiling=st.sampled_from(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]),
       fmt=st.sampled_from(["turtle", "trig", "jsonld", "nt", "nq"]), default=st.sampled_from(TLP_LEVELS))
def test_no_export_at_any_ceiling_contains_a_withheld_value(base, ceiling, fmt, default):
    from cfkb.io.tlp import set_default_level

    people, outlets, claims = base
    kb = KnowledgeBase.memory()
    set_default_level(kb, default)
    quads = entity("org", "Organization", "CLEAR")
    for i, level in enumerate(people):
        quads += entity(f"person-p{i}x", "Person", level)
    for j, level in enumerate(outlets):
        quads += entity(f"outlet-o{j}x", "MediaOutlet", level)
    for k, (p, o, level, text) in enumerate(claims):
        quads += claim(f"person-p{p}x", "org", f"outlet-o{o}x", level=level, quote=f"token-q{k}x {text}",
                       day=1 + k).quads()
    kb.write(quads)
    text = export_base(kb, ExportOptions(format=fmt, ceiling=ceiling, when=WHEN)).text

    def ok(level):
        return allowed(level or default, effective_ceiling(ceiling))

    released_claims = set()
    for k, (p, o, level, _) in enumerate(claims):
        if ok(level) and ok(people[p]) and ok(outlets[o]):
            released_claims.add(k)
        else:
            assert f"token-q{k}x" not in text
    for i, level in enumerate(people):
        mentioned = [k for k, c in enumerate(claims) if c[0] == i]
        if not ok(level) or (mentioned and not set(mentioned) & released_claims):
            assert f"person-p{i}x" not in text
    for j, level in enumerate(outlets):
        mentioned = [k for k, c in enumerate(claims) if c[1] == j]
        if not ok(level) or (mentioned and not set(mentioned) & released_claims):
            assert f"outlet-o{j}x" not in text
    for k in released_claims:
        assert f"token-q{k}x" in text
    assert "TLP_RED" not in text.replace("cfkb:defaultTlp cfkb:TLP_RED", "").replace(
        '"cfkb:defaultTlp": {\n        "@id": "cfkb:TLP_RED"', "").replace(
        "<https://w3id.org/cfkb/ns#defaultTlp> <https://w3id.org/cfkb/ns#TLP_RED>", "")
