"""The query editor in-process (issue 20): POST as well as GET, named queries without
their planner notes, syntax errors located in the text, links or forms to run it again."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cfkb.server.app import create_app
from cfkb.server.editing import locate, shown_text, text_to_run
from cfkb.store.core import KnowledgeBase
from cfkb.workflow import queries
from html_tree import parse


@pytest.fixture(scope="module")
def client(seed_template: Path):
    kb = KnowledgeBase.open(seed_template)
    app = create_app(kb, query_timeout=5.0, row_limit=20, workers=1, allowed_hosts=["testserver"])
    with TestClient(app) as c:
        yield c
    kb.close()


def test_the_form_posts_and_get_still_works(client):
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?c a cfkb:Claim }"
    doc = parse(client.get("/query").text)
    assert doc.find("form", id="query-form").get("method") == "post"
    posted = parse(client.post("/query", data={"q": q, "run": "1"}).text)
    got = parse(client.get("/query", params={"q": q, "run": "1"}).text)
    assert posted.find("table", id="results").find("td").text == "58"
    assert got.find("table", id="results").find("td").text == "58"
    # a short query gets a link that runs it again
    link = next(a.get("href") for a in posted.find_all("a") if a.text == "link to this query")
    assert parse(client.get(link).text).find("table", id="results").find("td").text == "58"


def test_a_long_query_runs_again_through_forms_not_links(client):
    q = "# " + "n" * 70_000 + "\nSELECT ?c WHERE { ?c a cfkb:Claim } ORDER BY ?c"
    r = client.post("/query", data={"q": q, "run": "1"})
    assert r.status_code == 200
    doc = parse(r.text)
    assert not [a for a in doc.find_all("a") if a.text == "link to this query"]
    downloads = doc.find("span", class_="downloads")
    assert not downloads.find_all("a")
    form = downloads.find("form")
    assert form.get("method") == "post"
    fields = [(i.get("name"), i.get("value")) for i in form.find_all("input")]
    assert ("q", q) in fields
    csv = client.post("/query", data={**dict(fields), "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 21  # the header and the row cap


def test_named_queries_show_no_planner_notes(client):
    named = queries.library()["sources"]
    assert "# Counted before labels" in named.text
    shown = shown_text(named)
    assert "Counted before" not in shown and shown.startswith("# Sources:")
    assert text_to_run(named, shown) == named.text
    assert text_to_run(named, shown + "\n\n") == named.text
    assert text_to_run(named, shown.replace("DESC(?claims)", "?claims")) != named.text
    doc = parse(client.get("/query", params={"name": "sources"}).text)
    assert doc.find("textarea").text == " ".join(shown.split())
    # sent back unchanged, it is the named query: same rows as by its name alone
    by_text = client.post("/query", data={"name": "sources", "q": shown, "format": "json"}).json()
    by_name = client.get("/query", params={"name": "sources", "format": "json"}).json()
    assert by_text == by_name


@pytest.mark.parametrize("query,message,marked", [
    ("SELECT ?x WHERE {\n  ?x a cfkb:Claim .\n  OPTINAL { ?x ?p ?o }\n}",
     "line 3, column 3: 'OPTINAL' is not a keyword; did you mean OPTIONAL?", "OPTINAL"),
    ("SELECT ?x WHERE { ?x foo:bar ?y }", "line 1, column 22: unknown prefix foo:", "foo:bar"),
    ("SELECT ?x WHERE { ?x ?y \n\n", "line 1, column 22: the query ends too early", "?y"),
])
def test_syntax_errors_are_one_line_with_the_place_marked(client, query, message, marked):
    r = client.post("/query", data={"q": query, "run": "1"})
    assert r.status_code == 400
    doc = parse(r.text)
    error = doc.find("p", class_="error").text
    assert error.startswith("Syntax error, " + message), error
    assert "\n" not in error and "\\u{" not in error and "[" not in error.split("(")[0]
    assert doc.find("pre", class_="problem").find("mark").text == marked
    area = doc.find("textarea")
    line = int(area.get("data-error-line"))
    start, end = int(area.get("data-error-start")), int(area.get("data-error-end"))
    assert query.split("\n")[line - 1][start:end] == marked


def test_locate_without_a_position():
    assert locate("SERVICE is not allowed", "SELECT * WHERE { SERVICE <x> {} }") is None


def test_result_tables_are_sortable(client):
    doc = parse(client.get("/query", params={"name": "sources", "run": "1"}).text)
    assert "sortable" in doc.find("table", id="results").get("class")


def test_pages_of_a_long_query_are_buttons_that_post_it_again(client):
    named = queries.library()["sources"]
    q = "# " + "n" * 70_000 + "\n" + shown_text(named)
    doc = parse(client.post("/query", data={"name": "sources", "q": q, "run": "1", "limit": "2"}).text)
    nav = doc.find("nav", class_="pages")
    assert "Rows 1–2" in nav.text and not nav.find_all("a")
    form = nav.find("form")
    fields = dict((i.get("name"), i.get("value")) for i in form.find_all("input"))
    button = form.find("button")
    assert fields["q"] == q and fields["limit"] == "2" and (button.get("name"), button.get("value")) == ("offset", "2")
    second = parse(client.post("/query", data={**fields, "offset": "2"}).text)
    assert "Rows 3–4" in second.find("nav", class_="pages").text
    by_name = client.get("/query", params={"name": "sources", "format": "json", "limit": "2", "offset": "2"}).json()
    shown = [r.find_all("td")[1].text for r in second.find("table", id="results").find("tbody").find_all("tr")]
    assert shown == [b["sourceLabel"]["value"] for b in by_name["results"]["bindings"]]


def test_names_for_completion(client):
    found = client.get("/names", params={"q": "huquq"}).json()
    assert {"curie": "cfid:harakat-hoquq", "label": "Harakat Hoquq"} in found
    assert client.get("/names", params={"q": "harakat-hoq"}).json()[0]["curie"] == "cfid:harakat-hoquq"
    assert client.get("/names").json() == []
    assert client.get("/names", params={"q": "x" * 201}).status_code == 400
