"""Resource limits: hostile sizes end in a clear line (or a valid import) within
bounded time and memory, on the command line and in the server.

Each import runs as its own process under an address-space limit
(``RLIMIT_AS``), with a timeout; its peak resident memory comes from
``wait4``. Set ``CFKB_LIMITS_REPORT=FILE`` to append the figures as JSON lines.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from cfkb.store.core import KnowledgeBase
from conftest import ServerProcess, invoke

#: The address space each child may use, and what we expect it to stay under.
ADDRESS_SPACE = 4 << 30
MAX_RSS_MB = 1200
#: A child still running after this many seconds is killed (and its exit status shows it).
KILL_AFTER = 120


@dataclass
class Run:
    returncode: int
    seconds: float
    rss_mb: int
    stderr: str


def run_limited(args: list[str], timeout: float = KILL_AFTER) -> Run:
    """Run a command with RLIMIT_AS and a timeout; its own peak RSS from wait4."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            preexec_fn=limit)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        err = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        if proc.stderr:
            proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(proc.returncode, time.monotonic() - start, usage.ru_maxrss // 1024, err.decode("utf-8", "replace"))


def record(name: str, run: Run) -> None:
    target = os.environ.get("CFKB_LIMITS_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps({"input": name, "exit": run.returncode, "seconds": round(run.seconds, 2),
                                "rss_mb": run.rss_mb, "message": run.stderr.strip()[-200:]}) + "\n")


def write_big(path: Path, head: str, fill: str, count: int, tail: str) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.write(head)
        chunk = fill * 65536
        for _ in range(count // 65536):
            f.write(chunk)
        f.write(fill * (count % 65536))
        f.write(tail)
    return path


def lines(path: Path, n: int, template: str) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n, 100_000):
            f.write("".join(template.format(i=i) for i in range(start, min(n, start + 100_000))))
    return path


