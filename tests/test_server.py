"""cfkb serve, in-process: the SPARQL protocol and the pages (issue 8)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from cfkb.server.app import create_app
from cfkb.store.core import KnowledgeBase
from conftest import seeded_copy
from html_tree import parse

TIMEOUT = 8.0  # generous: a loaded machine (a fresh worker starting too) must not turn a quick query into a 503
#: TestClient's Host; the server refuses it unless told to answer it
TEST_HOST = "testserver"
ROWS = 20
HOQUQ_CONFLICT = "9755e317886eab57"  # Al-Rabaa TV vs Hossein Moanes
KH_CONFLICT = "6b0f4e42b49ebf7b"  # Al-Rabaa TV vs Qais al-Khazali
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
ARABIC_QUOTE = "لن تشارك حركة حقوق في الانتخابات"

ARABIC_CLAIM = f"""
- subject: Hoquq
  predicate: participatesIn
  object: December 2023 provincial elections
  negated: true
  election: December 2023 provincial elections
  speaker: Test Speaker
  source: Test Outlet
  date: 2023-08-30
  quote: "{ARABIC_QUOTE}"
  quote_lang: ar
  reliability: C
  credibility: 3
  tlp: CLEAR
"""


@pytest.fixture(scope="module")
def arabic_store(seed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed plus one test claim with an Arabic quote, conflicting with Al-Rabaa TV."""
    return seeded_copy(seed_template, tmp_path_factory.mktemp("arabic") / "kb.store", "test.yaml", ARABIC_CLAIM)


@pytest.fixture(scope="module")
def client(arabic_store: Path):
    kb = KnowledgeBase.open(arabic_store)
    app = create_app(kb, query_timeout=TIMEOUT, row_limit=ROWS, workers=2, allowed_hosts=[TEST_HOST])
    with TestClient(app) as c:
        yield c
    kb.close()


def html(response) -> object:
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    return parse(response.text)


def claims_in(kb_path: Path) -> int:
    with KnowledgeBase.open(kb_path) as kb:
        return kb.claim_count()


# -- the protocol ------------------------------------------------------------------

def test_service_description_without_a_query(client):
    r = client.get("/sparql", headers={"accept": "text/turtle"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/turtle")
    triples = list(ox.parse(r.content, format=ox.RdfFormat.TURTLE))
    sd = "http://www.w3.org/ns/sparql-service-description#"
    assert any(t.predicate.value == sd + "endpoint" and t.object.value == "http://testserver/sparql"
               for t in triples)
    assert any(t.object.value == sd + "SPARQL11Query" for t in triples)


def test_service_description_as_a_page_for_browsers(client):
    r = client.get("/sparql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    doc = html(r)
    assert "sd:Service" in doc.find("pre").text


@pytest.mark.parametrize("accept,ctype", [
    (None, "application/sparql-results+json"),
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/json", "application/sparql-results+json"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("text/html;q=0.9, text/csv;q=0.5", "text/csv"),
])
def test_select_results_are_negotiated(client, accept, ctype):
    q = "SELECT ?c WHERE { ?c a cfkb:Claim ; rdf:subject cfid:harakat-hoquq } ORDER BY ?c"
    headers = {"accept": accept} if accept else {}
    r = client.get("/sparql", params={"query": q}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == ctype
    if ctype == "text/csv":
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == ["c"] and len(rows) == 5
        return
    fmt = {"application/sparql-results+json": ox.QueryResultsFormat.JSON,
           "application/sparql-results+xml": ox.QueryResultsFormat.XML,
           "text/tab-separated-values": ox.QueryResultsFormat.TSV}[ctype]
    solutions = list(ox.parse_query_results(r.content, format=fmt))
    assert len(solutions) == 4
    assert all(s["c"].value.startswith("https://w3id.org/cfkb/id/claim/") for s in solutions)


@pytest.mark.parametrize("accept,fmt", [
    ("text/turtle", ox.RdfFormat.TURTLE),
    ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("application/ld+json", ox.RdfFormat.JSON_LD),
    (None, ox.RdfFormat.TURTLE),
])
def test_construct_and_describe_are_negotiated(client, accept, fmt):
    for q in ("DESCRIBE cfid:harakat-hoquq", "CONSTRUCT WHERE { cfid:harakat-hoquq ?p ?o }"):
        r = client.get("/sparql", params={"query": q}, headers={"accept": accept} if accept else {})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].split(";")[0] == fmt.media_type
        triples = list(ox.parse(r.content, format=fmt))
        assert ox.Literal("حركة حقوق", language="ar") in {t.object for t in triples}


def test_ask(client):
    r = client.get("/sparql", params={"query": "ASK { cfid:harakat-hoquq a cfkb:Party }"})
    assert r.json() == {"head": {}, "boolean": True}


def test_post_form_and_post_query_body(client):
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?c a cfkb:Claim }"
    a = client.post("/sparql", data={"query": q})
    b = client.post("/sparql", content=q.encode(), headers={"content-type": "application/sparql-query"})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert int(a.json()["results"]["bindings"][0]["n"]["value"]) == 59


def test_malformed_query_is_400_with_a_readable_message(client):
    r = client.get("/sparql", params={"query": "SELECT ?x WHERE { ?x ?y "})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("SPARQL syntax error: error at 1:")
    assert "\\u{" not in r.text and len(r.text) < 400


def test_unacceptable_accept_is_406(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"accept": "image/png"})
    assert r.status_code == 406
    assert "application/sparql-results+json" in r.text
    r = client.get("/sparql", params={"query": "DESCRIBE cfid:ihec"}, headers={"accept": "text/csv"})
    assert r.status_code == 406
    assert "text/turtle" in r.text


@pytest.mark.parametrize("how", ["update-param", "update-body", "update-as-query", "load", "drop"])
def test_updates_are_refused_and_change_nothing(client, arabic_store, how):
    before = claims_in(arabic_store)
    update = "DELETE WHERE { ?c a cfkb:Claim }"
    if how == "update-param":
        r = client.post("/sparql", data={"update": update})
    elif how == "update-body":
        r = client.post("/sparql", content=update.encode(), headers={"content-type": "application/sparql-update"})
    elif how == "update-as-query":
        r = client.post("/sparql", data={"query": "PREFIX ex: <http://example.org/>\n" + update})
    elif how == "load":
        r = client.get("/sparql", params={"query": "LOAD <http://example.org/data.ttl>"})
    else:
        r = client.get("/sparql", params={"query": "DROP ALL"})
    assert r.status_code == 403, r.text
    assert "update" in r.text.lower() or "not allowed" in r.text
    assert claims_in(arabic_store) == before


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    # a '#' inside an IRI must not hide the rest of the line as a comment
    "SELECT * WHERE { ?s ?p <http://example.org/x#y> . SERVICE <http://127.0.0.1:9/> { ?a ?b ?c } }",
    "SELECT * FROM <http://127.0.0.1:9/data.ttl> WHERE { ?s ?p ?o }",
    "SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }",
])
def test_service_and_foreign_datasets_are_refused_before_running(client, query):
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 403
    assert "not allowed" in r.text


