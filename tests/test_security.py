"""No reach outside the base: every vector is refused before anything is fetched."""

from __future__ import annotations

import json

import pytest

from conftest import invoke


@pytest.mark.parametrize("query,word", [
    ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * WHERE { service <http://127.0.0.1:1/> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }", "FROM"),
    ("SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }", "FROM"),
    ("LOAD <http://example.org/data.ttl>", "LOAD"),
])
def test_queries_that_reach_outside_are_refused(runner, store_path, query, word):
    result = invoke(runner, store_path, "query", "-e", query)
    assert result.exit_code == 1
    assert word in result.stderr and "not allowed" in result.stderr


def test_keywords_inside_strings_are_not_mistaken(runner, store_path):
    result = invoke(runner, store_path, "query", "-e", 'SELECT ("SERVICE LOAD" AS ?x) WHERE {}', "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "SERVICE LOAD" in result.stdout


def test_updates_through_query_are_refused(runner, store_path):
    result = invoke(runner, store_path, "query", "-e", "PREFIX x: <http://x/>\nDELETE WHERE { ?s ?p ?o }")
    assert result.exit_code == 1
    assert "is a SPARQL update" in result.stderr
    from cfkb.store.core import KnowledgeBase

    kb = KnowledgeBase.open(store_path)
    assert kb.claim_count() == 58
    kb.close()


@pytest.mark.parametrize("doc", [
    {"@context": "http://example.org/context.jsonld", "@id": "http://x/a", "http://x/p": "v"},
    {"@context": ["https://schema.org/", {"x": "http://x/"}], "@id": "http://x/a"},
    {"@context": {"@import": "http://example.org/ctx.jsonld"}, "@id": "http://x/a"},
    {"@context": "file:///etc/passwd", "@id": "http://x/a"},
])
def test_jsonld_remote_contexts_are_never_fetched(runner, store_path, tmp_path, doc):
    path = tmp_path / "partner.jsonld"
    path.write_text(json.dumps(doc))
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 1
    assert "not fetched" in result.stderr


@pytest.mark.parametrize("name,content", [
    ("a.rdf", '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'),
    ("a.ttl", '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'),
    ("a.trix", "<TriX/>"),
])
def test_xml_and_doctype_are_rejected_outright(runner, store_path, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 1
    assert "not accepted" in result.stderr