# name -> (builder, expected exit, words the one error line must hold; None: a valid import)
def _inputs(d: Path, slow: bool) -> dict[str, tuple[Path, int, str | None]]:
    """The hostile files. The default run keeps each one past its limit at a smaller size
    (a 20 MB literal still overflows the parser's 16 MiB buffer); --runslow uses the full sizes."""
    list_size = 100_000 if slow else 2_000
    mb = 1_000_000
    literal = 100 * mb if slow else 20 * mb
    tiny = 3_000_000 if slow else 1_100_000
    cell = 50 * mb if slow else 5 * mb
    return {
        "400 nested collections": (
            _text(d / "nested.ttl", "<urn:a> <urn:p> " + "( " * 400 + "<urn:x> " + ") " * 400 + ".\n"), 0, None),
        "400 nested blank-node groups": (
            _text(d / "bnodes.ttl", "<urn:a> <urn:p> " + "[ <urn:p> " * 400 + "<urn:x> " + "] " * 400 + ".\n"),
            0, None),
        f"list of {list_size} elements": (
            _text(d / "list.ttl", "<urn:list> <urn:p> ( " + " ".join(map(str, range(list_size))) + " ) .\n"),
            0, None),
        f"{literal // mb} MB literal (N-Triples)": (
            write_big(d / "literal.nt", '<urn:a> <urn:p> "', "x", literal, '" .\n'), 1, "16 MiB"),
        f"{literal // mb} MB literal (Turtle long string)": (
            write_big(d / "literal.ttl", '<urn:a> <urn:p> """', "y\n", literal // 2, '""" .\n'), 1, "16 MiB"),
        "5 MB literal": (write_big(d / "five.nt", '<urn:a> <urn:p> "', "z", 5_000_000, '" .\n'), 1,
                         "longer than the limit of 1,000,000"),
        "5 MB IRI": (write_big(d / "iri.nt", "<urn:a> <urn:p> <urn:", "i", 5_000_000, "> .\n"), 1,
                     "IRI of 5,000,004 characters"),
        f"{tiny:,} tiny triples": (lines(d / "tiny.nt", tiny, "<urn:s{i}> <urn:p> <urn:o> .\n"), 1,
                                   "more than 1,000,000 triples"),
        f"{tiny:,} comment lines": (lines(d / "comments.ttl", tiny, "#{i}\n"), 1, "holds no triples"),
        "YAML billion laughs": (_text(d / "bomb.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))),
            1,
            "anchors and aliases are not accepted"),
        "YAML nested 10k deep": (_text(d / "deep.yaml", "claims: " + "[" * 10_000 + "]" * 10_000 + "\n"), 1,
                                 "nested deeper than 64"),
        f"CSV with a {cell // mb} MB cell": (write_big(d / "cell.csv", "subject,predicate,object,source,quote\n"
                                                     "Hoquq,supports,Hikma,Al-Rabaa TV,\"", "q", cell, "\"\n"), 1,
                                  "field larger than field limit"),
        "CSV with a 120 kB quote": (write_big(d / "quote.csv", "subject,predicate,object,source,quote\n"
                                              "Hoquq,supports,Hikma,Al-Rabaa TV,", "q", 120_000, "\n"), 1,
                                    "quote longer than"),
        "JSON-LD nested 10k deep": (_text(d / "deep.jsonld", '{"@id": "urn:a", "urn:p": ' + '{"urn:p": ' * 10_000
                                          + '"x"' + "}" * 10_000 + "}"), 1, "nested deeper than"),
        "JSON-LD nested 100 deep": (_text(d / "hundred.jsonld", '{"@id": "urn:a", "urn:p": ' + '{"urn:p": ' * 100
                                          + '"x"' + "}" * 100 + "}"), 1, "nested deeper than 64"),
        "file over --max-file-mb": (write_big(d / "big.nt", "", "# padding\n", 220_000, ""), 1,
                                    "more than the limit of 2 MiB"),
    }


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    d = tmp_path_factory.mktemp("hostile")
    return _inputs(d, bool(request.config.getoption("--runslow")))


def test_hostile_inputs_end_clearly_within_bounds(hostile, seed_template, tmp_path):
    store = tmp_path / "kb.store"
    shutil.copytree(seed_template, store)
    with KnowledgeBase.open(store) as kb:
        before = kb.claim_count()
    failures = []
    runs = {}
    for name, (path, _, _) in hostile.items():
        extra = ["--max-file-mb", "2"] if "max-file-mb" in name else []
        runs[name] = run_limited([sys.executable, "-m", "cfkb", "--store", str(store), "--analyst", "t", "import",
                                  *extra, str(path)])
    for name, (_, expected, words) in hostile.items():
        run = runs[name]
        record(name, run)
        err = run.stderr.strip()
        problems = []
        if run.returncode != expected:
            problems.append(f"exit {run.returncode}")
        if words is not None and (len(err.splitlines()) != 1 or words not in err or not err.startswith("Error: ")):
            problems.append("message")
        if "Traceback" in err or "internal error" in err:
            problems.append("crash")
        if run.rss_mb > MAX_RSS_MB:
            problems.append(f"{run.rss_mb} MB")
        if problems:
            failures.append(f"{name}: {', '.join(problems)}: {err[-300:]}")
    assert failures == []
    with KnowledgeBase.open(store) as kb:
        assert kb.claim_count() == before


def test_hostile_input_on_stdin_is_bounded_too(runner, store_path, tmp_path):
    data = b"<urn:a> <urn:p> <urn:o> .\n" * 100_000  # 2.6 MB
    result = invoke(runner, store_path, "import", "--format", "nt", "--max-file-mb", "1", "-", input=data)
    assert result.exit_code == 1
    assert "<stdin>: the file is" in result.stderr and "limit of 1 MiB" in result.stderr


# -- queries over a long list ----------------------------------------------------------

@pytest.fixture(scope="module")
def list_store(seed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed plus a 100,000-element RDF list, written directly (not a claim)."""
    path = tmp_path_factory.mktemp("list") / "kb.store"
    shutil.copytree(seed_template, path)
    text = "<urn:list> <urn:p> ( " + " ".join(map(str, range(100_000))) + " ) .\n"
    with KnowledgeBase.open(path, write=True) as kb:
        kb.write(ox.parse(text.encode(), format=ox.RdfFormat.TURTLE))
    return path


QUADRATIC = "SELECT (COUNT(*) AS ?n) WHERE { ?l rdf:rest* ?x }"
LINEAR = "SELECT (COUNT(*) AS ?n) WHERE { <urn:list> <urn:p> ?l . ?l rdf:rest*/rdf:first ?x }"


def test_rest_star_on_the_command_line_is_stopped_at_the_timeout(list_store):
    run = run_limited([sys.executable, "-m", "cfkb", "--store", str(list_store), "query", "-e", QUADRATIC,
                       "--timeout", "2"])
    record("CLI rdf:rest* over 100k list, --timeout 2", run)
    assert run.returncode == 1 and "time limit of 2 s" in run.stderr
    assert run.rss_mb < MAX_RSS_MB


def test_rest_star_from_a_bound_start_answers(runner, list_store):
    result = invoke(runner, list_store, "query", "-e", LINEAR, "--format", "csv", "--timeout", "30")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["n", "100000"]


def test_rest_star_in_the_server_stops_and_others_are_answered(list_store):
    from cfkb.server.app import create_app

    kb = KnowledgeBase.open(list_store)
    # the limit leaves a busy machine room for the quick query (a point lookup) and a worker's
    # start; the quadratic one runs for hours
    app = create_app(kb, query_timeout=10, row_limit=100, workers=2, allowed_hosts=["testserver"])
    try:
        with TestClient(app) as client:
            client.get("/sparql", params={"query": "ASK {}"})  # workers up
            slow: dict[str, object] = {}

            def ask_slow() -> None:
                slow["r"] = client.get("/sparql", params={"query": QUADRATIC})

            thread = threading.Thread(target=ask_slow)
            thread.start()
            time.sleep(0.2)
            # another analyst, at another address: the slow query's client holds one worker at most
            other = TestClient(app, client=("192.0.2.7", 40000))
            quick = other.get("/sparql", params={"query": "ASK { <urn:list> <urn:p> ?l }"})
            answered_while_slow_ran = thread.is_alive()
            thread.join(60)
            # the server goes on: a fresh worker answers, cut at the row limit (a plain scan, so the answer
            # comes well within the time limit however busy the machine is)
            rows = client.get("/sparql", params={"query": "SELECT ?x WHERE { ?l rdf:first ?x }"})
    finally:
        kb.close()
    assert quick.status_code == 200 and quick.json()["boolean"] is True, quick.text
    assert answered_while_slow_ran
    assert slow["r"].status_code == 503 and "time limit" in slow["r"].text  # type: ignore[attr-defined]
    assert rows.status_code == 200 and rows.headers["x-cfkb-truncated"] == "true", rows.text
    assert len(rows.json()["results"]["bindings"]) == 100


# -- request size ----------------------------------------------------------------------

def test_large_bodies_are_refused_with_413(store_path):
    from cfkb.server.app import create_app
    from cfkb.server.executor import ThreadRunner

    kb = KnowledgeBase.open(store_path)
    try:
        app = create_app(kb, runner=ThreadRunner(kb), allowed_hosts=["testserver"])
        big = b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * (2 * 1024 * 1024)
        with TestClient(app) as client:
            posted = client.post("/sparql", content=big, headers={"content-type": "application/sparql-query"})
            form = client.post("/sparql", content=b"query=" + big, headers={"content-type":
                                                                           "application/x-www-form-urlencoded"})
            after = client.get("/sparql", params={"query": "ASK {}"})
            long_query = client.post("/sparql", content=b"query=ASK%7B%7D%23" + b"x" * 300_000,
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    finally:
        kb.close()
    assert posted.status_code == form.status_code == 413
    assert after.status_code == 200
    assert long_query.status_code == 400 and "longer than 256 KiB" in long_query.text


def test_large_body_over_a_socket_is_413_and_the_server_goes_on(store_path):
    with ServerProcess(store_path) as server:
        r = httpx.post(server.url + "/sparql", content=b"ASK {} #" + b"x" * (64 * 1024 * 1024),
                       headers={"content-type": "application/sparql-query"}, timeout=60)
        ok = httpx.get(server.url + "/sparql", params={"query": "ASK {}"}, timeout=10)
    assert r.status_code == 413
    assert ok.status_code == 200


def test_worker_slots_go_to_the_longest_waiting_thread_first():
    """A slot given back is handed to a waiter, never taken again by whoever gave it back."""
    from cfkb.server.executor import _FairSlots

    slots = _FairSlots(["w"])
    held = slots.get(0)
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(slots.get(5)))
    waiter.start()
    deadline = time.monotonic() + 5
    while not slots._waiters:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    slots.put(held)
    with pytest.raises(queue.Empty):
        slots.get(0.05)  # the slot went to the thread that was waiting
    waiter.join(5)
    assert got == ["w"]
    slots.put("w")
    assert slots.get(0) == "w"