def test_keywords_inside_strings_and_names_are_fine(client):
    q = 'SELECT ?service WHERE { BIND("SERVICE <http://x/> FROM LOAD" AS ?service) }'
    r = client.get("/sparql", params={"query": q})
    assert r.status_code == 200, r.text


def test_dataset_parameters_are_refused(client):
    r = client.get("/sparql", params={"query": "ASK {}", "default-graph-uri": "http://example.org/g"})
    assert r.status_code == 403


def test_a_runaway_query_stops_at_the_limit_and_the_server_goes_on(client):
    r = client.get("/sparql", params={"query": RUNAWAY})
    assert r.status_code == 503
    assert f"time limit of {TIMEOUT:g} s" in r.text
    r = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert r.status_code == 200 and r.json()["boolean"] is True


def test_answers_over_the_row_cap_are_truncated_and_say_so(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert r.status_code == 200
    assert r.headers["x-cfkb-truncated"] == "true"
    assert r.headers["x-cfkb-row-limit"] == str(ROWS)
    doc = r.json()
    assert len(doc["results"]["bindings"]) == ROWS
    assert doc["head"]["link"] == ["https://w3id.org/cfkb/ns#ResultsTruncated"]
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"accept": "text/csv"})
    assert len(r.text.strip().splitlines()) == ROWS + 1 and r.headers["x-cfkb-truncated"] == "true"
    r = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert len(list(ox.parse(r.content, format=ox.RdfFormat.TURTLE))) == ROWS
    assert r.headers["x-cfkb-truncated"] == "true"
    small = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"})
    assert "x-cfkb-truncated" not in small.headers and "link" not in small.json()["head"]


def test_repeated_queries_are_answered_from_the_cache(client):
    q = "SELECT ?e WHERE { ?e a cfkb:Province } ORDER BY ?e"
    first = client.get("/sparql", params={"query": q})
    second = client.get("/sparql", params={"query": q})
    assert first.headers["x-cfkb-cache"] == "miss" and second.headers["x-cfkb-cache"] == "hit"
    assert first.content == second.content
    other = client.get("/sparql", params={"query": q}, headers={"accept": "text/csv"})
    assert other.headers["x-cfkb-cache"] == "miss"


