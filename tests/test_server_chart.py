"""The link chart's data and its JSON endpoint on the seed (issue 20, item 2): edges are the
claims in the store, conflicts show both sides, the replay date and filters cut, the answer is
capped and says so, and what a request says is bound, never pasted into a query."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from cfkb.model.vocabulary import CFID_NS
from cfkb.server import chart
from cfkb.server.app import create_app
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.conflicts import find_conflicts
from html_tree import parse

HOQUQ = CFID_NS + "harakat-hoquq"
HOQUQ_CONFLICT = "9755e317886eab57"
#: Hossein Moanes on al-Sharqiya, 25 Aug 2023: Hoquq will not take part.
MOANES_DATE = "2023-08-25"

#: Every claim about an entity, as the store holds it (an independent reading).
ABOUT = """
SELECT ?entity ?claim ?s ?p ?o ?neg WHERE {
  ?claim a cfkb:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; cfkb:negated ?neg .
  FILTER(?s = ?entity || ?o = ?entity)
}"""


@pytest.fixture(scope="module")
def store(seed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chart") / "kb.store"
    shutil.copytree(seed_template, path)
    return path


@pytest.fixture(scope="module")
def client(store: Path):
    kb = KnowledgeBase.open(store)
    with TestClient(create_app(kb, workers=1, allowed_hosts=["testserver"])) as c:
        yield c
    kb.close()


def answer(client, **params) -> dict:
    r = client.get("/chart.json", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def claims_of(data: dict) -> dict[str, dict]:
    """Each claim in the answer (by short ID) with the edge it is drawn on."""
    return {x["id"]: e for e in data["edges"] for x in e["claims"]}


def test_edges_are_the_claims_in_the_store(client, store):
    data = answer(client, entity="cfid:harakat-hoquq")
    with KnowledgeBase.open(store) as kb:
        rows = kb.select(ABOUT, {"entity": ox.NamedNode(HOQUQ)})
    expected = {r["claim"].value.rsplit("/", 1)[-1]: r for r in rows}
    drawn = claims_of(data)
    assert set(expected) <= set(drawn)
    for cid, r in expected.items():
        e = drawn[cid]
        assert (e["source"], e["target"], e["negated"]) == (r["s"].value, r["o"].value, r["neg"].value == "true")
        assert CFID_NS.replace("/id/", "/ns#") + e["predicate"] == r["p"].value
    ids = {n["id"] for n in data["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in data["edges"])
    assert data["centre"] == HOQUQ and not data["capped"]


def test_a_conflict_shows_both_sides(client):
    data = answer(client, entity="cfid:harakat-hoquq")
    red = [e for e in data["edges"] if any(c["id"] == HOQUQ_CONFLICT for c in e["conflicts"])]
    conflict = next(c for c in find_conflicts(client.app.state.cfkb.kb) if c.id == HOQUQ_CONFLICT)
    assert {x["id"] for e in red for x in e["claims"]} == {v.id for v in conflict.claims}
    assert any(e["negated"] for e in red) and any(not e["negated"] for e in red)


def test_the_replay_date_drops_later_claims_and_conflicts(client):
    everything = answer(client, entity="cfid:harakat-hoquq")
    assert any(x["date"] == MOANES_DATE for e in everything["edges"] for x in e["claims"])
    before = answer(client, entity="cfid:harakat-hoquq", asOf="2023-08-24")
    dates = [x["date"] for e in before["edges"] for x in e["claims"]]
    assert dates and all(d is None or d[:10] <= "2023-08-24" for d in dates)
    assert not any(c["id"] == HOQUQ_CONFLICT for e in before["edges"] for c in e["conflicts"])
    assert before["filters"]["asOf"] == "2023-08-24"


def test_a_kind_keeps_only_that_predicate(client):
    data = answer(client, entity="cfid:tahalof-al-safwa-al-watani", kind="memberOf")
    assert data["edges"] and {e["predicate"] for e in data["edges"]} == {"memberOf"}


def test_an_area_keeps_the_claims_of_the_regions_around_it(client):
    data = answer(client, entity="cfid:tahalof-al-itar-al-watani", area="cfid:kirkuk")
    areas = {e["area"] for e in data["edges"]}
    assert areas == {CFID_NS + "kirkuk-and-salah-al-din"}
    assert len(data["edges"]) == 5


def test_an_area_chart_draws_the_claims_placed_in_it(client):
    data = answer(client, entity="cfid:kirkuk")
    predicates = [e["predicate"] for e in data["edges"]]
    assert predicates.count("runsAs") == 5 and predicates.count("inArea") == 5 and "includes" in predicates


def test_the_node_cap_is_kept_and_said(client):
    data = answer(client, entity="cfid:tahalof-al-safwa-al-watani", depth="2", nodes="3")
    assert data["capped"] and data["cappedWhat"]
    assert len(data["nodes"]) <= 3 + int(3 * chart.PARTNER_SHARE)
    assert data["caps"]["nodes"] == 3


def test_clicking_adds_an_entitys_neighbours(client):
    one = answer(client, entity="cfid:harakat-hoquq")
    more = answer(client, entity="cfid:harakat-hoquq", expand=CFID_NS + "tahalof-al-safwa-al-watani")
    assert len(more["nodes"]) > len(one["nodes"])


def test_without_an_entity_the_chart_opens_on_a_busy_one(client):
    data = answer(client)
    assert data["nodes"] and data["edges"] and data["centre"].startswith(CFID_NS)


@pytest.mark.parametrize("params", [
    {"entity": '"> } ; DROP ALL #'},
    {"entity": "<https://w3id.org/cfkb/id/a> } ; DROP ALL #>"},
    {"entity": "<https://w3id.org/cfkb/id/a b>"},
    {"entity": "cfid:harakat-hoquq", "area": '"> } UNION { ?s ?p ?o } #'},
    {"entity": "cfid:harakat-hoquq", "election": "cfid:harakat-hoquq"},
    {"entity": "cfid:harakat-hoquq", "kind": "memberOf } ; DROP ALL"},
    {"entity": "cfid:harakat-hoquq", "asOf": "2023-13-45"},
    {"entity": "cfid:harakat-hoquq", "depth": "9"},
    {"entity": "cfid:harakat-hoquq", "nodes": "100000"},
    {"entity": "cfid:harakat-hoquq", "expand": '"> } ; DROP ALL #'},
    {"entity": "x" * 10_000},
])
def test_hostile_parameters_are_refused_not_run(client, params):
    r = client.get("/chart.json", params=params)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]
    assert client.get("/chart.json", params={"entity": "cfid:harakat-hoquq"}).status_code == 200


def test_the_chart_reads_conflicts_as_find_conflicts_does(kb):
    from cfkb.workflow.decisions import flag

    def same() -> None:
        expected = sorted((c.id, c.kind, c.status, frozenset(v.iri for v in c.claims))
                          for c in find_conflicts(kb, include_dismissed=False))
        assert sorted((c.id, c.kind, c.status, c.claims) for c in chart.conflict_set(kb)) == expected

    same()
    flag(kb, HOQUQ_CONFLICT, status="dismissed", analyst="tester", reason="not a real conflict")
    same()
    assert HOQUQ_CONFLICT not in {c.id for c in chart.conflict_set(kb)}


def test_the_page_lists_the_links_without_script(client):
    doc = parse(client.get("/chart", params={"entity": "Hoquq"}).text)
    table = doc.find("table")
    rows = [[td.text for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]
    assert ["Harakat Hoquq", "not participates in", "December 2023 provincial elections"] in [r[:3] for r in rows]
    assert any(a.get("href") == f"/conflicts/{HOQUQ_CONFLICT}" for a in table.find_all("a"))


def test_the_page_says_what_is_wrong_with_a_name(client):
    r = client.get("/chart", params={"entity": "Nobody At All"})
    assert r.status_code == 400 and "Nobody At All" in r.text


def test_entity_pages_open_in_the_chart(client):
    doc = parse(client.get("/entity/harakat-hoquq").text)
    assert any(a.get("href") == "/chart?entity=cfid:harakat-hoquq" and a.text == "open in chart"
               for a in doc.find_all("a"))


def test_serve_get_answers_with_the_vendored_library(runner, store):
    """`serve --get` of a static file (a response that listens for the client leaving) ends."""
    from conftest import invoke

    result = invoke(runner, store, "serve", "--get", "/static/vendor/cytoscape/cytoscape.min.js")
    assert result.exit_code == 0, result.output
    assert "Cytoscape Consortium" in result.output[:400] and len(result.output) > 400_000
