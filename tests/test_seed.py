"""The bundled corpus encodes the whole article, faithfully."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from cfkb.model.vocabulary import CFID_NS, CFKB_NS

ELECTION = CFID_NS + "iraq-provincial-elections-2023"


def claims(kb, s=None, p=None, o=None, area=None):
    q = """SELECT ?c ?s ?p ?o ?neg ?area ?speaker ?outlet ?date ?quote ?paraphrase ?cited ?modality WHERE {
      ?c a cfkb:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; cfkb:negated ?neg ;
         cfkb:statedIn ?outlet ; prov:wasAttributedTo ?speaker ; cfkb:statedOn ?date ; cfkb:citedIn ?cited .
      OPTIONAL { ?c cfkb:inArea ?area } OPTIONAL { ?c cfkb:quote ?quote }
      OPTIONAL { ?c cfkb:paraphrase ?paraphrase } OPTIONAL { ?c cfkb:modality ?modality } }"""
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


ARTICLE_DOC = CFID_NS + "winep-cf-four-way-split-part-1"
ARTICLE_DATE = "2023-09-11"

# The article's text, as it reads (links and italics dropped): every word a
# seed claim quotes or paraphrases must be found here.
ARTICLE = """
Badr, Asaib Ahl al-Haq, and Nouri al-Maliki are testing each other's strength in the south but mostly
hanging together in the north.
The current campaign season has divided the CF along four lines:
1. Former prime minister Nouri al-Maliki decided not to forge an alliance with the militias and is instead
leading his Dawlat al-Qanun (State of Law) coalition, which includes the forces of his previous alliance in
addition to Fadhila (The Virtue Party).
2. Tahalof Nabni (We Build Coalition), which is led by the Badr Organization but has a semiautonomous sub-list
led by Asaib Ahl al-Haq (AAH), called Tahalof al-Safwa al-Watani (National Elites Coalition).
3. The Islamic Supreme Council of Iraq (ISCI), running as the Nosahheh (We Correct) list.
4. Tahalof Quwa al-Dawla (State Forces Coalition), consisting of Ammar al-Hakim's Hikma movement and former
prime minister Haidar al-Abadi's group Itelaf al-Nasr (Victory Alliance).
""" + "\n".join(cell for cells in (
    # Table 1, cell by cell
    ("Maliki runs separately",
     "Everyone in the Coordination Framework will run together under the list name Tahalof al-Itar al-Watani"
     " (the National Framework Coalition)",
     "Maliki and Badr/Falah al-Fayyadh will run under the list name Tahalof Diyalatona (Our Diyala Coalition)",
     "Everyone in the Coordination Framework will run together under the list name Tahalof Hadba al-Watani"
     " (the National Hadba Coalition), except: • No Falah al-Fayyadh • No Abadi"),
    ("Tahalof Nabni (We Build Coalition) • Badr, including Falah al-Fayyadh's Ataa • A sub-list called"
     " Tahalof al-Safwa al-Watani (the National Elites Coalition) led by Asaib Ahl al-Haq, and Kataib Sayyid"
     " al-Shuhada",
     "Tahalof Nabni run as one list",
     "AAH plus Tahalof Khadamat (the Services Coalition) of Kataib Al-Imam Ali founder Shibl al-Zaydi will run"
     " under one list"),
    ("Islamic Supreme Council of Iraq runs as Nosahheh (We Correct)", "Runs separately as Nosahheh",
     "No indication that Nosahheh is running there"),
    ("Ammar al-Hakim and Haider al-Abadi", "Runs as joint Hakim/Abadi list", "Hakim runs separately"),
) for cell in cells) + """
In areas where the predominantly Shia CF stands to gain and lose the most seats (Baghdad and the south), a
fierce contest has emerged between Maliki and the joint forces of Badr/AAH.
The CF has chosen to remain largely united in Kirkuk, Salah al-Din, and Nineveh, all of which are pacified
militia "colonies" where a lack of cohesiveness could result in strong opposition from Sunnis, Kurds, and even
Sadristes (in Salah al-Din), thereby seriously reducing the overall number of CF provincial council seats.
In Diyala (the focus of Part 2 of this analysis), Badr and AAH have decided to test each other's strength, with
AAH leader Qais al-Khazali challenging Hadi al-Ameri and Faleh al-Fayyad in their home province.
The position of Harakat Hoquq (The Rights Movement), run by the militia Kataib Hezbollah (KH), is still
unclear. Al-Rabaa TV, an outlet close to the muqawama (resistance), reported that Hoquq is part of Tahalof
al-Safwa al-Watani when it announced the the following: "The Independent High Electoral Commission formally
approved Tahalof al-Safwa al-Watani. The Coalition includes al-Sadiqoun [AAH's political wing] and Hoquq"
(Figure 1).
KH will not take part in the provincial vote: "Kataib Hezbollah made a clear decision not to participate in the
elections, neither by overt figures nor under the title of independent figures. We respect this decision. They
will support the Safwa Coalition with everything they can to make the electoral process a success" (Figure 2).
For his part, Hoquq leader Hossein Moanes told al-Sharqiya TV that his movement will not take part in the
elections because it believes the provincial councils need to be cancelled. He stated that Hoquq members will
participate as voters but did not say they will support the Safwa Coalition (Figure 3).
"""


def _words(text: str) -> str:
    return " ".join(text.split())


# Table 1, column by column: each cell's text and the claims that encode it,
# as (faction, list, negated); a cell that runs over all rows is read party by
# party where the article names exceptions.
BS, KS, DI, NI = "baghdad-and-the-south", "kirkuk-and-salah-al-din", "diyala", "nineveh"
ITAR = "tahalof-al-itar-al-watani"
HADBA = "tahalof-hadba-al-watani"
TABLE_1 = [
    (BS, "Maliki runs separately", [("state-of-law", "state-of-law", False)]),
    (BS, "Tahalof Nabni run as one list", [("tahalof-nabni", "tahalof-nabni", False)]),
    (BS, "Runs separately as Nosahheh", [("isci", "nosahheh", False)]),
    (BS, "Runs as joint Hakim/Abadi list", [("tahalof-quwa-al-dawla", "tahalof-quwa-al-dawla", False)]),
    (KS, "Everyone in the Coordination Framework will run together under the list name Tahalof al-Itar al-Watani",
     [(f, ITAR, False) for f in ("coordination-framework", "state-of-law", "tahalof-nabni", "isci",
                                 "tahalof-quwa-al-dawla")]),
    (DI, "Maliki and Badr/Falah al-Fayyadh will run under the list name Tahalof Diyalatona",
     [(f, "tahalof-diyalatona", False) for f in ("state-of-law", "badr", "falah-al-fayyadh")]),
    (DI, "AAH plus Tahalof Khadamat (the Services Coalition) of Kataib Al-Imam Ali founder Shibl al-Zaydi",
     [(f, "aah-khadamat-diyala-list", False) for f in ("asaib-ahl-al-haq", "tahalof-khadamat")]),
    (DI, "Hakim runs separately", [("hikma", "hikma", False)]),
    (NI, "Everyone in the Coordination Framework will run together under the list name Tahalof Hadba al-Watani",
     [(f, HADBA, False) for f in ("coordination-framework", "state-of-law", "badr", "tahalof-al-safwa-al-watani",
                                  "kataib-sayyid-al-shuhada", "isci", "hikma")]),
    (NI, "• No Falah al-Fayyadh", [("falah-al-fayyadh", HADBA, True)]),
    (NI, "• No Abadi", [("haidar-al-abadi", HADBA, True)]),
]


@pytest.mark.parametrize("area,cell,expected", TABLE_1, ids=[f"{a}:{c[:30]}" for a, c, _ in TABLE_1])
def test_every_table_1_cell_is_read_into_claims(kb, area, cell, expected):
    for faction, lst, negated in expected:
        found = claims(kb, faction, "runsAs", lst, area)
        assert len(found) == 1, (faction, lst, area)
        r = found[0]
        assert r["neg"].value == str(negated).lower()
        # said by the article itself, on its date, in the cell's words
        assert r["speaker"].value == r["outlet"].value == r["cited"].value == ARTICLE_DOC
        assert r["date"].value == ARTICLE_DATE
        assert cell in r["quote"].value and r["quote"].language == "en"


def test_nineveh_lists_without_their_excepted_members_are_not_said_to_run_whole(kb):
    # "No Falah al-Fayyadh, No Abadi": neither Tahalof Nabni (with Fayyadh's Ataa) nor Tahalof Quwa
    # al-Dawla (half Abadi's) runs as Hadba in Nineveh as a whole
    for whole in ("tahalof-nabni", "tahalof-quwa-al-dawla"):
        assert claims(kb, whole, "runsAs", HADBA, NI) == []


def test_nosahheh_in_diyala_is_no_indication_not_a_negation(kb):
    rows = kb.select("SELECT ?c ?q WHERE { ?c rdf:subject cfid:isci ; cfkb:inArea cfid:diyala ;"
                     " cfkb:modality cfkb:NoIndication ; cfkb:negated false ; cfkb:quote ?q }")
    assert [r["q"].value for r in rows] == ["No indication that Nosahheh is running there"]


def test_isci_runs_as_nosahheh_and_does_not_lead_it(kb):
    assert claims(kb, "isci", "leads", "nosahheh") == []
    found = {r["area"].value: "modality" in r for r in claims(kb, "isci", "runsAs", "nosahheh")}
    assert found == {CFID_NS + BS: False, CFID_NS + DI: True}  # stated; no indication


def test_maliki_refuses_the_militias_where_they_split_not_in_diyala(kb):
    [r] = claims(kb, "nouri-al-maliki", "allianceWith", "tahalof-nabni")
    assert r["neg"].value == "true" and r["area"].value == CFID_NS + BS


def test_largely_united_is_no_claim_of_its_own(kb):
    # Kirkuk and Salah al-Din are one Table 1 column: the trend adds no claim per province
    for province in ("kirkuk", "salah-al-din"):
        assert claims(kb, "coordination-framework", "runsAs", area=province) == []
    comments = kb.select("SELECT ?c WHERE { ?c rdfs:comment ?t FILTER(CONTAINS(?t, \"largely united\")) }")
    assert len(comments) == 2  # on the claims of the two columns, Kirkuk and Salah al-Din, and Nineveh


# The statements the article reports, each by its speaker, on its outlet and date.
@pytest.mark.parametrize("subject,predicate,obj,neg,speaker,outlet,date,words,kind", [
    ("tahalof-al-safwa-al-watani", "contests", "iraq-provincial-elections-2023", "false", "al-rabaa-tv",
     "al-rabaa-tv", "2023-08-10", "The Independent High Electoral Commission formally approved", "quote"),
    ("al-sadiqoun", "memberOf", "tahalof-al-safwa-al-watani", "false", "al-rabaa-tv", "al-rabaa-tv",
     "2023-08-10", "The Coalition includes al-Sadiqoun", "quote"),
    ("harakat-hoquq", "memberOf", "tahalof-al-safwa-al-watani", "false", "al-rabaa-tv", "al-rabaa-tv",
     "2023-08-10", "The Coalition includes al-Sadiqoun [AAH's political wing] and Hoquq", "quote"),
    ("kataib-hezbollah", "participatesIn", "iraq-provincial-elections-2023", "true", "qais-al-khazali",
     "al-iraqiya-tv", "2023-08-22", "Kataib Hezbollah made a clear decision not to participate", "quote"),
    ("kataib-hezbollah", "supports", "tahalof-al-safwa-al-watani", "false", "qais-al-khazali",
     "al-iraqiya-tv", "2023-08-22", "They will support the Safwa Coalition", "quote"),
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
    assert r["cited"].value == ARTICLE_DOC


def test_every_claims_words_are_the_articles_words(kb):
    article = _words(ARTICLE)
    rows = claims(kb)
    assert len(rows) == 58
    for r in rows:
        said = r.get("quote") or r.get("paraphrase")
        assert said is not None, r["c"].value
        assert _words(said.value) in article, said.value


def test_every_gazetteer_fact_names_its_source(kb):
    # every description, background statement and background fact
    missing = kb.select("""SELECT ?x WHERE { ?x rdfs:comment ?t FILTER NOT EXISTS { ?x a cfkb:Claim }
        FILTER NOT EXISTS { ?x dct:source ?s } FILTER(STRSTARTS(STR(?x), STR(cfid:))) }""")
    assert missing == []
    missing = kb.select("""SELECT ?x WHERE { { ?x a cfkb:BackgroundStatement } UNION { ?x a cfkb:BackgroundFact }
        FILTER NOT EXISTS { ?x dct:source ?s } }""")
    assert missing == []
    # what the article does not say is marked background knowledge, with its source
    for entity, words in (("iraq-provincial-elections-2023", "18 December 2023"),
                          ("iraq-provincial-elections-2023", "15 provinces"), ("hadi-al-ameri", "leader of the Badr"),
                          ("al-iraqiya-tv", "state television"), ("harakat-hoquq", "founded in 2021")):
        rows = kb.select("SELECT ?e ?t ?s WHERE { ?f a cfkb:BackgroundFact ; cfkb:about ?e ; rdfs:comment ?t ;"
                         " dct:source ?s }", {"e": ox.NamedNode(CFID_NS + entity)})
        assert any(words in r["t"].value for r in rows), (entity, words)
    # and no description of an entity says it
    for words in ("18 December", "15 provinces", "Leader of the Badr", "state television", "2021"):
        assert kb.select("SELECT ?w ?x WHERE { ?x rdfs:comment ?t FILTER NOT EXISTS { ?x a cfkb:BackgroundFact }"
                         " FILTER(CONTAINS(?t, ?w)) }", {"w": ox.Literal(words)}) == []
    # the election day the gazetteer gives is backed by a background fact about that property
    assert kb.select("SELECT ?f WHERE { ?f a cfkb:BackgroundFact ; cfkb:about cfid:iraq-provincial-elections-2023 ;"
                     " rdf:predicate dct:date }")


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
    from cfkb.io.export import data_quads
    from cfkb.resources import shapes_dir
    from cfkb.shacl.validate import validate_quads

    rows = kb.select("SELECT ?c WHERE { ?c a cfkb:Claim FILTER NOT EXISTS { ?c cfkb:tlp cfkb:TLP_CLEAR } }")
    assert rows == []
    assert validate_quads(data_quads(kb.store), [shapes_dir() / "claims.ttl"]) == []
