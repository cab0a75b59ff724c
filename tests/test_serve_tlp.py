"""`cfkb serve --tlp LEVEL`: a ceiling for everything the server shows and answers (issue 18).

A real `cfkb serve` process over a base holding planted claims at every marking,
each with a token of its own in its quote and a RED-only entity; every page,
SPARQL answer and download is read back, with a plain server as the control.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from conftest import ServerProcess, invoke

ELECTION = "December 2023 provincial elections"
TOKENS = {level: f"TOKEN-{level.replace('+', '-')}-7f3a" for level in ("CLEAR", "GREEN", "AMBER", "RED")}
RED_ENTITY = "Liwa al-Tajriba al-Ahmar"


@pytest.fixture(scope="module")
def marked_store(seed_template, tmp_path_factory):
    import shutil

    from click.testing import CliRunner

    path = tmp_path_factory.mktemp("serve-tlp") / "kb.store"
    shutil.copytree(seed_template, path)
    runner = CliRunner()
    for i, (level, token) in enumerate(TOKENS.items()):
        result = invoke(runner, path, "claim", "add", "--subject", "KH", "--predicate", "participatesIn",
                        "--object", ELECTION, "--source", "al-Iraqiya TV", "--date", f"2023-09-0{i + 1}",
                        "--quote", f"said {token}", "--tlp", level)
        assert result.exit_code == 0, result.output
    result = invoke(runner, path, "claim", "add", "--subject", RED_ENTITY, "--predicate", "participatesIn",
                    "--object", ELECTION, "--source", "al-Iraqiya TV", "--date", "2023-09-09",
                    "--tlp", "RED", "--create-entities")
    assert result.exit_code == 0, result.output
    return path


def _everything(url: str) -> str:
    """Every page, a whole-base SPARQL answer in each format, and the editor's downloads."""
    out = []
    for path in ("/", "/sources", "/graph", "/query", "/search?q=Liwa%20al-Tajriba", "/entity/kataib-hezbollah",
                 "/chart?entity=cfid:kataib-hezbollah&depth=2",
                 "/chart.json?entity=cfid:iraq-provincial-elections-2023"):
        r = httpx.get(url + path, timeout=60, follow_redirects=True)
        out.append(r.text)
    everything = "SELECT * WHERE { ?s ?p ?o }"
    for fmt in ("json", "csv", "tsv", "xml"):
        out.append(httpx.get(url + "/sparql", params={"query": everything, "format": fmt}, timeout=60).text)
    out.append(httpx.get(url + "/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": "nt"},
                         timeout=60).text)
    for download in ("csv", "json"):
        out.append(httpx.get(url + "/query", params={"q": everything, "run": "1", "download": download},
                             timeout=60).text)
    return "\n".join(out)


def test_a_plain_server_shows_every_marking(marked_store):
    """The control: without --tlp the planted text is there, so the checks below can fail."""
    with ServerProcess(marked_store, "--workers", "1") as server:
        seen = _everything(server.url)
    assert all(token in seen for token in TOKENS.values())
    assert RED_ENTITY in seen


@pytest.mark.parametrize("ceiling,shown", [("CLEAR", {"CLEAR"}), ("GREEN", {"CLEAR", "GREEN"}),
                                           ("AMBER", {"CLEAR", "GREEN", "AMBER"}),
                                           ("RED", {"CLEAR", "GREEN", "AMBER"})])
def test_nothing_above_the_ceiling_is_shown_answered_or_downloaded(marked_store, ceiling, shown):
    with ServerProcess(marked_store, "--workers", "1", "--tlp", ceiling) as server:
        seen = _everything(server.url)
    for level, token in TOKENS.items():
        assert (token in seen) == (level in shown), (ceiling, level)
    assert RED_ENTITY not in seen
    assert "Harakat Hoquq" in seen  # the seed's public claims are served


def test_tlp_with_writable_is_a_usage_error(marked_store):
    done = subprocess.run([sys.executable, "-m", "cfkb", "--store", str(marked_store), "serve", "--tlp", "GREEN",
                           "--writable", "--get", "/"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--tlp" in done.stderr