def test_format_parameter_overrides_accept(client):
    r = client.get("/sparql", params={"query": "SELECT ?s WHERE { ?s a cfkb:Party }", "format": "tsv"},
                   headers={"accept": "application/json"})
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    assert client.get("/sparql", params={"query": "ASK {}", "format": "pdf"}).status_code == 400


def test_unsupported_post_body_is_refused(client):
    r = client.post("/sparql", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "Content-Type" in r.text


# -- pages ------------------------------------------------------------------------

def test_dashboard_shows_open_conflicts_first_with_both_sides(client):
    r = client.get("/")
    assert r.status_code == 200
    doc = html(r)
    assert doc.find("html").get("lang") == "en"
    open_section = doc.find("section", id="open")
    cards = open_section.find_all("section", class_="conflict")
    assert {c.get("id") for c in cards} >= {f"c-{HOQUQ_CONFLICT}", f"c-{KH_CONFLICT}"}
    hoquq = doc.find("section", id=f"c-{HOQUQ_CONFLICT}")
    assert "Harakat Hoquq" in hoquq.find("h3").text
    sides = hoquq.find("div", class_="sides").find_all("article", class_="claim")
    assert [s.find("div", class_="role").text for s in sides] == ["asserts", "denies"]
    assert "Al-Rabaa TV" in sides[0].text and "2023-08-10" in sides[0].text
    assert "Hossein Moanes" in sides[1].text and "al-Sharqiya TV" in sides[1].text
    assert "2023-08-25" in sides[1].find("time").text
    # Moanes speaks of his own movement; Al-Rabaa TV does not
    assert len(sides[1].find_all("span", class_="interested")) == 1
    assert sides[0].find_all("span", class_="interested") == []
    assert hoquq.find("span", class_="status").text == "open"
    assert "Why:" in hoquq.find("p", class_="why").text
    quotes = hoquq.find_all("blockquote")
    assert quotes and all(q.get("lang") == "en" and q.get("dir") == "auto" for q in quotes)
    assert not doc.find_all("form", class_="flag")  # read-only


def test_arabic_quotes_are_right_to_left(client):
    doc = html(client.get("/"))
    arabic = [q for q in doc.find_all("blockquote") if q.get("lang") == "ar"]
    assert arabic, "the test claim's Arabic quote is on the dashboard"
    assert all(q.get("dir") == "rtl" for q in arabic)
    assert arabic[0].text == ARABIC_QUOTE
    card = next(c for c in doc.find_all("section", class_="conflict") if ARABIC_QUOTE in c.text)
    assert "C3" in card.find_all("span", class_="grade")[1].text


def test_dashboard_filters_by_kind_and_status(client):
    doc = html(client.get("/?kind=derived&status=open"))
    assert doc.find_all("section", class_="conflict")
    assert all("kind-derived" in c.get("class") for c in doc.find_all("section", class_="conflict"))
    doc = html(client.get("/?kind=revision"))
    assert not doc.find_all("section", class_="conflict")
    assert client.get("/?kind=nonsense").status_code == 400


def test_conflict_page_has_a_stable_address(client):
    r = client.get(f"/conflicts/{HOQUQ_CONFLICT}")
    doc = html(r)
    assert doc.find("section", id=f"c-{HOQUQ_CONFLICT}")
    missing = client.get("/conflicts/0000000000000000")
    assert missing.status_code == 404
    assert "no conflict" in parse(missing.text).find("p", class_="error").text


def test_entity_page_has_names_claims_by_area_conflicts_and_timeline(client):
    doc = html(client.get("/entity/harakat-hoquq"))
    assert doc.find("h1").text == "Harakat Hoquq"
    names = doc.find("ul", class_="labels")
    arabic = [s for s in names.find_all("span") if s.get("lang") == "ar"]
    assert [a.text for a in arabic] == ["حركة حقوق"] and arabic[0].get("dir") == "rtl"
    assert {"Hoquq", "Huquq", "The Rights Movement"} <= {li.find("span").text for li in names.find_all("li")}
    groups = [h.text for h in doc.find_all("h3")]
    assert any(g.startswith("All areas · December 2023 provincial elections") for g in groups)
    conflict_links = {a.get("href") for a in doc.find_all("a") if (a.get("href") or "").startswith("/conflicts/")}
    assert f"/conflicts/{HOQUQ_CONFLICT}" in conflict_links
    dates = [t.text for t in doc.find("ol", class_="timeline").find_all("time")]
    assert dates == sorted(dates) and "2023-08-10" in dates and "2023-08-25" in dates
    facts = doc.find("table", class_="facts").text
    assert "politicalWingOf" in facts and "Kataib Hezbollah" in facts


def test_entity_by_curie_and_unknown_entity(client):
    assert client.get("/entity", params={"iri": "cfid:harakat-hoquq"}).status_code == 200
    assert client.get("/entity/no-such-thing").status_code == 404
    assert client.get("/entity").status_code == 400


def test_source_page_has_track_record_and_claims(client):
    doc = html(client.get("/source/al-rabaa-tv"))
    assert doc.find("h1").text == "Al-Rabaa TV"
    counts = {d.find("dt").text: d.find("dd").text for d in doc.find("dl", class_="counts").find_all("div")}
    assert counts["claims"] == "3" and counts["as outlet"] == "3" and "as speaker" not in counts
    assert counts["claims in conflicts"] == "2"  # Hoquq in Safwa, and Safwa contests the election
    speaker = html(client.get("/source/qais-al-khazali"))
    counts = {d.find("dt").text: d.find("dd").text for d in speaker.find("dl", class_="counts").find_all("div")}
    assert counts["as speaker"] == "2" and "as outlet" not in counts
    assert len(doc.find_all("article", class_="claim")) == 3
    assert f"/conflicts/{HOQUQ_CONFLICT}" in {a.get("href") for a in doc.find_all("a")}


def test_sources_list_links_to_source_pages(client):
    doc = html(client.get("/sources"))
    links = {a.text: a.get("href") for a in doc.find("table").find_all("a")}
    assert links["Al-Rabaa TV"] == "/source/al-rabaa-tv"
    assert links["Qais al-Khazali"] == "/source/qais-al-khazali"


def test_claim_page(client):
    doc = html(client.get(f"/conflicts/{HOQUQ_CONFLICT}"))
    href = doc.find("article", class_="claim").find("p", class_="statement").find("a").get("href")
    claim = html(client.get(href))
    assert "Harakat Hoquq is part of Tahalof al-Safwa al-Watani" in claim.find("h1").text
    assert client.get("/claims/nothing").status_code == 404


def test_graph_view_colours_edges_in_conflict(client):
    doc = html(client.get("/graph"))
    svgs = doc.find_all("svg", class_="graph")
    assert len(svgs) >= 4
    conflict_edges = [p for p in doc.find_all("path") if "conflict" in (p.get("class") or "").split()]
    assert any("Harakat Hoquq" in p.find("title").text and "Safwa" in p.find("title").text for p in conflict_edges)
    negated = [p for p in doc.find_all("path") if "negated" in (p.get("class") or "").split()]
    assert negated  # No Falah al-Fayyadh in Nineveh
    titles = [h.text for h in doc.find_all("h2")]
    assert any(t.startswith("Diyala") for t in titles) and any(t.startswith("Nineveh") for t in titles)


def test_graph_per_area(client):
    doc = html(client.get("/graph?area=diyala"))
    headings = [h.text for h in doc.find_all("section", class_="panel")[0].find_all("h2")]
    assert headings[0].startswith("Diyala")
    assert all(not h.text.startswith("Nineveh") for h in doc.find_all("h2"))
    assert client.get("/graph?area=atlantis").status_code == 404


@pytest.mark.parametrize("name", ["Huquq", "harakat huquq", "حركة حقوق", "The Rights Movement"])
def test_search_finds_variant_spellings(client, name):
    r = client.get("/search", params={"q": name}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/entity/harakat-hoquq"


def test_search_lists_partial_and_ambiguous_matches(client):
    doc = html(client.get("/search", params={"q": "Tahalof"}))
    found = [a.text for a in doc.find("ul", class_="results-list").find_all("a")]
    assert "Tahalof al-Safwa al-Watani" in found and "Tahalof Nabni" in found
    doc = html(client.get("/search", params={"q": "zzqqxx"}))
    assert "No entity" in doc.find("p", class_="empty").text


def test_editor_lists_named_queries_and_runs_one_with_a_bound_parameter(client):
    doc = html(client.get("/query"))
    names = [a.text for a in doc.find("aside").find_all("a")]
    assert doc.find("textarea").text.startswith("# Claims in the base, newest first SELECT ?claim")
    assert {"claims_about", "sources", "lists_per_area"} <= set(names)
    form = html(client.get("/query?name=claims_about"))
    assert form.find("input", name="p.entity") and not form.find_all("table")
    r = client.get("/query", params={"name": "claims_about", "p.entity": "Huquq", "run": "1"})
    doc = html(r)
    table = doc.find("table", id="results")
    header = [th.text for th in table.find("thead").find_all("th")]
    assert header[:3] == ["entity", "claim", "subjectLabel"]
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == 5 and all("Harakat Hoquq" in r.text for r in rows)
    downloads = {a.text: a.get("href") for a in doc.find("span", class_="downloads").find_all("a")}
    csv_r = client.get(downloads["CSV"])
    assert csv_r.headers["content-type"].startswith("text/csv")
    assert csv_r.headers["content-disposition"] == 'attachment; filename="claims_about.csv"'
    assert len(list(csv.reader(io.StringIO(csv_r.text)))) == 6
    json_r = client.get(downloads["JSON"])
    assert len(json.loads(json_r.text)["results"]["bindings"]) == 5


def test_editor_values_are_bound_not_pasted(client):
    r = client.get("/query", params={"name": "claims_about", "p.entity": '"} UNION { ?s ?p ?o', "run": "1"})
    assert r.status_code == 400
    assert "unknown entity" in html(r).find("p", class_="error").text


def test_editor_shows_errors_and_keeps_the_text(client):
    q = "SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }"
    r = client.get("/query", params={"q": q})
    assert r.status_code == 403
    doc = html(r)
    assert "SERVICE is not allowed" in doc.find("p", class_="error").text
    assert doc.find("textarea").text == q
    r = client.get("/query", params={"q": "SELECT * WHERE { ?s ?p ?o }"})
    assert "Truncated" in html(r).find("p", class_="truncated").text
    r = client.get("/query", params={"name": "claims_about", "p.entity": "Hoquq", "q": "ASK {}"})
    assert r.status_code == 400
    assert "?entity" in html(r).find("p", class_="error").text


def test_pages_carry_security_headers(client):
    r = client.get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert not html(r).find_all("script", src=None)  # no inline script


def test_read_only_server_refuses_to_flag(client):
    r = client.post(f"/conflicts/{HOQUQ_CONFLICT}/flag", data={"status": "resolved"})
    assert r.status_code == 403
    assert "read-only" in r.text


def test_static_files_are_served(client):
    assert client.get("/static/cfkb.css").status_code == 200
    assert client.get("/static/cfkb.js").headers["content-type"].startswith("text/javascript")


# -- a writable server ------------------------------------------------------------

@pytest.fixture
def writable_app(store_path: Path):
    kb = KnowledgeBase.open(store_path, write=True)
    app = create_app(kb, read_only=False, workers=1, analyst="tester", allowed_hosts=[TEST_HOST])
    yield app
    kb.close()


def test_flag_form_posts_to_the_workflow(writable_app, monkeypatch):
    from cfkb.server import pages

    calls = []
    monkeypatch.setattr(pages, "_flag", lambda kb, cid, **kw: calls.append((cid, kw)))
    with TestClient(writable_app) as c:
        c.get("/sparql", params={"query": "ASK {}"})
        # a writable server changes its own base, so it keeps no answers
        assert c.get("/sparql", params={"query": "ASK {}"}).headers["x-cfkb-cache"] == "miss"
        r = c.post(f"/conflicts/{HOQUQ_CONFLICT}/flag", follow_redirects=False,
                   data={"status": "resolved", "prefer": "abc", "reason": "Moanes leads Hoquq",
                         "next": f"/#c-{HOQUQ_CONFLICT}"})
        assert r.status_code == 303 and r.headers["location"] == f"/#c-{HOQUQ_CONFLICT}"
        assert calls == [(HOQUQ_CONFLICT, {"status": "resolved", "prefer": "abc", "reason": "Moanes leads Hoquq",
                                           "analyst": "tester"})]
        assert c.get("/sparql", params={"query": "ASK {}"}).headers["x-cfkb-cache"] == "miss"
        off_site = c.post(f"/conflicts/{HOQUQ_CONFLICT}/flag", follow_redirects=False,
                          data={"status": "resolved", "next": "//evil.example/"})
        assert off_site.headers["location"] == f"/conflicts/{HOQUQ_CONFLICT}"
        cross = c.post(f"/conflicts/{HOQUQ_CONFLICT}/flag", data={"status": "resolved"},
                       headers={"origin": "http://evil.example"})
        assert cross.status_code == 403
        assert c.post(f"/conflicts/{HOQUQ_CONFLICT}/flag", data={"status": "maybe"}).status_code == 400
        assert c.post("/conflicts/0000000000000000/flag", data={"status": "resolved"}).status_code == 404
    assert len(calls) == 2


def test_resolving_moves_the_conflict(writable_app):
    pytest.importorskip("cfkb.workflow")
    with TestClient(writable_app) as c:
        doc = html(c.get("/"))
        assert doc.find("section", id="open").find_all("section", id=f"c-{HOQUQ_CONFLICT}")
        form = doc.find("section", id=f"c-{HOQUQ_CONFLICT}").find("form", class_="flag")
        prefer = [i.get("value") for i in form.find_all("input", name="prefer") if i.get("value")][1]
        r = c.post(f"/conflicts/{HOQUQ_CONFLICT}/flag",
                   data={"status": "resolved", "prefer": prefer, "reason": "the movement's own leader",
                         "next": f"/#c-{HOQUQ_CONFLICT}"})
        assert r.status_code == 200
        doc = html(r)
        assert not doc.find("section", id="open").find_all("section", id=f"c-{HOQUQ_CONFLICT}")
        assert doc.find("section", id="resolved").find_all("section", id=f"c-{HOQUQ_CONFLICT}")


def test_a_writable_server_needs_a_writable_base(seed_template):
    with KnowledgeBase.open(seed_template) as kb, pytest.raises(Exception, match="opened for writing"):
        create_app(kb, read_only=False)


def test_host_header_is_checked_when_hosts_are_given(seed_template):
    with KnowledgeBase.open(seed_template) as kb:
        app = create_app(kb, allowed_hosts=["127.0.0.1", "localhost"], workers=1)
        with TestClient(app, base_url="http://localhost") as c:
            assert c.get("/sources").status_code == 200
            assert c.get("/sources", headers={"host": "evil.example"}).status_code == 400


RED_QUOTE = "The red quote nobody outside may read"


@pytest.fixture(scope="module")
def red_base(tmp_path_factory, seed_template):
    import shutil

    from cfkb.io.importer import InputFile, import_files

    path = tmp_path_factory.mktemp("hosts") / "red.store"
    shutil.copytree(seed_template, path)
    table = ("- subject: Harakat Hoquq\n  predicate: participatesIn\n  object: December 2023 provincial elections\n"
             f"  source: Al-Rabaa TV\n  date: 2023-11-02\n  negated: true\n  quote: {RED_QUOTE}\n  tlp: RED\n")
    with KnowledgeBase.open(path, write=True) as kb:
        import_files(kb, [InputFile("red.yaml", table.encode("utf-8"), "yaml")], analyst="tester")
    return path


@pytest.mark.parametrize("host", [None, "127.0.0.1", "127.0.0.2", "::1", "0:0:0:0:0:0:0:1", "localhost",
                                  "0.0.0.0", "192.0.2.10"])
def test_no_bind_answers_a_rebound_host_name(red_base, host):
    """DNS rebinding: evil.example resolves to the server; whatever the bind, the name is refused."""
    from cfkb.server.hosts import HostPolicy

    policy = HostPolicy.of(None) if host is None else HostPolicy.for_bind(host)
    from urllib.parse import quote

    search = "/sparql?query=" + quote('SELECT ?q WHERE { ?c cfkb:quote ?q FILTER(CONTAINS(?q, "red quote")) }')
    with KnowledgeBase.open(red_base) as kb:
        app = create_app(kb, allowed_hosts=policy, workers=1, prefill=False)
        with TestClient(app, base_url="http://localhost") as c:
            for attack in ("evil.example", "evil.example:8000", "testserver", "localhost.evil.example",
                           "127.0.0.1.evil.example", ""):
                r = c.get(search, headers={"host": attack})
                assert r.status_code == 400, attack
                assert RED_QUOTE not in r.text
            own_host = "192.0.2.10" if host == "192.0.2.10" else "localhost"
            assert RED_QUOTE in c.get(search, headers={"host": own_host}).text  # the server does show it
            if host not in ("192.0.2.10",):  # reachable on loopback: loopback names, in any spelling
                for own in ("localhost:8000", "127.0.0.1:8000", "127.0.0.2", "[::1]:8000", "[0:0:0:0:0:0:0:1]"):
                    assert c.get("/sources", headers={"host": own}).status_code == 200, own
            else:
                assert c.get("/sources", headers={"host": "192.0.2.10:8000"}).status_code == 200
                assert c.get("/sources", headers={"host": "localhost"}).status_code == 400


def test_test_host_names_are_answered_only_when_configured(seed_template):
    with KnowledgeBase.open(seed_template) as kb:
        app = create_app(kb, workers=1, prefill=False)
        with TestClient(app) as c:  # Host: testserver
            assert c.get("/sources").status_code == 400
        app = create_app(kb, workers=1, prefill=False, allowed_hosts=["kb.example.org"])
        with TestClient(app, base_url="http://kb.example.org") as c:
            assert c.get("/sources").status_code == 200
            assert c.get("/sources", headers={"host": "testserver"}).status_code == 400


@pytest.mark.parametrize("bind", ["127.0.0.2", "0:0:0:0:0:0:0:1", "::1", "localhost", "LocalHost", "[::1]",
                                  "::ffff:127.0.0.1"])
def test_every_loopback_spelling_is_loopback(bind):
    from cfkb.server.hosts import HostPolicy, is_loopback

    assert is_loopback(bind)
    assert HostPolicy.for_bind(bind.strip("[]") if bind != "[::1]" else "::1").loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "kb.example.org", "127.example.org",
                                  "localhost.example.org"])
