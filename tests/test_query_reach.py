"""No query reaches another machine: refused by the parser's algebra, and no network where it runs.

A listener on 127.0.0.1 stands for the attacker's server: every attack names
it, and it must never be called. Each attack goes through every way in (the
library, ``cfkb query`` in-process and as a process, ``cfkb serve`` over a real
socket, a real browser on another site's page). The second wall, the seccomp
filter of :mod:`cfkb.store.sandbox`, is tested on its own with the parser out of the
way, next to a control run that does reach the listener, so the test can fail.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time

import httpx
import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from cfkb.errors import QueryError, QueryRefusedError, QueryTimeoutError
from cfkb.store import guard, sandbox, sparqltext
from cfkb.store.core import KnowledgeBase
from conftest import ServerProcess, invoke

needs_seccomp = pytest.mark.skipif(not sandbox.available(), reason="seccomp filter: Linux x86-64/AArch64 only")


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.calls = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.calls += 1
            conn.close()

    def settle(self) -> int:
        time.sleep(0.3)  # a connection in flight is counted before the answer is read
        return self.calls

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


def attacks(url: str) -> list[str]:
    """Queries that would call ``url``, each hiding SERVICE from a keyword scanner some way."""
    return [
        f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        # `\#` in a prefixed name read as a comment by a scanner, skipping the rest of the line
        f"PREFIX cfid: <https://w3id.org/cfkb/id/> SELECT * WHERE {{ ?s ?p cfid:x\\#y ."
        f" SERVICE <{url}> {{ ?a ?b ?c }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o FILTER(?o != ex:a\\#b) SERVICE SILENT <{url}> {{ ?a ?b ?c }} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ OPTIONAL {{ {{ SERVICE <{url}> {{ ?s ?p ?o }} }} UNION {{ ?a ?b ?c }} }} }}",
        f"ASK {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}",
    ]


# -- the parser decides -----------------------------------------------------------------

@pytest.mark.parametrize("text", attacks("http://127.0.0.1:9/sparql"))
def test_every_hidden_service_is_refused_by_the_algebra(text):
    with pytest.raises(QueryRefusedError):
        guard.check_query(text)


def test_a_scanner_would_have_missed_the_escaped_hash():
    """The scanner alone: fixed for `\\#`, but it is the parser that decides."""
    text = "SELECT * WHERE { ?s ?p ex:x\\#y . SERVICE <http://e/> { } }"
    assert "SERVICE" in sparqltext.keywords(text)
    assert guard._parse_verdict(text.replace("ex:x\\#y", "<urn:x>")) == ("outside", "SERVICE")


@pytest.mark.parametrize("text,word", [
    ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "INSERT"),
    ("PREFIX ex: <urn:x#> DELETE WHERE { ?s ex:a\\#b ?o }", "DELETE"),
    ("LOAD <http://127.0.0.1:9/x.ttl>", "LOAD"),
    ("CLEAR ALL", "CLEAR"),
])
def test_updates_are_refused_by_the_algebra(text, word):
    with pytest.raises(QueryRefusedError, match=word):
        guard.check_query(text)


def test_keywords_in_strings_iris_and_names_pass():
    guard.check_query('SELECT ?service WHERE { ?s <http://x/SERVICE#FROM> "SERVICE <http://e/> {}" }')
    guard.check_query("PREFIX from: <urn:from:> SELECT * WHERE { ?s from:service ?o }")


def test_text_the_parser_cannot_read_is_not_run_and_says_why():
    with pytest.raises(QueryError) as info:
        guard.check_query("SELECT ?x WHERE { ?x ?y ")
    assert "SPARQL syntax error" in str(info.value) and "1:" in str(info.value)


def test_nesting_is_bounded_before_any_parser_sees_it():
    deep = "SELECT * WHERE { FILTER(" + "(" * 50_000 + "1" + ")" * 50_000 + ") }"
    with pytest.raises(QueryRefusedError, match="deep"):
        guard.check_query(deep)
    with pytest.raises(QueryRefusedError, match="deep"):
        guard.screen_query(deep)
    guard.check_query("SELECT * WHERE { FILTER(" + "(" * 10 + "1" + ")" * 10 + ") }")


def test_deep_nesting_on_the_command_line_is_an_error_not_a_crash(store_path):
    deep = "SELECT * WHERE { FILTER(" + "(" * 50_000 + "1" + ")" * 50_000 + ") }"
    done = subprocess.run([sys.executable, "-m", "cfkb", "--store", str(store_path), "query", "-e", deep],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-500:]
    assert done.stderr.count("\n") == 1 and "deep" in done.stderr


# -- every way in, against a listener that must stay silent --------------------------------

def test_no_attack_reaches_the_listener_through_the_library(store_path, listener):
    with KnowledgeBase.open(store_path) as kb:
        for text in attacks(listener.url):
            with pytest.raises(QueryRefusedError):
                kb.query(text)
    assert listener.settle() == 0


def test_no_attack_reaches_the_listener_from_the_command_line(runner, store_path, listener):
    for text in attacks(listener.url):
        result = invoke(runner, store_path, "query", "-e", text)
        assert result.exit_code == 1, (text, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
    text = attacks(listener.url)[1]
    done = subprocess.run([sys.executable, "-m", "cfkb", "--store", str(store_path), "query", "-e", text],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "SERVICE" in done.stderr
    assert listener.settle() == 0


@pytest.fixture(scope="module")
def served(seed_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("reach-served") / "kb.store"
    shutil.copytree(seed_template, path)
    with ServerProcess(path, "--workers", "2") as s:
        yield s


def test_no_attack_reaches_the_listener_through_a_served_endpoint(served, listener):
    for text in attacks(listener.url):
        got = httpx.get(served.url + "/sparql", params={"query": text}, timeout=30)
        posted = httpx.post(served.url + "/sparql", content=text.encode(), timeout=30,
                            headers={"content-type": "application/sparql-query"})
        form = httpx.post(served.url + "/sparql", data={"query": text}, timeout=30)
        editor = httpx.get(served.url + "/query", params={"q": text, "run": "1"}, timeout=30)
        assert {got.status_code, posted.status_code, form.status_code} == {403}, text
        assert editor.status_code in (400, 403), text
    assert listener.settle() == 0


# -- the second wall: no network where queries run -----------------------------------------

def _service_query(url: str) -> str:
    return f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"


def _raw_service(url: str) -> str:
    """pyoxigraph itself, no cfkb check in the way: what a parser's misreading would let through."""
    try:
        answer = ox.Store().query(_service_query(url))
        rows = list(answer)
        del answer
        return f"answered {len(rows)}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


