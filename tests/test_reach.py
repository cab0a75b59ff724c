"""No reach outside the base: every vector, through the one guard, with nothing opened.

Each parse and query runs inside :func:`reach.sealed`, which fails any file
opened outside the test's directories (and the interpreter, venv and cfkb),
and any socket or subprocess. A canary file sits outside them; every vector
names it. pyoxigraph opens files from Rust, where audit hooks cannot see, so
one test runs all vectors in a child process under strace and checks the
canary's path is never passed to the kernel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from cfkb.errors import ParseError, QueryRefusedError
from cfkb.io.rdfio import parse_rdf
from cfkb.store.core import KnowledgeBase
from conftest import invoke
from reach import sealed


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file no parse or query may read; its IRI is in every vector."""
    path = tmp_path_factory.mktemp("outside") / "canary.ttl"
    path.write_text('<urn:canary> <urn:p> "CANARY-LEAKED" .\n', encoding="utf-8")
    return path


def query_vectors(canary: Path) -> list[tuple[str, str]]:
    c = canary.as_uri()
    return [
        ("SERVICE", "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"),
        ("SERVICE", f"SELECT * WHERE {{ SERVICE SILENT <{c}> {{ ?s ?p ?o }} }}"),
        ("SERVICE", "SELECT * WHERE { sErViCe <http://127.0.0.1:1/> { ?s ?p ?o } }"),
        ("SERVICE", "SELECT * WHERE { \\u0053ERVICE <http://example.org/> { ?s ?p ?o } }"),
        ("SERVICE", "SELECT * WHERE { ?s ?p ?o } # SERVICE\n VALUES ?x { 1 } SERVICE <http://e/> { }"),
        ("LOAD", f"LOAD <{c}>"),
        ("LOAD", "LOAD SILENT <http://example.org/data.ttl> INTO GRAPH <urn:g>"),
        ("FROM", f"SELECT * FROM <{c}> WHERE {{ ?s ?p ?o }}"),
        ("FROM", "SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }"),
        ("FROM", f"SELECT * FROM NAMED <{c}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"),
        ("FROM", "ASK FROM NAMED <http://example.org/g> { GRAPH ?g { ?s ?p ?o } }"),
        ("FROM", f"CONSTRUCT {{ ?s ?p ?o }} FROM <{c}> WHERE {{ ?s ?p ?o }}"),
        ("FROM", f"DESCRIBE <urn:canary> FROM <{c}>"),
        ("update", f"INSERT DATA {{ <urn:a> <urn:b> <{c}> }}"),
        ("update", "PREFIX x: <http://x/>\nDELETE WHERE { ?s ?p ?o }"),
        ("update", "CLEAR ALL"),
    ]