def test_public_binds_are_not_loopback(host):
    from cfkb.server.hosts import is_loopback

    assert not is_loopback(host)


def test_serve_warns_only_for_a_public_bind(runner, seed_template, tmp_path):
    import shutil

    from cfkb.cli import cli

    path = tmp_path / "s.store"
    shutil.copytree(seed_template, path)
    for host, _public in (("0:0:0:0:0:0:0:1", False), ("127.0.0.2", False), ("0.0.0.0", True)):
        r = runner.invoke(cli, ["--store", str(path), "serve", "--host", host, "--get", "/sources"])
        assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["--store", str(path), "serve", "--allow-host", "kb.example.org:80", "--get", "/"])
    assert r.exit_code != 0 and "without a port" in r.output


def test_in_memory_base_runs_queries_in_threads():
    kb = KnowledgeBase.memory()
    app = create_app(kb, query_timeout=0.5, allowed_hosts=[TEST_HOST])
    with TestClient(app) as c:
        r = c.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
        assert r.status_code == 200 and r.json()["boolean"] is True


# -- pages of named queries and the answer cache ---------------------------------------

def _named_rows(client, name: str, **params: str) -> list[dict]:
    r = client.get("/query", params={"name": name, "format": "json", **params})
    assert r.status_code == 200, r.text
    return r.json()["results"]["bindings"]