@needs_seccomp
def test_a_query_on_a_sealed_thread_reaches_nothing_even_past_the_parser(listener):
    control = _raw_service(listener.url)  # the same query, where the network is
    reached = listener.settle()
    assert reached >= 1, control
    sealed = sandbox.run_offline(_raw_service, listener.url)
    assert "Permission denied" in sealed or "PermissionError" in sealed, sealed
    assert listener.settle() == reached
    # the caller's own thread keeps its network
    socket.create_connection(("127.0.0.1", listener.port), timeout=5).close()
    assert listener.settle() == reached + 1


@needs_seccomp
def test_a_sealed_thread_opens_unix_sockets_but_no_other():
    def probe() -> tuple[str, str, str]:
        out = []
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(family).close()
                out.append("opened")
            except PermissionError:
                out.append("refused")
        a, b = socket.socketpair()
        a.close()
        b.close()
        out.append("unix")
        return tuple(out)  # type: ignore[return-value]

    assert sandbox.run_offline(probe) == ("refused", "refused", "unix")


@needs_seccomp
def test_a_query_worker_process_has_no_network_even_past_the_parser(store_path, listener, tmp_path):
    """The server's worker, started as the server starts it, with cfkb's check taken out."""
    script = tmp_path / "worker_probe.py"
    script.write_text(
        "import sys\n"
        "import cfkb.store.core\n"
        "cfkb.store.core.check_query = lambda text, name=None: None  # the parser misled\n"
        "from multiprocessing.connection import Connection\n"
        "from cfkb.server.executor import worker_main\n"
        "worker_main(Connection(int(sys.argv[1])), sys.argv[2])\n", encoding="utf-8")
    from multiprocessing.connection import Connection

    from cfkb.server.jobs import QueryJob

    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, str(script), str(theirs.fileno()), str(store_path)],
                            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
    theirs.close()
    conn = Connection(ours.detach())
    try:
        assert conn.poll(60) and conn.recv() == ("ready",)
        conn.send(QueryJob.make(_service_query(listener.url), "json", 10))
        assert conn.poll(60)
        reply = conn.recv()
        conn.send(None)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        conn.close()
    assert reply[0] == "error", reply
    assert listener.settle() == 0


# -- cross-site requests ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(seed_template, tmp_path_factory):
    from cfkb.server.app import create_app
    from cfkb.server.executor import ThreadRunner

    path = tmp_path_factory.mktemp("xsite") / "kb.store"
    shutil.copytree(seed_template, path)
    kb = KnowledgeBase.open(path)
    app = create_app(kb, runner=ThreadRunner(kb), query_timeout=5, allowed_hosts=["testserver"])
    with TestClient(app) as c:
        yield c
    kb.close()


