"""The remote backend against a real ``oxigraph serve``, and the CLI on both backends.

One server runs for the session (127.0.0.1, a free port, a temp directory)
and is reset to the seed before each test that uses it; the crash tests
start their own server so they can kill it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from cfkb.errors import InputError, QueryError, RemoteAuthError, StoreError
from cfkb.model.vocabulary import ONTOLOGY_GRAPH
from cfkb.store.backend import Backend
from cfkb.store.core import KnowledgeBase
from cfkb.store.remote import STAGING_PREFIX, RemoteStore
from cfkb.store.remotehttp import check_url
from cfkb.store.remotesettings import settings_for
from cfkb.store.sparqltext import bind_values
from conftest import invoke
from oxiserver import OxigraphServer, oxigraph_binary

needs_server = pytest.mark.skipif(oxigraph_binary() is None, reason="oxigraph server binary not installed")


# -- fixtures --------------------------------------------------------------------

@pytest.fixture(scope="session")
def seed_quads(seed_template: Path) -> list[ox.Quad]:
    kb = KnowledgeBase.open(seed_template)
    quads = list(kb.store)
    kb.close()
    return quads


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    if oxigraph_binary() is None:
        pytest.skip("oxigraph server binary not installed")
    srv = OxigraphServer(tmp_path_factory.mktemp("oxigraph") / "data").start()
    yield srv
    srv.stop()


def reset(url: str, quads: list[ox.Quad]) -> None:
    store = RemoteStore(url)
    store.update("DROP SILENT ALL")
    store.extend(quads)


@pytest.fixture
def remote(server: OxigraphServer, seed_quads: list[ox.Quad]) -> str:
    """The session server holding exactly the quads of the seeded embedded store."""
    reset(server.url, seed_quads)
    return server.url


@pytest.fixture(params=["embedded", "remote"])
def location(request: pytest.FixtureRequest, store_path: Path) -> str:
    """The seeded base, on disk or on the server."""
    if request.param == "embedded":
        return str(store_path)
    return str(request.getfixturevalue("remote"))


def dataset(store: Backend) -> list[str]:
    return sorted(str(q) for q in store)


# -- URLs, settings, binding (no server) -----------------------------------------------

@pytest.mark.parametrize("url", ["http://127.0.0.1:7878", "http://127.8.9.10/x", "http://localhost:1/",
                                 "http://[::1]:7878", "https://kb.example.org/cfkb"])
def test_https_or_loopback_accepted(url):
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url, message", [
    ("http://kb.example.org/cfkb", "refusing plain http to kb.example.org"),
    ("http://10.0.0.1:7878", "refusing plain http to 10.0.0.1"),
    ("https://alice:pw@kb.example.org", "credentials in the store URL are not accepted"),
    ("ftp://kb.example.org", "is not an http(s) URL"),
])
def test_unsafe_urls_refused(runner, url, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_url(url)
    if url.startswith("http"):  # anything else is a store path
        result = invoke(runner, url, "conflicts")  # type: ignore[arg-type]
        assert result.exit_code == 1 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_credentials_from_config_file_and_environment(tmp_path):
    config = tmp_path / "remote.toml"
    config.write_text('timeout = 5\n["https://kb.example.org/cfkb"]\nuser = "alice"\npassword = "from-file"\n'
                      'query = "https://kb.example.org/cfkb/sparql"\nunion_graphs = []\n', encoding="utf-8")
    env = {"CFKB_REMOTE_CONFIG": str(config)}
    s = settings_for("https://kb.example.org/cfkb/", env)
    assert s.auth == ("alice", "from-file") and s.timeout == 5 and s.union_graphs == ()
    assert s.query == "https://kb.example.org/cfkb/sparql"
    assert "from-file" not in repr(s) and str(s) == "https://kb.example.org/cfkb"
    s = settings_for("https://kb.example.org/cfkb", {**env, "CFKB_REMOTE_PASSWORD": "from-env"})
    assert s.auth == ("alice", "from-env")
    assert settings_for("https://kb.example.org/cfkb", {**env, "CFKB_REMOTE_TOKEN": "tok"}).auth == "tok"
    other = settings_for("https://other.example.org", env)
    assert other.auth is None and other.timeout == 5
    config.write_text('["https://kb.example.org/cfkb"]\npasword = "typo"\n', encoding="utf-8")
    with pytest.raises(InputError, match="unknown setting.*pasword"):
        settings_for("https://kb.example.org/cfkb", env)


@pytest.mark.parametrize("query, expected", [
    ("SELECT ?x WHERE { ?x ?p ?v }", "SELECT ?x WHERE { VALUES (?v) { (\"1\") } ?x ?p ?v }"),
    ("SELECT * { ?x ?p ?v }", "SELECT * { VALUES (?v) { (\"1\") } ?x ?p ?v }"),
    ("ASK { ?x ?p ?v }", "ASK { VALUES (?v) { (\"1\") } ?x ?p ?v }"),
    ("CONSTRUCT { ?x ?p ?v } WHERE { ?x ?p ?v }",
     "CONSTRUCT { ?x ?p ?v } WHERE { VALUES (?v) { (\"1\") } ?x ?p ?v }"),
    ("SELECT (EXISTS { ?a ?b ?c } AS ?e) WHERE { ?x ?p ?v }",
     "SELECT (EXISTS { ?a ?b ?c } AS ?e) WHERE { VALUES (?v) { (\"1\") } ?x ?p ?v }"),
    ("# a comment with { and WHERE {\nPREFIX e: <http://e/{x}>\nSELECT ?where WHERE { ?x e:where \"} {\" }",
     "# a comment with { and WHERE {\nPREFIX e: <http://e/{x}>\nSELECT ?where WHERE { VALUES (?v) { (\"1\") }"
     " ?x e:where \"} {\" }"),
    ("CONSTRUCT WHERE { ?x ?p ?v }", "CONSTRUCT WHERE { ?x ?p ?v }\nVALUES (?v) { (\"1\") }\n"),
    ("DESCRIBE <http://e/x> # end", "DESCRIBE <http://e/x> # end\nVALUES (?v) { (\"1\") }\n"),
])
def test_values_block_opens_the_where_group(query, expected):
    assert bind_values(query, {ox.Variable("v"): ox.Literal("1")}) == expected


def test_bound_values_are_serialised_terms_never_text():
    hostile = 'x" } UNION { ?s ?p ?o } #\n\\'
    text = bind_values("SELECT ?s WHERE { ?s ?p ?v }",
                       {ox.Variable("v"): ox.Literal(hostile, language="en"), ox.Variable("p"): ox.NamedNode("http://e/p")})
    assert 'VALUES (?v ?p) { ("x\\" } UNION { ?s ?p ?o } #\\n\\\\"@en <http://e/p>) }' in text
    with pytest.raises(QueryError, match="blank node"):
        bind_values("SELECT * WHERE { ?s ?p ?v }", {ox.Variable("v"): ox.BlankNode()})


def test_both_stores_satisfy_the_backend_protocol():
    assert isinstance(ox.Store(), Backend)
    assert isinstance(RemoteStore("http://127.0.0.1:1"), Backend)


class _Refuse(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).seen.append(self.headers.get("Authorization"))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_credentials_are_sent_and_refusal_is_a_clear_error(runner, monkeypatch):
    httpd = HTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with pytest.raises(RemoteAuthError, match=r"refused access \(HTTP 401\)"):
            RemoteStore(url, auth=("alice", "pw")).query("ASK {}")
        assert _Refuse.seen[-1] == "Basic YWxpY2U6cHc="
        monkeypatch.setenv("CFKB_REMOTE_TOKEN", "s3cret")
        monkeypatch.setenv("CFKB_REMOTE_CONFIG", "/nonexistent/remote.toml")
        result = invoke(runner, url, "conflicts")  # type: ignore[arg-type]
        assert _Refuse.seen[-1] == "Bearer s3cret"
        assert result.exit_code == 1 and "refused access (HTTP 401)" in result.stderr
        assert "s3cret" not in result.stderr
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unreachable_server_is_one_line_error(runner):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke(runner, f"http://127.0.0.1:{port}", "conflicts")  # type: ignore[arg-type]
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: cannot reach http://127.0.0.1:{port}: connection refused"


# -- the remote store itself ---------------------------------------------------------

@needs_server
def test_remote_answers_as_the_embedded_store(remote, seed_template):
    local = KnowledgeBase.open(seed_template)
    far = KnowledgeBase.open(remote)
    try:
        for sparql in ("SELECT ?c ?d WHERE { ?c cfkb:statedOn ?d } ORDER BY ?c",
                       "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                       "ASK { ?c a cfkb:Claim }"):
            a, b = local.query(sparql), far.query(sparql)
            assert type(a) is type(b)
            if isinstance(a, ox.QueryBoolean):
                assert bool(a) == bool(b)
            else:
                assert [[s[v] for v in a.variables] for s in a] == [[s[v] for v in b.variables] for s in b]
        construct = "CONSTRUCT { ?c rdf:subject ?s } WHERE { ?c rdf:subject ?s ; cfkb:statedOn ?d }"
        a, b = local.query(construct), far.query(construct)
        assert isinstance(b, ox.QueryTriples) and sorted(map(str, a)) == sorted(map(str, b))
        assert local.claim_count() == far.claim_count() == 58
        assert local.entity_index().types == far.entity_index().types
        pattern = (None, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), None)
        for graph in (None, ox.DefaultGraph(), ONTOLOGY_GRAPH):
            assert sorted(map(str, local.store.quads_for_pattern(*pattern, graph))) == \
                sorted(map(str, far.store.quads_for_pattern(*pattern, graph)))
        assert dataset(local.store) == dataset(far.store)
        with pytest.raises(QueryError, match="SPARQL syntax error"):
            far.query("SELECT WHERE {")
    finally:
        local.close()
        far.close()


@needs_server
def test_read_only_refuses_writes(remote):
    kb = KnowledgeBase.open(remote)
    with pytest.raises(StoreError, match="read-only"):
        kb.write([ox.Quad(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o"))])
    with pytest.raises(StoreError, match="read-only"):
        RemoteStore(remote, read_only=True).update("CLEAR DEFAULT")


@needs_server
def test_a_store_keeps_one_connection_open_for_its_requests(remote, server):
    proxy = KillingProxy(server, "before", path="/nowhere")
    try:
        with RemoteStore(proxy.url) as store:
            for _ in range(5):
                assert store.query("ASK { ?s ?p ?o }")
            store.update("INSERT DATA { <http://e/s> <http://e/p> 'o' }")
            assert store.contains_named_graph(ox.NamedNode("https://w3id.org/cfkb/graph/ontology"))
    finally:
        proxy.close()
    assert proxy.connections == 1


@needs_server
def test_large_additions_are_one_post_and_never_staged(remote):
    store = RemoteStore(remote, post_above=100)
    before = dataset(store)
    g = ox.NamedNode("http://e/g")
    quads = [ox.Quad(ox.NamedNode(f"http://e/s{i}"), ox.NamedNode("http://e/p"), ox.Literal(f"v{i}"))
             for i in range(50)]
    quads += [ox.Quad(ox.BlankNode(), ox.NamedNode("http://e/p"), ox.Literal(str(i)), g) for i in range(5)]
    store.extend(quads)
    after = dataset(store)
    assert len(after) == len(before) + 55
    assert store.staging_graphs() == []


@needs_server
def test_a_rejected_post_changes_nothing(remote, monkeypatch):
    store = RemoteStore(remote, post_above=100)
    before = dataset(store)
    real = ox.serialize

    def cut(quads: Any, format: Any = None) -> bytes:  # a body that stops in the middle of a line
        data = real(quads, format=format)
        return data[: len(data) - 40]

    monkeypatch.setattr(ox, "serialize", cut)
    quads = [ox.Quad(ox.NamedNode(f"http://e/s{i}"), ox.NamedNode("http://e/p"), ox.Literal("v")) for i in range(50)]
    with pytest.raises(SyntaxError, match="HTTP 400"):
        store.extend(quads)
    monkeypatch.undo()
    assert dataset(store) == before


def plant_staging(url: str, claims: int) -> ox.NamedNode:
    """A staging graph as a killed import of an older cfkb left it: copies of claims, dated now."""
    import datetime as dt
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    graph = ox.NamedNode(f"{STAGING_PREFIX}{stamp}:0123456789abcdef:0")
    store = RemoteStore(url)
    rows = list(store.query("PREFIX cfkb: <https://w3id.org/cfkb/ns#> "
                            "SELECT ?c ?p ?o WHERE { ?c a cfkb:Claim ; ?p ?o }"))
    by_claim: dict[str, list[Any]] = {}
    for row in rows:
        by_claim.setdefault(row["c"].value, []).append(row)
    quads = []
    for i, (claim, claim_rows) in enumerate(list(by_claim.items())[:claims]):
        copy = ox.NamedNode(f"{claim}-staged-{i}")
        quads += [ox.Quad(copy, r["p"], r["o"], graph) for r in claim_rows if not isinstance(r["o"], ox.BlankNode)]
    store.extend(quads)
    return graph


@needs_server
def test_orphaned_staging_is_dropped_at_the_next_open_of_any_command(runner, remote):
    """An import killed while it staged (earlier cfkb) left graphs that union reads counted as claims."""
    kb = KnowledgeBase.open(remote)
    count = kb.claim_count()
    kb.close()
    plant_staging(remote, 10)
    # the attack: the orphan is fresh (not an hour old), and the next command only reads
    assert RemoteStore(remote).staging_graphs()
    result = invoke(runner, remote, "query", "-e",  # type: ignore[arg-type]
                    "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a cfkb:Claim }", "--format", "json")
    assert result.exit_code == 0, result.output
    assert int(json.loads(result.stdout)["results"]["bindings"][0]["n"]["value"]) == count
    assert RemoteStore(remote).staging_graphs() == []


# -- the CLI on both backends ------------------------------------------------------

CSV = ("subject,predicate,object,source,negated,date,quote\n"
       "Harakat Hoquq,participatesIn,December 2023 provincial elections,Al-Rabaa TV,true,2023-10-01,"
       "\"We \"\"will not\"\" run\"\n")


def test_init_loads_the_seed_and_refuses_to_overwrite(runner, tmp_path, request):
    for backend in ("embedded", "remote"):
        if backend == "remote":
            if oxigraph_binary() is None:
                continue
            target = request.getfixturevalue("server").url
            RemoteStore(target).update("DROP SILENT ALL")
        else:
            target = str(tmp_path / "new.store")
        result = invoke(runner, target, "init")  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
        assert "loaded 58 claims" in result.stderr
        result = invoke(runner, target, "init")  # type: ignore[arg-type]
        assert result.exit_code == 0 and "already exists" in result.stderr and "58 claims" in result.stderr
        result = invoke(runner, target, "init", "--force", "--empty")  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
        kb = KnowledgeBase.open(target)
        assert kb.claim_count() == 0 and kb.predicates()
        kb.close()


@needs_server
def test_init_refuses_a_server_holding_other_data(runner, server):
    store = RemoteStore(server.url)
    store.update("DROP SILENT ALL ; INSERT DATA { <http://e/s> <http://e/p> 'not cfkb' }")
    result = invoke(runner, server.url, "init")  # type: ignore[arg-type]
    assert result.exit_code == 1 and "holds data that is not a cfkb base" in result.stderr
    result = invoke(runner, server.url, "conflicts")  # type: ignore[arg-type]
    assert result.exit_code == 1 and "no cfkb base at" in result.stderr


def test_import_csv(runner, location, tmp_path):
    table = tmp_path / "claims.csv"
    table.write_text(CSV, encoding="utf-8")
    result = invoke(runner, location, "import", str(table))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert "added" in result.stderr and "1 new conflict" in result.stderr
    again = invoke(runner, location, "import", str(table))  # type: ignore[arg-type]
    assert again.exit_code == 0 and "1 already present" in again.stderr
    kb = KnowledgeBase.open(location)
    assert kb.claim_count() == 59
    kb.close()


def test_import_error_changes_nothing(runner, location, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "Nobody Known,participatesIn,December 2023 provincial elections,Al-Rabaa TV,,,\n")
    kb = KnowledgeBase.open(location)
    before = dataset(kb.store)
    kb.close()
    result = invoke(runner, location, "import", str(bad))  # type: ignore[arg-type]
    assert result.exit_code == 1 and "unknown entity" in result.stderr
    kb = KnowledgeBase.open(location)
    assert dataset(kb.store) == before
    kb.close()


def _both(runner, store_path: Path, remote: str, *args: str) -> tuple[Any, Any]:
    a = invoke(runner, store_path, *args)
    b = invoke(runner, remote, *args)  # type: ignore[arg-type]
    assert a.exit_code == b.exit_code, (a.output, b.output)
    return a, b


@needs_server
def test_conflicts_json_equal_on_both_backends(runner, store_path, remote):
    a, b = _both(runner, store_path, remote, "conflicts", "--format", "json")
    assert a.exit_code == 0 and len(json.loads(a.stdout)) == 2
    assert a.stdout == b.stdout
    for args in (("conflicts",), ("conflicts", "--entity", "KH", "--format", "csv"),
                 ("conflicts", "--as-of", "2023-08-15", "--format", "json")):
        a, b = _both(runner, store_path, remote, *args)
        assert a.stdout == b.stdout


@needs_server
def test_export_bytes_equal_on_both_backends(runner, store_path, remote):
    for fmt in ("turtle", "nt", "nq"):
        a, b = _both(runner, store_path, remote, "export", "--format", fmt, "--when", "2026-01-01T00:00:00Z")
        assert a.exit_code == 0 and a.stdout and a.stdout == b.stdout


@needs_server
def test_named_queries_equal_on_both_backends(runner, store_path, remote):
    values = {"entity": "Hoquq", "source": "Al-Rabaa TV", "subject": "Hossein Moanes", "object": "Hoquq",
              "asOf": "2023-08-15"}
    from cfkb.workflow.queries import library

    for q in library().values():
        args = ["query", q.name, "--format", "csv"]
        for p in q.params:
            args += ["-p", f"{p.name}={values[p.name]}"]
        a, b = _both(runner, store_path, remote, *args)
        assert a.exit_code == 0, a.output
        assert a.stdout == b.stdout, q.name
        if q.params:
            assert len(a.stdout.splitlines()) > 1, q.name


def test_query_binds_hostile_parameter(runner, location):
    """A value with quotes, braces and UNION is a value, not query text, on either backend."""
    hostile = 'x" } UNION { ?s ?p ?o } #\n'
    result = invoke(runner, location, "query", "-e",  # type: ignore[arg-type]
                    "SELECT ?name ?e WHERE { ?e rdfs:label ?name }", "--param", f"name={hostile}", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"]["bindings"] == []
    result = invoke(runner, location, "query", "-e",  # type: ignore[arg-type]
                    "SELECT ?v WHERE { FILTER(?v != '') }", "--param", f"v={hostile}", "--format", "json")
    assert [b["v"]["value"] for b in json.loads(result.stdout)["results"]["bindings"]] == [hostile]
    result = invoke(runner, location, "query", "claims_about", "--param", f"entity={hostile}")  # type: ignore[arg-type]
    assert result.exit_code == 1 and "unknown entity" in result.stderr


def test_flag_and_resolve(runner, location):
    data = json.loads(invoke(runner, location, "conflicts", "--format", "json").stdout)  # type: ignore[arg-type]
    hoquq = next(c for c in data if c["claims"][1]["subject"]["label"] == "Harakat Hoquq")
    moanes = next(v for v in hoquq["claims"] if v["role"] == "denies")
    assert invoke(runner, location, "flag", hoquq["id"][:8], "--status", "disputed").exit_code == 0  # type: ignore[arg-type]
    result = invoke(runner, location, "flag", hoquq["id"], "--status", "resolved",  # type: ignore[arg-type]
                    "--prefer", moanes["id"], "--reason", "Moanes leads Hoquq and spoke last")
    assert result.exit_code == 0, result.output
    assert f"preferred {moanes['id']}" in result.stdout
    after = json.loads(invoke(runner, location, "conflicts", "--format", "json").stdout)  # type: ignore[arg-type]
    resolved = next(c for c in after if c["id"] == hoquq["id"])
    assert resolved["status"] == "resolved"
    assert {v["id"]: v["rank"] for v in resolved["claims"]}[moanes["id"]] == "preferred"
    shown = invoke(runner, location, "conflict", "show", hoquq["id"][:8]).stdout  # type: ignore[arg-type]
    assert "disputed" in shown and "resolved, prefers" in shown


# -- a server killed mid-import ------------------------------------------------------

class KillingProxy:
    """A TCP relay to the server that stops the first write request partway.

    The first request whose line starts with ``POST {path}`` is read whole,
    then ``at`` decides how much of it reaches the server: "before" (none),
    "during" (half), "after" (all). Then, with ``kill_server``, the server
    is killed (SIGKILL) and no answer reaches the client; without, the relay
    sets ``holding`` and waits for the client to go away (the test kills it)
    before it closes the server's side, as the kernel would.
    """

    def __init__(self, server: OxigraphServer, at: str, *, path: str = "/update", kill_server: bool = True) -> None:
        self.server, self.at, self.path, self.kill_server = server, at, path.encode(), kill_server
        self.killed = threading.Event()
        self.holding = threading.Event()
        #: how many connections clients opened through the relay
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._spawn(self._relay, client)

    def _relay(self, client: socket.socket) -> None:
        with client:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server.port))
            except OSError:
                return
            with upstream:
                cutting = threading.Event()
                self._spawn(self._pump, upstream, client, cutting)
                rest = b""
                try:
                    while True:  # request by request: the client keeps its connection open between them
                        request, rest = _read_request(client, rest)
                        if request is None:
                            return
                        if request.startswith(b"POST " + self.path) and not (
                                self.killed.is_set() or self.holding.is_set()):
                            # no answer from the server reaches the client: it cannot know if the write applied
                            cutting.set()
                            self._cut(client, upstream, request)
                            return
                        upstream.sendall(request)
                except OSError:
                    return
                finally:
                    # a close alone would not wake the pump, and the server would keep a thread waiting
                    with contextlib.suppress(OSError):
                        upstream.shutdown(socket.SHUT_RDWR)

    def _cut(self, client: socket.socket, upstream: socket.socket, request: bytes) -> None:
        cut = {"before": 0, "during": len(request) // 2, "after": len(request)}[self.at]
        if cut:
            upstream.sendall(request[:cut])
        if self.kill_server:
            self.server.kill()
            self.killed.set()
            return
        self.holding.set()
        try:
            while client.recv(65536):  # until the client is killed
                pass
        except OSError:
            pass

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, cutting: threading.Event) -> None:
        try:
            data = src.recv(65536)
            while data and not cutting.is_set():
                dst.sendall(data)
                data = src.recv(65536)
        except OSError:
            pass
        if cutting.is_set():  # the relay decides what the client sees
            return
        # the server went away: so does the relay, or the client would wait for its timeout
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def _read_request(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    """The next whole HTTP request from ``sock`` (None when the client has gone), and what follows it."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None, b""
        buffer += data
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length")), 0)
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            return None, b""
        body += data
    return head + b"\r\n\r\n" + body[:length], body[length:]