def test_named_query_pages_are_slices_of_the_whole_answer(client):
    whole = _named_rows(client, "sources", limit=str(ROWS))
    assert len(whole) > 3
    page = _named_rows(client, "sources", limit="2", offset="1")
    assert page == whole[1:3]
    r = client.get("/query", params={"name": "sources", "format": "json", "limit": "2"})
    assert r.headers["x-cfkb-truncated"] == "true"  # more pages follow
    last = client.get("/query", params={"name": "sources", "format": "json", "limit": "2",
                                        "offset": str(len(whole) - 1)})
    assert len(last.json()["results"]["bindings"]) == 1 and "x-cfkb-truncated" not in last.headers
    # without limit a named query answers one page of the default size
    from cfkb.server.sparql import PAGE_SIZE
    assert _named_rows(client, "sources") == whole[:PAGE_SIZE]


def test_named_query_page_links(client):
    doc = html(client.get("/query", params={"name": "sources", "run": "1", "limit": "2", "offset": "2"}))
    nav = doc.find("nav", class_="pages")
    assert "Rows 3–4" in nav.text
    links = {a.get("rel"): a.get("href") for a in nav.find_all("a")}
    assert "offset=0" in links["prev"] and "offset=4" in links["next"] and "limit=2" in links["next"]
    # downloads hold the whole answer, not the page
    downloads = [a.get("href") for a in doc.find("span", class_="downloads").find_all("a")]
    assert downloads and all(f"limit={ROWS}" in d and "offset" not in d for d in downloads)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "-1"}, {"limit": "x"}, {"offset": "1e3"},
                                    {"limit": str(ROWS + 1)}])
