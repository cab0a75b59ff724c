"""The command line over a real on-disk store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import rdflib
from rdflib.compare import isomorphic

from cfkb.store.core import KnowledgeBase
from cfkb.version import __version__
from conftest import invoke


def test_init_creates_store_and_says_what_it_did(runner, tmp_path):
    store = tmp_path / "new.store"
    result = invoke(runner, store, "init")
    assert result.exit_code == 0, result.output
    assert "loaded 58 claims" in result.stderr
    kb = KnowledgeBase.open(store)
    assert kb.claim_count() == 58
    kb.close()


def test_init_twice_changes_nothing_and_says_so(runner, store_path):
    before = KnowledgeBase.open(store_path)
    n = len(list(before.store))
    before.close()
    result = invoke(runner, store_path, "init")
    assert result.exit_code == 0
    assert "already exists" in result.stderr and "58 claims" in result.stderr
    after = KnowledgeBase.open(store_path)
    assert len(list(after.store)) == n
    after.close()


def test_init_empty(runner, tmp_path):
    result = invoke(runner, tmp_path / "e.store", "init", "--empty")
    assert result.exit_code == 0
    kb = KnowledgeBase.open(tmp_path / "e.store")
    assert kb.claim_count() == 0
    kb.close()


def test_command_on_missing_store_is_one_line_error(runner, tmp_path):
    result = invoke(runner, tmp_path / "missing", "conflicts")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no store at")
    assert len(result.stderr.strip().splitlines()) == 1


def test_conflicts_json_shape(runner, store_path):
    result = invoke(runner, store_path, "conflicts", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list) and len(data) == 2
    for c in data:
        assert {"id", "kind", "rule", "explanation", "status", "claims"} <= set(c)
        for claim in c["claims"]:
            for key in ("subject", "predicate", "object", "negated", "area", "election", "speaker", "outlet",
                        "date", "quote", "cited_in"):
                assert key in claim
            assert {"iri", "label"} <= set(claim["subject"])


def test_seed_conflicts_hoquq_and_kh(runner, store_path):
    data = json.loads(invoke(runner, store_path, "conflicts", "--format", "json").stdout)
    by_subject = {c["claims"][1]["subject"]["label"]: c for c in data}
    hoquq = by_subject["Harakat Hoquq"]
    assert hoquq["kind"] == "derived"
    sides = {(v["role"], (v["speaker"] or v["outlet"])["label"]) for v in hoquq["claims"]}
    assert ("asserts", "Al-Rabaa TV") in sides and ("denies", "Hossein Moanes") in sides
    assert "so Harakat Hoquq participates" in hoquq["explanation"]
    kh = by_subject["Kataib Hezbollah"]
    assert kh["kind"] == "derived"
    sides = {(v["role"], (v["speaker"] or v["outlet"])["label"]) for v in kh["claims"]}
    assert ("asserts", "Al-Rabaa TV") in sides and ("denies", "Qais al-Khazali") in sides
    assert "political wing" in kh["explanation"]


def test_no_conflict_between_different_areas(runner, store_path):
    """Maliki runs separately in Baghdad and the South, with Badr in Diyala: both can be true."""
    data = json.loads(invoke(runner, store_path, "conflicts", "--format", "json", "--kind", "functional").stdout)
    assert data == []


def test_conflicts_check_exit_code(runner, store_path, empty_store):
    assert invoke(runner, store_path, "conflicts", "--check").exit_code == 1
    assert invoke(runner, empty_store, "conflicts", "--check").exit_code == 0


def test_conflicts_entity_filter_with_alias(runner, store_path):
    data = json.loads(invoke(runner, store_path, "conflicts", "--format", "json", "--entity", "Huquq").stdout)
    assert len(data) == 2  # Hoquq is in both chains
    data = json.loads(invoke(runner, store_path, "conflicts", "--format", "json", "--entity", "KH").stdout)
    assert len(data) == 1


def test_conflicts_table_fits_80_columns(runner, store_path):
    result = invoke(runner, store_path, "conflicts")
    assert result.exit_code == 0
    assert "Hossein Moanes" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines() if not line.startswith(("6", "9"))) <= 80


def test_named_query_binds_hostile_parameter(runner, store_path):
    """A value with quotes, braces and UNION is a value, not query text."""
    hostile = 'x" } UNION { ?s ?p ?o } #'
    result = invoke(runner, store_path, "query", "claims_about", "--param", f"entity={hostile}")
    assert result.exit_code == 1
    assert "unknown entity" in result.stderr
    result = invoke(runner, store_path, "query", "-e",
                    "SELECT ?name ?e WHERE { ?e rdfs:label ?name }", "--param", f"name={hostile}",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"]["bindings"] == []


def test_named_query_with_alias_parameter(runner, store_path):
    result = invoke(runner, store_path, "query", "claims_about", "-p", "entity=Haider al-Abadi", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "Tahalof Hadba al-Watani" in result.stdout
    assert result.stdout.splitlines()[0].startswith("entity,claim,")


def test_query_pages_walk_the_whole_answer_in_order(runner, store_path):
    claims = "SELECT ?c ?d WHERE { ?c a cfkb:Claim ; cfkb:statedOn ?d } ORDER BY ?d ?c"
    whole = invoke(runner, store_path, "query", "-e", claims, "--format", "json")
    rows = json.loads(whole.stdout)["results"]["bindings"]
    assert len(rows) > 20
    seen = []
    for offset in range(0, len(rows) + 10, 10):
        page = invoke(runner, store_path, "query", "-e", claims, "--format", "json",
                      "--limit", "10", "--offset", str(offset))
        assert page.exit_code == 0, page.output
        got = json.loads(page.stdout)["results"]["bindings"]  # the page alone: valid JSON, count on stderr
        assert len(got) == max(0, min(10, len(rows) - offset))
        assert page.stderr.strip().endswith(f"of {len(rows)}")
        seen += got
    assert seen == rows
    last = invoke(runner, store_path, "query", "-e", claims, "--offset", str(len(rows) - 1), "--format", "csv")
    assert last.stdout.splitlines()[1:] and len(last.stdout.splitlines()) == 2
    assert last.stderr.strip() == f"row {len(rows)} of {len(rows)}"
    # a CONSTRUCT's triples page the same way, here through a query process with a time limit
    graph = invoke(runner, store_path, "query", "-e", "CONSTRUCT WHERE { ?c a cfkb:Claim }", "--limit", "3",
                   "--timeout", "60")
    assert graph.exit_code == 0, graph.output
    assert graph.stdout.count("a cfkb:Claim") == 3
    assert graph.stderr.strip() == f"rows 1-3 of {len(rows)}"


def test_query_refuses_service(runner, store_path):
    result = invoke(runner, store_path, "query", "-e", "SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }")
    assert result.exit_code == 1
    assert "SERVICE is not allowed" in result.stderr


def test_query_syntax_error_is_one_line(runner, store_path):
    result = invoke(runner, store_path, "query", "-e", "SELECT WHERE {")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "SPARQL syntax error" in result.stderr
    assert "1:15" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_turtle_export_round_trips_and_is_deterministic(runner, store_path, tmp_path):
    out = tmp_path / "base.ttl"
    when = "2026-01-01T00:00:00Z"
    assert invoke(runner, store_path, "export", "--when", when, "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "@prefix cfkb:" in text
    again = invoke(runner, store_path, "export", "--when", when).stdout
    assert again == text
    parsed = rdflib.Graph().parse(data=text, format="turtle")
    nt = invoke(runner, store_path, "export", "--when", when, "--format", "nt").stdout
    assert isomorphic(parsed, rdflib.Graph().parse(data=nt, format="nt"))
    claims = set(parsed.subjects(rdflib.RDF.type, rdflib.URIRef("https://w3id.org/cfkb/ns#Claim")))
    assert len(claims) == 58  # the whole seed is TLP:CLEAR, so all of it leaves at the default ceiling


def test_validate_base_conforms(runner, store_path):
    result = invoke(runner, store_path, "validate")
    assert result.exit_code == 0
    assert "conforms" in result.stderr


def test_validate_file_reports_violations(runner, store_path, tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix cfkb: <https://w3id.org/cfkb/ns#> .\n"
                   "<https://w3id.org/cfkb/id/claim/x> a cfkb:Claim ;\n"
                   "  <http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> <https://w3id.org/cfkb/id/hikma> .\n")
    result = invoke(runner, store_path, "validate", str(bad))
    assert result.exit_code == 1


def test_entity_show_by_variant(runner, store_path):
    result = invoke(runner, store_path, "entity", "show", "Faleh al-Fayyad")
    assert result.exit_code == 0
    assert result.stdout.startswith("Falah al-Fayyadh")
    assert "فالح الفياض" in result.stdout


def test_every_command_has_help_with_example(runner):
    from cfkb.cli import cli

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + [name])
            else:
                yield prefix + [name]

    for path in walk(cli, []):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, path


def test_installed_cfkb_version_in_subprocess():
    exe = Path(sys.executable).parent / "cfkb"
    cmd = [str(exe)] if exe.exists() else [shutil.which("cfkb") or "cfkb"]
    out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip() == f"cfkb, version {__version__}"