def big_table(path: Path, rows: int) -> Path:
    """A claim table whose batch is well over :data:`cfkb.store.remote.POST_ABOVE` bytes of N-Quads."""
    import datetime as dt
    day = dt.date(2010, 1, 1)
    body = "".join(f"Harakat Hoquq,participatesIn,December 2023 provincial elections,Al-Rabaa TV,true,"
                   f"{day + dt.timedelta(days=i)},\"quote {i}: {'words ' * 20}\"\n" for i in range(rows))
    path.write_text(CSV.splitlines()[0] + "\n" + body, encoding="utf-8")
    return path


def claims_on(url: str) -> int:
    kb = KnowledgeBase.open(url)
    try:
        return kb.claim_count()
    finally:
        kb.close()


BIG = 800
#: the claims of the bundled seed (data/seed-claims.yaml)
SEED_CLAIMS = 58


@needs_server
def test_importer_killed_mid_import_shows_nothing(runner, tmp_path):
    """kill -9 of ``cfkb import`` while half of a big batch has reached the server."""
    import os
    import signal
    import subprocess
    import sys

    srv = OxigraphServer(tmp_path / "crash").start()
    try:
        assert invoke(runner, srv.url, "init").exit_code == 0  # type: ignore[arg-type]
        before = dataset(RemoteStore(srv.url))
        table = big_table(tmp_path / "many.csv", BIG)
        proxy = KillingProxy(srv, "during", path="/store", kill_server=False)
        child = subprocess.Popen([sys.executable, "-m", "cfkb", "--store", proxy.url, "--analyst", "tester",
                                  "import", str(table)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            while not proxy.holding.wait(0.2):
                assert child.poll() is None, child.communicate()
            # half of the batch is on the server, the rest in flight: a reader sees none of it
            assert claims_on(srv.url) == SEED_CLAIMS
            assert RemoteStore(srv.url).staging_graphs() == []
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.communicate()
        proxy.close()
        assert claims_on(srv.url) == SEED_CLAIMS
        assert dataset(RemoteStore(srv.url)) == before
        srv.stop()
        srv.start()
        assert dataset(RemoteStore(srv.url)) == before
        # the same import, not killed, then adds all of it
        assert invoke(runner, srv.url, "import", str(table)).exit_code == 0  # type: ignore[arg-type]
        assert claims_on(srv.url) == SEED_CLAIMS + BIG
    finally:
        srv.stop()


@needs_server
@pytest.mark.parametrize("at", ["before", "during", "after"])
def test_server_killed_mid_big_import_shows_all_or_nothing(runner, tmp_path, at):
    srv = OxigraphServer(tmp_path / "crash").start()
    try:
        assert invoke(runner, srv.url, "init").exit_code == 0  # type: ignore[arg-type]
        before = dataset(RemoteStore(srv.url))
        table = big_table(tmp_path / "many.csv", BIG)
        proxy = KillingProxy(srv, at, path="/store")
        result = invoke(runner, proxy.url, "import", str(table))  # type: ignore[arg-type]
        proxy.close()
        assert proxy.killed.is_set(), (result.exit_code, result.stderr)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
        srv.start()
        after = dataset(RemoteStore(srv.url))
        assert RemoteStore(srv.url).staging_graphs() == []
        if at == "after" and after != before:
            assert set(before) < set(after)
            assert claims_on(srv.url) == SEED_CLAIMS + BIG
        else:
            assert after == before
            assert claims_on(srv.url) == SEED_CLAIMS
    finally:
        srv.stop()


@needs_server
@pytest.mark.parametrize("at", ["before", "during", "after"])
def test_server_killed_mid_import_leaves_the_base_whole(runner, tmp_path, at):
    srv = OxigraphServer(tmp_path / "crash").start()
    try:
        assert invoke(runner, srv.url, "init").exit_code == 0  # type: ignore[arg-type]
        before = dataset(RemoteStore(srv.url))
        rows = "".join(f"Harakat Hoquq,participatesIn,December 2023 provincial elections,Al-Rabaa TV,true,"
                       f"2023-10-{d:02d},\"quote {d}\"\n" for d in range(1, 29))
        table = tmp_path / "many.csv"
        table.write_text(CSV.splitlines()[0] + "\n" + rows, encoding="utf-8")
        proxy = KillingProxy(srv, at)
        result = invoke(runner, proxy.url, "import", str(table))  # type: ignore[arg-type]
        proxy.close()
        assert proxy.killed.is_set(), (result.exit_code, result.stderr)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
        if at != "before":
            assert "may or may not have applied" in result.stderr
        srv.start()  # the same location, a new port
        after = dataset(RemoteStore(srv.url))
        if at == "after" and after != before:
            # the update was all sent, so the server may have committed it: then all of it, never a part
            assert set(before) < set(after)
            kb = KnowledgeBase.open(srv.url)
            assert kb.claim_count() == 58 + 28
            kb.close()
        else:
            assert after == before
    finally:
        srv.stop()


@needs_server
def test_a_source_page_on_the_server_reads_as_on_disk_in_a_few_requests(remote, store_path, monkeypatch, tmp_path):
    """The track record's fields and the sources' grades go in batched requests, not one per claim."""
    from cfkb.engine.index import open_index
    from cfkb.model.vocabulary import CFID_NS
    from cfkb.server import data
    from cfkb.store import remotehttp
    from cfkb.workflow.records import track_record

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the server's claim table, kept for this test
    outlet = CFID_NS + "al-rabaa-tv"
    with KnowledgeBase.open(store_path) as kb:
        here = data.source_page(kb, outlet)
    with KnowledgeBase.open(remote) as kb:
        there = data.source_page(kb, outlet)
        sent: list[str] = []
        real = remotehttp.HttpClient.post

        def counted(self: Any, endpoint: str, body: bytes, **kw: Any) -> Any:
            sent.append(endpoint)
            return real(self, endpoint, body, **kw)

        monkeypatch.setattr(remotehttp.HttpClient, "post", counted)
        with open_index(kb) as index:
            sent.clear()
            track_record(kb, index.table, [v.iri for v in there.claims] * 2)
    # the claims' fields, their sources' grades, the predicates' labels
    assert len(sent) <= 3, sent
    assert (there.claim_total, there.roles, there.predicates, there.ranks, there.grades, there.negated, there.first,
            there.last) == (here.claim_total, here.roles, here.predicates, here.ranks, here.grades, here.negated,
                            here.first, here.last)
    assert [v.iri for v in there.claims] == [v.iri for v in here.claims]
