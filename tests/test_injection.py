"""Injection: crafted values stay values, on the command line and in the web UI.

A TLP:RED claim about an entity nothing else mentions is planted in the base.
Values built to break out of a query (quotes, braces, UNION, newlines,
comments, IRIs with spaces) are passed wherever a user types one: named-query
parameters (CLI ``--param``, the editor's fields) and the page URLs (search,
entity, source, claim, graph, conflict). None may change the query, fail with
a traceback, or bring the RED claim into the answer.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from cfkb.store.core import KnowledgeBase
from conftest import invoke, seeded_copy

RED_QUOTE = "RED-SECRET-QUOTE-7f3a"
RED_CLAIM = f"""
- subject: Zzyzx Covert Cell
  predicate: supports
  object: Zzyzx Hidden Patron
  source: Zzyzx Private Channel
  date: 2023-09-01
  quote: "{RED_QUOTE}"
  tlp: RED
"""

CRAFTED = [
    '" } UNION { ?claim ?p ?o } #',
    "Hoquq' } UNION { ?c a cfkb:Claim } #",
    "<urn:x> } UNION { ?claim cfkb:quote ?quote }",
    "<urn:x>} UNION {?claim <https://w3id.org/cfkb/ns#quote> ?quote}",
    "x\n} UNION {\n?claim cfkb:quote ?quote\n}\n#",
    '") || true || ("',
    "}}}}} ; DROP ALL ; INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "#",
    '\\" } UNION { ?s ?p ?o',
    "cfid:x> } UNION { <urn:y",
    "?claim",
    "$quote",
    "\u0000\u202e}",
    "2023-01-01\"^^xsd:date } UNION { ?claim cfkb:quote ?quote } #",
]


@pytest.fixture(scope="module")
def red_store(seed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = seeded_copy(seed_template, tmp_path_factory.mktemp("red") / "kb.store", "red.yaml", RED_CLAIM)
    with KnowledgeBase.open(path, write=True) as kb:
        marked = kb.query("SELECT ?c ?want WHERE { ?c cfkb:quote ?q ; cfkb:tlp ?level FILTER(STR(?q) = ?want) }",
                          {"want": ox.Literal(RED_QUOTE)})
        assert len(list(marked)) == 1
    return path


def red_claim_id(store: Path) -> str:
    with KnowledgeBase.open(store) as kb:
        rows = kb.select("SELECT ?c ?want WHERE { ?c cfkb:quote ?q FILTER(STR(?q) = STR(?want)) }",
                         {"want": ox.Literal(RED_QUOTE)})
    return rows[0]["c"].value.rsplit("/", 1)[-1]


def assert_clean(text: str, red_id: str) -> None:
    assert RED_QUOTE not in text
    assert red_id not in text and red_id[:12] not in text
    assert "Zzyzx" not in text
    assert "Traceback" not in text and "internal error" not in text


@pytest.mark.parametrize("name,param", [("claims_about", "entity"), ("said_by", "source"),
                                        ("who_said", "subject"), ("claims_as_of", "asOf")])
def test_named_query_parameters_on_the_command_line(runner, red_store, name, param):
    red_id = red_claim_id(red_store)
    extra = ["--param", "object=Hoquq"] if name == "who_said" else []
    for value in CRAFTED:
        result = invoke(runner, red_store, "query", name, "--param", f"{param}={value}", *extra, "--format", "json")
        assert result.exit_code == 1, (value, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert_clean(result.output, red_id)


def test_string_parameters_are_bound_as_literals(runner, red_store):
    """An undeclared parameter of an ad-hoc query is a plain string literal."""
    red_id = red_claim_id(red_store)
    query = "SELECT ?claim ?quote ?needle WHERE { ?claim cfkb:quote ?quote FILTER(STR(?quote) = ?needle) }"
    for value in CRAFTED:
        result = invoke(runner, red_store, "query", "-e", query, "--param", f"needle={value}", "--format", "csv")
        assert result.exit_code == 0, (value, result.output)
        assert result.stdout.strip().splitlines() == ["claim,quote,needle"], value
        assert_clean(result.output, red_id)
    # the same query does find the claim when asked for its very words: the binding works
    found = invoke(runner, red_store, "query", "-e", query, "--param", f"needle={RED_QUOTE}", "--format", "csv")
    assert RED_QUOTE in found.stdout


@pytest.fixture(scope="module")
def red_client(red_store: Path):
    from cfkb.server.app import create_app

    kb = KnowledgeBase.open(red_store)
    app = create_app(kb, query_timeout=10, workers=1, allowed_hosts=["testserver"])
    with TestClient(app, follow_redirects=False) as c:
        yield c
    kb.close()


def test_editor_parameters(red_client, red_store):
    red_id = red_claim_id(red_store)
    for name, param in (("claims_about", "entity"), ("said_by", "source"), ("claims_as_of", "asOf")):
        for value in CRAFTED:
            for fmt in (None, "csv", "json"):
                params = {"name": name, f"p.{param}": value, "run": "1"}
                if fmt:
                    params["format"] = fmt
                r = red_client.get("/query", params=params)
                assert r.status_code in (200, 400), (name, value, fmt, r.status_code, r.text[-300:])
                assert_clean(r.text, red_id)


def test_page_urls(red_client, red_store):
    red_id = red_claim_id(red_store)
    for value in CRAFTED:
        q = quote(value, safe="")
        urls = [f"/search?q={q}", f"/search?q={q}&all=1", f"/entity?iri={q}", f"/entity/{q}", f"/source?iri={q}",
                f"/source/{q}", f"/claims/{q}", f"/graph?area={q}", f"/conflicts/{q}", f"/?kind={q}",
                f"/?status={q}", f"/query?name={q}"]
        for url in urls:
            r = red_client.get(url)
            assert r.status_code in (200, 303, 400, 404), (url, r.status_code, r.text[-300:])
            assert_clean(r.text + r.headers.get("location", ""), red_id)
