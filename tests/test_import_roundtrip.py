"""Claims -> CSV / Turtle / TriG / JSON-LD -> import into an empty base -> the same claims (issue 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfkb.io.importer import InputFile, import_files
from cfkb.model.vocabulary import CFID_NS, CFKB_NS, CREDIBILITY, RELIABILITY, TLP_LEVELS, Claim
from cfkb.store.core import KnowledgeBase
from claimfiles import claims_in, write_claims

#: A small gazetteer: a few entities of each class the predicates need.
POOL = {
    "Person": ["p-ali", "p-zaynab"],
    "Party": ["o-hoquq", "o-badr"],
    "ElectoralList": ["l-safwa", "l-nabni"],
    "Election": ["e-2023"],
    "Province": ["a-diyala", "a-basra"],
    "MediaOutlet": ["m-tv"],
    "Document": ["d-article"],
}
GAZETTEER = "\n".join(
    f'<{CFID_NS}{e}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{CFKB_NS}{cls}> .\n'
    f'<{CFID_NS}{e}> <http://www.w3.org/2000/01/rdf-schema#label> "{e}" .'
    for cls, names in POOL.items() for e in names).encode("utf-8")
ACTORS = POOL["Person"] + POOL["Party"] + POOL["ElectoralList"]
ORGS = POOL["Party"] + POOL["ElectoralList"]
#: predicate -> (subjects, objects) that fit its domain and range
PREDICATES = {
    "memberOf": (ACTORS, ORGS), "runsAs": (ACTORS, ORGS), "participatesIn": (ACTORS, POOL["Election"]),
    "supports": (ACTORS, ORGS), "leads": (ACTORS, ORGS), "politicalWingOf": (ORGS, ORGS),
    "allianceWith": (ACTORS, ACTORS), "contests": (ORGS, POOL["Election"]), "founderOf": (POOL["Person"], ORGS),
}

text = st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs", "Sm", "Sc"), max_codepoint=0x6ff),
               min_size=1, max_size=40).map(str.strip).filter(bool)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))


def iri(name: str) -> str:
    return CFID_NS + name


@st.composite
def claims(draw: st.DrawFn) -> Claim:
    predicate = draw(st.sampled_from(sorted(PREDICATES)))
    subjects, objects = PREDICATES[predicate]
    quote = draw(st.none() | text)
    return Claim(
        subject=iri(draw(st.sampled_from(subjects))),
        predicate=CFKB_NS + predicate,
        object=iri(draw(st.sampled_from(objects))),
        source=iri(draw(st.sampled_from(POOL["MediaOutlet"] + POOL["Document"]))),
        negated=draw(st.booleans()),
        area=draw(st.none() | st.sampled_from(POOL["Province"]).map(iri)),
        election=draw(st.none() | st.just(iri("e-2023"))),
        speaker=draw(st.none() | st.sampled_from(POOL["Person"]).map(iri)),
        date=draw(dates),
        quote=quote,
        quote_lang=draw(st.none() | st.sampled_from(["en", "ar"])) if quote else None,
        cited_in=draw(st.none() | st.just(iri("d-article"))),
        url=draw(st.none() | st.just("https://example.org/a?b=c&d=e")),
        reliability=draw(st.none() | st.sampled_from(RELIABILITY)),
        credibility=draw(st.none() | st.sampled_from(CREDIBILITY)),
        tlp=draw(st.none() | st.sampled_from(TLP_LEVELS)),
        comment=draw(st.none() | text),
    )


@pytest.mark.parametrize("fmt", ["csv", "turtle", "trig", "jsonld"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=st.lists(claims(), min_size=1, max_size=6, unique_by=lambda c: c.iri))
def test_claims_survive_a_round_trip_through_each_format(fmt, drawn):
    kb = KnowledgeBase.memory()
    data = write_claims(drawn, fmt)
    report = import_files(kb, [InputFile("gazetteer.nt", GAZETTEER), InputFile(f"claims.{fmt}", data, fmt)],
                          analyst="t")
    assert len(report.claims_added) == len(drawn)
    assert claims_in(kb) == set(drawn)
    # importing the same file again adds nothing
    again = import_files(kb, [InputFile(f"claims.{fmt}", data, fmt)], analyst="t")
    assert again.claims_added == [] and len(again.claims_present) == len(drawn)