def test_bad_page_parameters_are_refused(client, params):
    r = client.get("/query", params={"name": "sources", "format": "json", **params})
    assert r.status_code == 400 and ("limit" in r.text or "offset" in r.text)


def test_cached_named_answer_equals_a_fresh_one(client, arabic_store):
    params = {"name": "claims_about", "format": "json", "p.entity": "Hoquq"}
    first = client.get("/query", params=params)
    second = client.get("/query", params=params)
    assert second.headers["x-cfkb-cache"] == "hit" and first.content == second.content
    other_page = client.get("/query", params={**params, "limit": "1"})
    assert other_page.headers["x-cfkb-cache"] == "miss"
    with KnowledgeBase.open(arabic_store) as kb:
        # a new server's first answer waits for its worker process to start: on a loaded machine
        # that alone can pass TIMEOUT, and a 503 would say nothing about the cache
        app = create_app(kb, query_timeout=10 * TIMEOUT, row_limit=ROWS, workers=1, cache_bytes=0,
                         allowed_hosts=[TEST_HOST])
        with TestClient(app) as fresh:
            again = fresh.get("/query", params=params)
            assert again.status_code == 200, again.text
            assert again.headers["x-cfkb-cache"] == "miss"
            assert json.loads(again.content) == json.loads(second.content)


