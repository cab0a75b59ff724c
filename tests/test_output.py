"""Output that attacks its reader: formula cells in CSV/TSV, escape sequences on terminals (``cfkb/io/output.py``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cfkb.io.output import csv_rows, neutral_cell, safe_results_csv, terminal_text
from cfkb.store.core import KnowledgeBase
from conftest import invoke, seeded_copy

FORMULA = "=cmd|' /C calc'!A0"
#: an OSC title change, a colour, a bell and a right-to-left override, as a quote might carry them
ESCAPES = "\x1b]0;owned\x07\x1b[31mred\x1b[0m \u202egnp.exe \x9b2J"
ARABIC = "حركة حقوق"
QUOTE = f"{FORMULA} {ESCAPES} {ARABIC}"
TABLE = f"""
- subject: Harakat Hoquq
  predicate: participatesIn
  object: December 2023 provincial elections
  source: Al-Rabaa TV
  date: 2023-11-05
  negated: true
  quote: {json.dumps(QUOTE)}
- subject: Harakat Hoquq
  predicate: participatesIn
  object: December 2023 provincial elections
  source: Al-Rabaa TV
  date: 2023-11-06
  negated: true
  quote: {json.dumps("@SUM(1+1)*cmd|' /C calc'!A0")}
"""
RAW = ("\x1b", "\x07", "\u202e", "\x9b")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, seed_template) -> Path:
    return seeded_copy(seed_template, tmp_path_factory.mktemp("out") / "hostile.store", "hostile.yaml", TABLE)


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


def _no_formula(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")) and not (
            cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit()), cell


QUERY = "SELECT ?q WHERE { ?c cfkb:quote ?q FILTER(CONTAINS(?q, 'cmd|')) } ORDER BY ?q"


# -- spreadsheets -------------------------------------------------------------------------

@pytest.mark.parametrize("timeout", [[], ["--timeout", "30"]])
def test_query_csv_and_tsv_neutralise_formulas(runner, hostile, timeout):
    result = invoke(runner, hostile, "query", "-e", QUERY, "--format", "csv", *timeout)
    assert result.exit_code == 0, result.output
    cells = _cells(result.stdout)
    assert len(cells) == 3 and "'@SUM(1+1)*cmd|' /C calc'!A0" in cells
    assert any(c.startswith("'" + FORMULA) and c.endswith(ARABIC) for c in cells)
    _no_formula(cells)
    result = invoke(runner, hostile, "query", "-e", QUERY, "--format", "tsv", *timeout)
    assert result.exit_code == 0
    assert "\n\"'=cmd|" in result.stdout and "\n\"'@SUM" in result.stdout
    assert "\n\"=cmd" not in result.stdout
    # JSON stays exact
    result = invoke(runner, hostile, "query", "-e", QUERY, "--format", "json", *timeout)
    values = [b["q"]["value"] for b in json.loads(result.stdout)["results"]["bindings"]]
    assert QUOTE in values


def test_conflicts_csv_neutralises_formulas(runner, hostile):
    result = invoke(runner, hostile, "conflicts", "--format", "csv")
    assert result.exit_code == 0, result.output
    cells = _cells(result.stdout)
    assert any(c.startswith("'" + FORMULA) for c in cells)
    _no_formula(cells)


def test_server_csv_tsv_and_downloads_neutralise_formulas(hostile):
    from urllib.parse import quote

    from cfkb.server.app import create_app

    with KnowledgeBase.open(hostile) as kb:
        app = create_app(kb, workers=1, prefill=False, allowed_hosts=["testserver"])
        with TestClient(app) as c:
            r = c.get("/sparql", params={"query": QUERY}, headers={"accept": "text/csv"})
            assert r.status_code == 200
            _no_formula(_cells(r.text))
            assert "'" + QUOTE in _cells(r.text)
            r = c.get("/sparql", params={"query": QUERY}, headers={"accept": "text/tab-separated-values"})
            assert r.status_code == 200 and "\n\"'=cmd|" in r.text and "\n\"=cmd" not in r.text
            r = c.get("/sparql", params={"query": QUERY}, headers={"accept": "application/sparql-results+json"})
            assert QUOTE in [b["q"]["value"] for b in r.json()["results"]["bindings"]]
            r = c.get("/query?format=csv&q=" + quote(QUERY))
            assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
            assert r.content.startswith(b"\xef\xbb\xbf")  # spreadsheets keep the Arabic
            cells = _cells(r.content[3:].decode("utf-8"))
            _no_formula(cells)
            assert "'" + QUOTE in cells and ARABIC in cells[1]
            r = c.get("/query?format=tsv&q=" + quote(QUERY))
            assert "\n\"'=cmd|" in r.text


def test_neutral_cells():
    for cell in ("=1+1", "+1+1", "-1+1", "@A1", "\t=1", "\r=1", "-cmd"):
        assert neutral_cell(cell) == "'" + cell
    for cell in ("-1", "+2.5", "-3e5", "plain", "", ARABIC, "a=b"):
        assert neutral_cell(cell) == cell
    assert _cells(csv_rows([["=x", "-2"]])) == ["'=x", "-2"]
    assert safe_results_csv(b'x\r\n"@a,b"\r\n') == b"x\r\n\"'@a,b\"\r\n"


# -- terminals ------------------------------------------------------------------------------

def test_conflicts_and_claim_show_escape_control_and_bidi_characters(runner, hostile):
    """Before: ``cfkb conflicts`` printed OSC/ANSI sequences from quotes straight to the terminal."""
    result = invoke(runner, hostile, "conflicts")
    assert result.exit_code == 0
    assert "gnp.exe" in result.stdout
    for raw in RAW:
        assert raw not in result.stdout
    assert "\\x1b]0;owned\\x07" in result.stdout and "\\u202e" in result.stdout and "\\x9b" in result.stdout
    result = invoke(runner, hostile, "query", "-e", QUERY)  # the table format
    assert result.exit_code == 0 and "\\x1b" in result.stdout
    assert not any(raw in result.stdout for raw in RAW)
    found = json.loads(invoke(runner, hostile, "conflicts", "--format", "json").stdout)
    quotes = [v.get("quote") for c in found for v in c["claims"]]
    assert QUOTE in quotes  # JSON stays exact
    claim = next(v["id"] for c in found for v in c["claims"] if v.get("quote") == QUOTE)
    shown = invoke(runner, hostile, "claim", "show", claim)
    assert shown.exit_code == 0, shown.output
    assert not any(raw in shown.stdout for raw in RAW)


def test_terminal_text():
    assert terminal_text("a\u2066b\u2069c\u202a") == "a\\u2066b\\u2069c\\u202a"
    assert terminal_text("x\ny") == "x\ny" and terminal_text("x\ny", newlines=False) == "x\\ny"
    assert terminal_text("\x00\x7f\x85") == "\\x00\\x7f\\x85"
    assert terminal_text(ARABIC + " \u200f") == ARABIC + " \u200f"  # marks that shape Arabic text stay
