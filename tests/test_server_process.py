"""The real `cfkb serve` process on 127.0.0.1, talked to with httpx (issue 8)."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import time

import httpx
import pyoxigraph as ox
import pytest

from conftest import ServerProcess, invoke

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(entry))
    return out


def test_served_endpoint_over_a_socket(store_path):
    with ServerProcess(store_path, "--query-timeout", "4", "--row-limit", "10", "--workers", "2") as server:
        base = server.url
        r = httpx.get(base + "/sparql", params={"query": "SELECT ?p WHERE { cfid:harakat-hoquq a ?p }"},
                      headers={"accept": "application/sparql-results+xml"})
        assert r.status_code == 200
        assert [s["p"].value for s in ox.parse_query_results(r.content, format=ox.QueryResultsFormat.XML)] == [
            "https://w3id.org/cfkb/ns#Party"]
        r = httpx.post(base + "/sparql", content=b"DESCRIBE cfid:ihec",
                       headers={"content-type": "application/sparql-query", "accept": "application/n-triples"})
        assert r.status_code == 200 and list(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES))
        assert httpx.get(base + "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}).headers[
            "x-cfkb-truncated"] == "true"
        assert httpx.post(base + "/sparql", data={"update": "CLEAR ALL"}).status_code == 403
        assert httpx.get(base + "/", headers={"host": "attacker.example"}).status_code == 400
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "Harakat Hoquq" in page.text

        # a runaway query is stopped at the limit while other clients (another address) are answered
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30)
        with concurrent.futures.ThreadPoolExecutor(4) as pool, other:
            runaway = pool.submit(httpx.get, base + "/sparql", params={"query": RUNAWAY}, timeout=30)
            time.sleep(0.2)
            quick = [pool.submit(other.get, base + "/sparql", params={"query": "ASK { ?s ?p ?o }"})
                     for _ in range(3)]
            assert all(q.result().status_code == 200 for q in quick)
            assert not runaway.done(), "the quick queries were answered while the runaway ran"
            stopped = runaway.result()
        assert stopped.status_code == 503
        assert "time limit of 4 s" in stopped.text
        assert httpx.get(base + "/sparql", params={"query": "ASK {}"}).status_code == 200
        workers = _children(server.process.pid)
        assert workers, "queries run in worker processes"
    assert server.process.returncode == 0
    time.sleep(0.2)
    assert not any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in workers)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.parametrize("host", ["127.0.0.2", "0:0:0:0:0:0:0:1"])
def test_a_loopback_bind_in_any_spelling_refuses_a_rebound_host(store_path, host):
    """``--host 127.0.0.2`` or ``0:0:0:0:0:0:0:1`` was taken as public and the Host check was off."""
    if ":" in host and not socket.has_ipv6:
        pytest.skip("no IPv6")
    with ServerProcess(store_path, "--workers", "1", "--no-prefill", host=host) as server:
        assert server.process.poll() is None
        query = {"query": "SELECT ?q WHERE { ?c cfkb:quote ?q } LIMIT 1"}
        for attack in ("evil.example", f"evil.example:{server.port}", "testserver"):
            r = httpx.get(server.url + "/sparql", params=query, headers={"host": attack})
            assert r.status_code == 400 and "quote" not in r.text
        assert httpx.get(server.url + "/sparql", params=query).status_code == 200
        assert httpx.get(server.url + "/", headers={"host": f"localhost:{server.port}"}).status_code == 200
    out = server.process.stdout.read().decode() if server.process.stdout and not server.process.stdout.closed else ""
    assert "anyone who can reach" not in out


def test_writable_server_holds_the_lock(store_path, runner):
    with ServerProcess(store_path, "--writable", "--workers", "1") as server:
        result = invoke(runner, store_path, "claim", "add", "--subject", "KH", "--predicate", "participatesIn",
                        "--object", "December 2023 provincial elections", "--source", "al-Iraqiya TV",
                        "--date", "2023-09-01")
        assert result.exit_code == 1
        assert "store in use" in result.output
        assert httpx.get(server.url + "/").status_code == 200
    assert server.process.returncode == 0


def test_serve_get_answers_one_request(store_path, runner):
    result = invoke(runner, store_path, "serve", "--get", "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D")
    assert result.exit_code == 0, result.output
    assert '"boolean":true' in result.output
    result = invoke(runner, store_path, "serve", "--get", "/entity/harakat-hoquq")
    assert result.exit_code == 0 and "حركة حقوق" in result.output
    missing = invoke(runner, store_path, "serve", "--get", "/entity/atlantis")
    assert missing.exit_code == 1
    refused = invoke(runner, store_path, "serve", "--get", "/sparql?query=LOAD%20%3Chttp%3A%2F%2Fx%2F%3E")
    assert refused.exit_code == 1 and "LOAD is not allowed" in refused.output


def test_serve_help_lists_the_options(runner, store_path):
    result = invoke(runner, store_path, "serve", "--help")
    for option in ("--host", "--port", "--read-only / --writable", "--query-timeout", "--row-limit", "--get"):
        assert option in result.output
    assert "127.0.0.1" in result.output


@pytest.mark.parametrize("args", [["--port", "70000"], ["--query-timeout", "0"], ["--row-limit", "0"]])
def test_serve_rejects_bad_options(runner, store_path, args):
    from cfkb.cli import cli

    result = runner.invoke(cli, ["--store", str(store_path), "serve", *args])
    assert result.exit_code == 2