@pytest.fixture(scope="module")
def sealed_kb(seed_template: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("reach") / "kb.store"
    shutil.copytree(seed_template, path)
    kb = KnowledgeBase.open(path)
    yield kb
    kb.close()


def test_the_seal_catches_a_file_read_and_a_socket(canary, tmp_path):
    import socket

    with sealed(tmp_path) as seen:
        with pytest.raises(PermissionError):
            canary.read_text()
        with pytest.raises(PermissionError), socket.socket() as s:
            s.connect(("127.0.0.1", 9))
        (tmp_path / "inside.txt").write_text("fine")
    assert len(seen) == 2


def test_every_query_vector_is_refused_by_the_store_itself(sealed_kb, canary):
    """KnowledgeBase.query is the one place every query passes, whoever asks."""
    vectors = query_vectors(canary)
    with sealed(sealed_kb.path) as seen:
        for word, text in vectors:
            with pytest.raises(QueryRefusedError) as info:
                sealed_kb.query(text)
            if word != "update":
                assert word in str(info.value)
            else:
                assert "update" in str(info.value)
    assert seen == []


def test_graph_patterns_naming_files_match_only_the_base(sealed_kb, canary):
    """GRAPH <file://...> is a pattern over the base's own graphs: it fetches nothing."""
    with sealed(sealed_kb.path) as seen:
        rows = list(sealed_kb.query(f"SELECT * WHERE {{ GRAPH <{canary.as_uri()}> {{ ?s ?p ?o }} }}"))
        rows += list(sealed_kb.query('SELECT * WHERE { ?s ?p "CANARY-LEAKED" }'))
    assert rows == [] and seen == []


def test_query_vectors_are_refused_on_the_command_line(runner, store_path, canary):
    for word, text in query_vectors(canary):
        with sealed(store_path) as seen:
            result = invoke(runner, store_path, "query", "-e", text)
        assert result.exit_code == 1, (text, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
        assert ("update" if word == "update" else word) in result.stderr
        assert seen == []


@pytest.fixture(scope="module")
def reach_client(sealed_kb):
    from cfkb.server.app import create_app
    from cfkb.server.executor import ThreadRunner

    app = create_app(sealed_kb, runner=ThreadRunner(sealed_kb), query_timeout=5, allowed_hosts=["testserver"])
    with TestClient(app) as c:
        yield c


def test_query_vectors_are_refused_by_the_server(reach_client, canary, sealed_kb):
    for _word, text in query_vectors(canary):
        with sealed(sealed_kb.path) as seen:
            endpoint = reach_client.get("/sparql", params={"query": text})
            posted = reach_client.post("/sparql", content=text.encode(),
                                       headers={"content-type": "application/sparql-query"})
            editor = reach_client.get("/query", params={"q": text, "run": "1"})
        assert endpoint.status_code == posted.status_code == editor.status_code == 403, text
        assert "CANARY" not in endpoint.text + posted.text + editor.text
        assert seen == []


# -- parsing -------------------------------------------------------------------------

def parse_vectors(canary: Path) -> list[tuple[str, str, str, str | None]]:
    """(file name, format, content, expected error or None when it parses as plain data)."""
    c = canary.as_uri()
    d = canary.parent.as_uri() + "/"
    return [
        ("ctx.jsonld", "jsonld", json.dumps({"@context": "http://example.org/ctx.jsonld", "@id": "urn:a",
                                             "urn:p": "v"}), "not fetched"),
        ("ctxfile.jsonld", "jsonld", json.dumps({"@context": c, "@id": "urn:a"}), "not fetched"),
        ("ctxlist.jsonld", "jsonld", json.dumps({"@context": [{"x": "urn:x#"}, c], "@id": "urn:a"}), "not fetched"),
        ("nested.jsonld", "jsonld", json.dumps({"@id": "urn:a", "urn:p": {"@context": c, "urn:q": "v"}}),
         "not fetched"),
        ("import.jsonld", "jsonld", json.dumps({"@context": {"@import": c, "x": "urn:x#"}, "@id": "urn:a"}),
         "not fetched"),
        ("entity.ttl", "turtle", f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY e SYSTEM "{c}">]>\n<r>&e;</r>',
         "not accepted"),
        ("entity.jsonld", "jsonld", f'<!DOCTYPE r [<!ENTITY e SYSTEM "{c}">]>', "not accepted"),
        ("entity.nt", "nt", f'  <!DOCTYPE r [<!ENTITY e SYSTEM "{c}">]>\n<urn:a> <urn:b> "&e;" .', "not accepted"),
        ("rdfxml.nq", "nq", '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "not accepted"),
        ("base.ttl", "turtle", f"@base <{d}> .\n<canary.ttl> <urn:p> <canary.ttl> .\n", None),
        ("prefix.ttl", "turtle", f"@prefix f: <{d}> .\nPREFIX g: <{c}#>\nf:canary.ttl <urn:p> g:x .\n", None),
        ("sparqlbase.trig", "trig", f"BASE <{d}>\nGRAPH <canary.ttl> {{ <canary.ttl> <urn:p> <{c}> }}\n", None),
        ("iri.nt", "nt", f"<{c}> <urn:p> <http://example.org/x> .\n", None),
        ("iri.nq", "nq", f"<urn:a> <urn:p> <{c}> <{c}> .\n", None),
        ("inline.jsonld", "jsonld", json.dumps({"@context": {"@base": d, "p": {"@id": "urn:p", "@type": "@id"}},
                                                "@id": "canary.ttl", "p": c}), None),
    ]


def test_every_parse_vector_is_refused_or_read_as_plain_data(canary, tmp_path):
    for name, fmt, content, error in parse_vectors(canary):
        with sealed(tmp_path) as seen:
            if error:
                with pytest.raises(ParseError, match=error):
                    parse_rdf(name, content.encode("utf-8"), fmt)
            else:
                quads = parse_rdf(name, content.encode("utf-8"), fmt)
        assert seen == [], name
        if not error:
            terms = {t.value for q in quads for t in (q.subject, q.object, q.graph_name)
                     if isinstance(t, (ox.NamedNode, ox.Literal))}
            assert canary.as_uri() in terms or canary.as_uri() + "#x" in terms, (name, terms)
            assert "CANARY-LEAKED" not in terms, name


def test_parse_vectors_through_cfkb_import(runner, store_path, canary, tmp_path):
    before = KnowledgeBase.open(store_path)
    count = before.claim_count()
    before.close()
    for name, _fmt, content, error in parse_vectors(canary):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with sealed(tmp_path, store_path) as seen:
            result = invoke(runner, store_path, "import", str(path))
        assert seen == [], name
        if error:
            assert result.exit_code == 1 and error in result.stderr, (name, result.output)
            assert len(result.stderr.strip().splitlines()) == 1
        else:
            assert result.exit_code == 0, (name, result.output)
    with KnowledgeBase.open(store_path) as kb:
        assert kb.claim_count() == count
        assert not list(kb.query('SELECT * WHERE { ?s ?p "CANARY-LEAKED" }'))


STRACE_SCRIPT = """
import json, sys
from pathlib import Path
from cfkb.errors import CfkbError
from cfkb.io.rdfio import parse_rdf
from cfkb.store.core import KnowledgeBase
from cfkb.io.importer import InputFile, import_files

vectors = json.loads(Path(sys.argv[1]).read_text())
kb = KnowledgeBase.open(sys.argv[2], write=True)
done = 0
for name, fmt, content, error in vectors["parse"]:
    try:
        import_files(kb, [InputFile(name, content.encode(), fmt)], analyst="strace")
    except CfkbError:
        pass
    done += 1
for word, text in vectors["query"]:
    try:
        list(kb.query(text))
    except CfkbError:
        pass
    done += 1
# pyoxigraph itself, without the guard: it must not dereference either
import pyoxigraph as ox
for text in vectors["raw"]:
    try:
        list(kb.store.query(text))
    except Exception:
        pass
    done += 1
kb.close()
print("DONE", done)
"""


def test_no_vector_reaches_the_kernel(canary, store_path, tmp_path):
    """Under strace: the canary's path is never passed to open, stat or connect,
    whether the guard refuses a vector or pyoxigraph runs it."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    probe = subprocess.run([strace, "-f", "-o", "/dev/null", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    c = canary.as_uri()
    raw = [f"SELECT * FROM <{c}> WHERE {{ ?s ?p ?o }}",
           f"SELECT * FROM NAMED <{c}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
           f"SELECT * WHERE {{ GRAPH <{c}> {{ ?s ?p ?o }} }}"]
    spec = tmp_path / "vectors.json"
    spec.write_text(json.dumps({"parse": parse_vectors(canary), "query": query_vectors(canary), "raw": raw}))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(STRACE_SCRIPT))
    trace = tmp_path / "trace.txt"
    proc = subprocess.run([strace, "-f", "-qq", "-e", "trace=%file,%network", "-o", str(trace), sys.executable,
                           str(script), str(spec), str(store_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DONE" in proc.stdout
    log = trace.read_text(errors="replace")
    assert str(store_path) in log  # the trace does see what the child opens
    assert str(canary) not in log and canary.name not in log
    for line in log.splitlines():
        if "connect(" in line:
            assert "AF_UNIX" in line or "127.0.0.1" in line or "AF_NETLINK" in line, line