def test_writable_server_keeps_no_cache(store_path: Path):
    with KnowledgeBase.open(store_path, write=True) as kb:
        assert create_app(kb, read_only=False, workers=1).state.cfkb.cache is None
    with KnowledgeBase.open(store_path) as kb:
        assert create_app(kb, workers=1).state.cfkb.cache is not None


def test_claims_as_of_pages_come_from_its_page_plan_and_match_the_whole_answer(client):
    as_of = {"p.asOf": "2023-12-31"}
    whole = _named_rows(client, "claims_as_of", limit=str(ROWS), **as_of)
    assert len(whole) > 5
    dates = [r["date"]["value"] for r in whole]
    assert dates == sorted(dates, reverse=True)
    for limit in (1, 2, 3):
        for offset in range(0, len(whole) - limit + 1, limit):  # the whole answer may go on past the cap
            page = _named_rows(client, "claims_as_of", limit=str(limit), offset=str(offset), **as_of)
            assert page == whole[offset:offset + limit], (limit, offset)


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_a_read_only_server_prefills_the_named_queries_without_parameters(arabic_store):
    whole_base = ("entities", "lists_per_area", "sources")
    with KnowledgeBase.open(arabic_store) as kb:
        # each new server's first answers wait for its worker process to start: on a loaded
        # machine that alone can pass TIMEOUT (see test_cached_named_answer_equals_a_fresh_one)
        app = create_app(kb, query_timeout=10 * TIMEOUT, row_limit=ROWS, workers=1, allowed_hosts=[TEST_HOST])
        with TestClient(app) as c:
            cache = app.state.cfkb.cache
            _wait_for(lambda: len(cache) >= len(whole_base))
            prefilled = {name: c.get("/query", params={"name": name, "format": "json"}) for name in whole_base}
            assert {n: r.headers["x-cfkb-cache"] for n, r in prefilled.items()} == dict.fromkeys(whole_base, "hit")
            # the editor's page of the same query is the same answer
            assert c.get("/query", params={"name": "sources", "run": "1"}).headers["x-cfkb-cache"] == "hit"
            # a query with parameters is left for whoever asks
            assert c.get("/query", params={"name": "claims_about", "format": "json",
                                           "p.entity": "Hoquq"}).headers["x-cfkb-cache"] == "miss"
        app = create_app(kb, query_timeout=10 * TIMEOUT, row_limit=ROWS, workers=1, prefill=False,
                         allowed_hosts=[TEST_HOST])
        with TestClient(app) as c:
            for name, earlier in prefilled.items():
                fresh = c.get("/query", params={"name": name, "format": "json"})
                assert fresh.headers["x-cfkb-cache"] == "miss"
                assert json.loads(fresh.content) == json.loads(earlier.content)


