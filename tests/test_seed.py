"""The bundled corpus encodes the whole article, faithfully."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from cfkb.model import CFID_NS, CFKB_NS

ELECTION = CFID_NS + "iraq-provincial-elections-2023"


def claims(kb, s=None, p=None, o=None, area=None):
    q = """SELECT ?c ?s ?p ?o ?neg ?area ?speaker ?outlet ?date ?quote ?paraphrase ?cited WHERE {
      ?c a cfkb:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; cfkb:negated ?neg ;
         cfkb:statedIn ?outlet ; prov:wasAttributedTo ?speaker ; cfkb:statedOn ?date ; cfkb:citedIn ?cited .
      OPTIONAL { ?c cfkb:inArea ?area } OPTIONAL { ?c cfkb:quote ?quote }
      OPTIONAL { ?c cfkb:paraphrase ?paraphrase } }"""
    rows = kb.select(q)
    out = []
    for r in rows:
        if s and r["s"].value != CFID_NS + s:
            continue
        if p and r["p"].value != CFKB_NS + p:
            continue
        if o and r["o"].value != CFID_NS + o:
            continue
        if area is not None and r.get("area", ox.NamedNode("urn:none")).value != CFID_NS + area:
            continue
        out.append(r)
    return out


# Every cell of Table 1: (faction, list, area), asserted.
TABLE_1 = [
    ("state-of-law", "state-of-law", "baghdad-and-the-south"),
    ("tahalof-nabni", "tahalof-nabni", "baghdad-and-the-south"),
    ("isci", "nosahheh", "baghdad-and-the-south"),
    ("tahalof-quwa-al-dawla", "tahalof-quwa-al-dawla", "baghdad-and-the-south"),
    ("coordination-framework", "tahalof-al-itar-al-watani", "kirkuk-and-salah-al-din"),
    ("state-of-law", "tahalof-al-itar-al-watani", "kirkuk-and-salah-al-din"),
    ("tahalof-nabni", "tahalof-al-itar-al-watani", "kirkuk-and-salah-al-din"),
    ("isci", "tahalof-al-itar-al-watani", "kirkuk-and-salah-al-din"),
    ("tahalof-quwa-al-dawla", "tahalof-al-itar-al-watani", "kirkuk-and-salah-al-din"),
    ("state-of-law", "tahalof-diyalatona", "diyala"),
    ("badr", "tahalof-diyalatona", "diyala"),
    ("falah-al-fayyadh", "tahalof-diyalatona", "diyala"),
    ("asaib-ahl-al-haq", "aah-khadamat-diyala-list", "diyala"),
    ("tahalof-khadamat", "aah-khadamat-diyala-list", "diyala"),
    ("hikma", "hikma", "diyala"),
    ("coordination-framework", "tahalof-hadba-al-watani", "nineveh"),
    ("state-of-law", "tahalof-hadba-al-watani", "nineveh"),
    ("tahalof-nabni", "tahalof-hadba-al-watani", "nineveh"),
    ("isci", "tahalof-hadba-al-watani", "nineveh"),
    ("tahalof-quwa-al-dawla", "tahalof-hadba-al-watani", "nineveh"),
]


@pytest.mark.parametrize("faction,lst,area", TABLE_1)
def test_every_table_1_cell_is_a_claim_with_its_area(kb, faction, lst, area):
    found = claims(kb, faction, "runsAs", lst, area)
    assert len(found) == 1, (faction, lst, area)
    assert found[0]["neg"].value == "false"
    assert found[0]["cited"].value == CFID_NS + "winep-cf-four-way-split-part-1"


@pytest.mark.parametrize("person", ["falah-al-fayyadh", "haidar-al-abadi"])
def test_nineveh_exceptions_are_negated(kb, person):
    found = claims(kb, person, "runsAs", "tahalof-hadba-al-watani", "nineveh")
    assert [r["neg"].value for r in found] == ["true"]


def test_nosahheh_in_diyala_is_no_indication_not_a_negation(kb):
    rows = kb.select("SELECT ?c WHERE { ?c rdf:subject cfid:isci ; cfkb:inArea cfid:diyala ;"
                     " cfkb:modality cfkb:NoIndication ; cfkb:negated false }")
    assert len(rows) == 1


@pytest.mark.parametrize("subject,predicate,obj,neg,speaker,outlet,date,words,kind", [
    ("harakat-hoquq", "memberOf", "tahalof-al-safwa-al-watani", "false", "al-rabaa-tv", "al-rabaa-tv",
     "2023-08-10", "The Coalition includes al-Sadiqoun", "quote"),
    ("kataib-hezbollah", "participatesIn", "iraq-provincial-elections-2023", "true", "qais-al-khazali",
     "al-iraqiya-tv", "2023-08-22", "Kataib Hezbollah made a clear decision not to participate", "quote"),
    # the article reports Moanes in its own words
    ("harakat-hoquq", "participatesIn", "iraq-provincial-elections-2023", "true", "hossein-moanes",
     "al-sharqiya-tv", "2023-08-25", "provincial councils need to be cancelled", "paraphrase"),
])
def test_hoquq_and_kh_claims_carry_speaker_outlet_date_quote(kb, subject, predicate, obj, neg, speaker, outlet,
                                                             date, words, kind):
    found = claims(kb, subject, predicate, obj)
    assert len(found) == 1
    r = found[0]
    assert r["neg"].value == neg
    assert r["speaker"].value == CFID_NS + speaker
    assert r["outlet"].value == CFID_NS + outlet
    assert r["date"].value == date
    assert words in r[kind].value and r[kind].language == "en"
    assert ({"quote", "paraphrase"} - {kind}).isdisjoint(r)
    assert r["cited"].value == CFID_NS + "winep-cf-four-way-split-part-1"


def test_citing_document_has_title_authors_date_url(kb):
    rows = kb.select("""SELECT ?title ?date ?url (GROUP_CONCAT(?a; separator="|") AS ?authors) WHERE {
        cfid:winep-cf-four-way-split-part-1 dct:title ?title ; dct:date ?date ; schema:url ?url ;
        dct:creator/rdfs:label ?a FILTER(LANG(?a) = "en") } GROUP BY ?title ?date ?url""")
    assert len(rows) == 1
    r = rows[0]
    assert r["title"].value.startswith("The Coordination Framework's Four-Way Split")
    assert r["date"].value == "2023-09-11"
    assert "washingtoninstitute.org" in r["url"].value
    assert sorted(r["authors"].value.split("|")) == ["Hamdi Malik", "Michael Knights"]


def test_regions_include_their_provinces_and_fifteen_provinces_voted(kb):
    provinces = kb.select("SELECT ?p WHERE { ?p a cfkb:Province }")
    assert len(provinces) == 15
    assert kb.contains(ox.NamedNode(CFID_NS + "kirkuk-and-salah-al-din"), ox.NamedNode(CFKB_NS + "includes"),
                       ox.NamedNode(CFID_NS + "salah-al-din"))
    south = kb.select("SELECT ?p WHERE { cfid:baghdad-and-the-south cfkb:includes ?p }")
    assert CFID_NS + "baghdad" in {r["p"].value for r in south}


def test_entities_have_arabic_labels(kb):
    rows = kb.select('SELECT ?l WHERE { cfid:kataib-hezbollah rdfs:label ?l FILTER(LANG(?l) = "ar") }')
    assert [r["l"].value for r in rows] == ["كتائب حزب الله"]


def test_seed_claims_are_all_tlp_clear_and_valid(kb):
    from cfkb.export import data_quads
    from cfkb.resources import shapes_dir
    from cfkb.validate import validate_quads

    rows = kb.select("SELECT ?c WHERE { ?c a cfkb:Claim FILTER NOT EXISTS { ?c cfkb:tlp cfkb:TLP_CLEAR } }")
    assert rows == []
    assert validate_quads(data_quads(kb.store), [shapes_dir() / "claims.ttl"]) == []