CROSS = [
    {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"},
    {"sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"},
    {"origin": "http://attacker.example"},
    {"origin": "null"},
]


@pytest.mark.parametrize("headers", CROSS)
def test_cross_site_requests_never_run_a_query(site, headers):
    q = "ASK { ?s ?p ?o }"
    assert site.get("/sparql", params={"query": q}, headers=headers).status_code == 403
    assert site.post("/sparql", data={"query": q}, headers=headers).status_code == 403
    assert site.get("/query", params={"q": q, "run": "1"}, headers=headers).status_code == 403
    assert site.get("/query", params={"q": q, "run": "1", "download": "csv"}, headers=headers).status_code == 403


def test_own_pages_and_programs_are_answered(site):
    q = "ASK { ?s ?p ?o }"
    assert site.get("/sparql", params={"query": q}).status_code == 200  # curl, a SPARQL library
    own = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "origin": "http://testserver"}
    assert site.post("/sparql", data={"query": q}, headers=own).status_code == 200
    typed = {"sec-fetch-site": "none", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    assert site.get("/sparql", params={"query": q}, headers=typed).status_code == 200


def test_other_pages_may_be_linked_but_not_embedded(site):
    link = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    assert site.get("/", headers=link).status_code == 200
    embed = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "iframe"}
    assert site.get("/", headers=embed).status_code == 403
    fetch = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "cors", "origin": "http://attacker.example"}
    assert site.get("/sources", headers=fetch).status_code == 403


def test_a_form_on_another_site_cannot_make_the_browser_query(served, listener, tmp_path, browser):
    """A real browser on a page of another origin posts a form to /sparql: refused, nothing called."""
    import http.server

    query = _service_query(listener.url).replace('"', "&quot;")
    page_html = (f'<form id="f" method="POST" action="{served.url}/sparql">'
                 f'<input name="query" value="{query}"></form>'
                 "<script>document.getElementById('f').submit()</script>")
    (tmp_path / "index.html").write_text(page_html, encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        # localhost and 127.0.0.1 are different sites to the browser
        with page.expect_navigation(url=f"{served.url}/sparql", timeout=20_000):
            page.goto(f"http://localhost:{attacker.server_address[1]}/index.html")
        body = page.content()
    finally:
        context.close()
        attacker.shutdown()
        attacker.server_close()
    assert "cross-site request refused" in body
    assert listener.settle() == 0


# -- each client its share of the workers -------------------------------------------------------

def test_one_client_cannot_hold_every_worker():
    from cfkb.server.executor import _FairSlots

    slots = _FairSlots(["w1", "w2"])
    first = slots.get(0, "flood")
    with pytest.raises(queue.Empty):
        slots.get(0.05, "flood")  # its share is one of the two
    assert slots.get(0, "analyst") in ("w1", "w2")  # the other stays free for everyone else
    slots.put(first, "flood")


def test_a_slot_given_back_goes_to_the_client_holding_fewest():
    from cfkb.server.executor import _FairSlots

    slots = _FairSlots(["w1", "w2", "w3"])
    held = [slots.get(0, "flood"), slots.get(0, "flood"), slots.get(0, "b")]
    got: dict[str, str] = {}
    waiters = [threading.Thread(target=lambda c=c: got.setdefault(c, slots.get(10, c))) for c in ("flood", "c")]
    waiters[0].start()
    while len(slots._waiters) < 1:
        time.sleep(0.01)
    waiters[1].start()
    while len(slots._waiters) < 2:
        time.sleep(0.01)
    slots.put(held[2], "b")  # the flood waited first, but holds two already
    waiters[1].join(10)
    assert got == {"c": held[2]}
    slots.put(held[0], "flood")
    waiters[0].join(10)
    assert got["flood"] == held[0]


def test_a_client_may_not_queue_without_bound():
    from cfkb.server.executor import _FairSlots

    slots = _FairSlots(["w"], max_waiting=2)
    slots.get(0, "flood")
    threads = [threading.Thread(target=lambda: _quiet_get(slots, "flood")) for _ in range(2)]
    for t in threads:
        t.start()
    while len(slots._waiters) < 2:
        time.sleep(0.01)
    with pytest.raises(QueryTimeoutError, match="too many queries"):
        slots.get(1, "flood")
    slots.put("w", "flood")
    for t in threads:
        t.join(10)


def _quiet_get(slots, client: str) -> None:
    with contextlib.suppress(queue.Empty):
        slots.put(slots.get(5, client), client)


# -- cfkb's own queries skip the parser, nothing else does ----------------------------------------

def test_own_queries_are_known_and_nothing_else_is(monkeypatch):
    from cfkb.store.owntexts import own_query
    from cfkb.workflow import queries
    from cfkb.workflow.conflicts import compile_rule, load_rules

    def no_parser(text: str) -> None:
        raise AssertionError(f"parsed: {text[:60]}")

    monkeypatch.setattr(guard, "_parse_verdict", no_parser)
    guard._algebra_verdict.cache_clear()
    named = queries.library()["claims_about"].text
    rule = compile_rule(load_rules()[0])
    own = own_query("store_claim_count")  # KnowledgeBase.claim_count's
    for text in (named, rule, own):
        assert guard.is_own(text)
        guard.check_query(text)  # no parser
    for text in attacks("http://127.0.0.1:9/sparql") + [named + " ", own.replace("?c", "?d")]:
        assert not guard.is_own(text)
        with pytest.raises(AssertionError, match="parsed"):
            guard._algebra_verdict.__wrapped__(text)