def test_allow_host_adds_names_to_a_public_bind(seed_template):
    from cfkb.server.hosts import HostPolicy

    policy = HostPolicy.for_bind("0.0.0.0", ["kb.example.org", "192.0.2.7"])
    with KnowledgeBase.open(seed_template) as kb:
        app = create_app(kb, allowed_hosts=policy, workers=1, prefill=False)
        with TestClient(app, base_url="http://kb.example.org") as c:
            for own in ("kb.example.org", "KB.example.org.:8000", "192.0.2.7:80", "localhost", "127.0.0.1"):
                assert c.get("/sources", headers={"host": own}).status_code == 200, own
            for other in ("evil.example", "sub.kb.example.org", "192.0.2.8", "0.0.0.0"):
                assert c.get("/sources", headers={"host": other}).status_code == 400, other


def test_duplicates_page_on_a_writable_server_only(writable_app, client):
    from cfkb.workflow.entities import add_entity

    assert client.get("/duplicates").status_code == 404   # a read-only server does not list them
    kb = writable_app.state.cfkb.kb
    assert "/duplicates" not in client.get("/").text
    with TestClient(writable_app) as c:
        assert '<a href="/duplicates"' in c.get("/").text
        assert "No likely duplicates" in c.get("/duplicates").text
        add_entity(kb, "Kataib Sayyid al-Shuhadaa", "ArmedGroup", analyst="t", force=True)
        doc = html(c.get("/duplicates"))
        cells = [td.text for td in doc.find("table").find_all("td")]
        assert any("Kataib Sayyid al-Shuhadaa" in t for t in cells)
        assert any("spelling variants" in t for t in cells)


def test_search_never_redirects_a_loose_name_and_says_how_it_matched(client):
    r = client.get("/search", params={"q": "State"}, follow_redirects=False)
    assert r.status_code == 200   # "State" is no entity's name: a list, not Baghdad and the South
    doc = html(r)
    items = doc.find("ul", class_="results-list").find_all("li")
    assert items[0].find("a").text == "State of Law" and "a word of" in items[0].text
    hadba = html(client.get("/search", params={"q": "Hadba"}, follow_redirects=False))
    first = hadba.find("ul", class_="results-list").find("li")
    assert first.find("a").text == "Tahalof Hadba al-Watani"
