"""A remote base's claim table and conflict index, kept in the user's cache and
current after every write made through cfkb, against a real ``oxigraph serve``.

Each test compares the kept table and index with ones made from scratch from
the server's graph: the same claim rows, the same conflicts, members and rule
rows. The stamp must read the server's generation without a rebuild (a
delta), except where another client wrote (then the table is made again and
stderr says why).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyoxigraph as ox
import pytest

from bench.generate import generate
from cfkb.engine.index import fill, open_index, rules_digest
from cfkb.engine.shapes import load_rules
from cfkb.engine.table import build, table_path
from cfkb.store.core import KnowledgeBase
from cfkb.store.remote import RemoteStore
from conftest import invoke
from oxiserver import OxigraphServer
from test_remote import CSV, SEED_CLAIMS, KillingProxy, big_table, needs_server, remote, seed_quads, server  # noqa: F401 - the shared server fixtures

pytestmark = needs_server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache of this test's own, where remote bases keep their tables."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """What a table file holds, apart from its stamps: every row of every table, sorted."""
    out = {}
    for name in ("claims", "kinds", "area_overlap", "rule_kinds", "conflict_rows", "conflicts", "conflict_members",
                 "conflict_entities"):
        out[name] = sorted(map(repr, con.execute(f"SELECT * FROM {name}").fetchall()))
    out["regular"] = [r[0] for r in con.execute("SELECT v FROM meta WHERE k = 'regular'").fetchall()]
    return out


def stamps(url: str) -> tuple[str, str | None, str | None]:
    """The server's generation, and the table file's stamps for the table and the index."""
    kb = KnowledgeBase.open(url)
    try:
        path = table_path(kb)
        assert path is not None
        generation = kb.generation()
    finally:
        kb.close()
    if not path.is_file():
        return generation, None, None
    con = duckdb.connect(str(path), read_only=True)
    try:
        meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
    finally:
        con.close()
    return generation, meta.get("generation"), meta.get("index_generation")


def assert_current_by_delta(url: str) -> None:
    """The stored table and index carry the server's generation (no rebuild needed)."""
    generation, table, index = stamps(url)
    assert table == generation and index == generation


def assert_agrees_with_a_fresh_table(url: str) -> dict[str, list[str]]:
    """The table and index cfkb keeps equal those made from scratch from the graph."""
    kb = KnowledgeBase.open(url)
    try:
        with open_index(kb) as index:
            kept = snapshot(index.con)
        fresh = build(kb)
        try:
            fill(fresh, kb, load_rules(), rules_digest())
            expected = snapshot(fresh.con)
        finally:
            fresh.close()
    finally:
        kb.close()
    assert kept == expected
    return kept


def conflict_ids(runner: Any, url: str) -> set[str]:
    result = invoke(runner, url, "conflicts", "--format", "json")  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return {c["id"] for c in json.loads(result.stdout)}


def claim_quads(url: str, claim: str) -> list[ox.Quad]:
    return list(RemoteStore(url).quads_for_pattern(ox.NamedNode(claim), None, None, None))


# -- the batched read -----------------------------------------------------------------

def test_quads_of_many_subjects_come_in_one_request_per_batch(remote):  # noqa: F811 - the fixture imported above
    store = RemoteStore(remote)
    claims = sorted({q.subject for q in store.quads_for_pattern(
        None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        ox.NamedNode("https://w3id.org/cfkb/ns#Claim"), None)}, key=str)[:25]
    one_by_one = sorted(str(q) for c in claims for q in store.quads_for_pattern(c, None, None, None))
    sent: list[bytes] = []
    request = store._http.post

    def counting(endpoint: str, body: bytes, **kw: Any) -> Any:
        sent.append(body)
        return request(endpoint, body, **kw)

    store._http.post = counting  # type: ignore[method-assign]
    assert sorted(str(q) for q in store.quads_for_subjects(claims, batch=10)) == one_by_one
    assert len(sent) == 3
    label = ox.NamedNode("https://w3id.org/cfkb/ns#statedOn")
    dates = list(store.quads_for_subjects(claims, [label]))
    assert dates and all(q.predicate == label for q in dates)
    assert list(store.quads_for_subjects([ox.NamedNode("http://e/none")])) == []


# -- every kind of write, kept by a delta ------------------------------------------------

def test_claim_add_keeps_the_remote_table_and_index_current(runner, remote, cache):  # noqa: F811 - the fixture imported above
    before = conflict_ids(runner, remote)  # makes the table in the cache
    assert_current_by_delta(remote)
    result = invoke(runner, remote, "claim", "add", "--subject", "Harakat Hoquq",  # type: ignore[arg-type]
                    "--predicate", "participatesIn", "--object", "December 2023 provincial elections",
                    "--source", "Al-Rabaa TV", "--date", "2023-10-02")
    assert result.exit_code == 0, result.output
    assert "new conflict" in result.stderr
    assert_current_by_delta(remote)
    assert_agrees_with_a_fresh_table(remote)
    assert conflict_ids(runner, remote) > before
    assert "behind the server" not in result.stderr


def test_imports_small_and_large_keep_the_remote_table_current(runner, remote, cache, tmp_path):  # noqa: F811 - the fixture imported above
    conflict_ids(runner, remote)
    small = tmp_path / "small.csv"
    small.write_text(CSV, encoding="utf-8")
    assert invoke(runner, remote, "import", str(small)).exit_code == 0  # type: ignore[arg-type]
    assert_current_by_delta(remote)
    assert_agrees_with_a_fresh_table(remote)
    # a batch over the inline limit goes as one N-Quads POST; the upkeep follows it too
    result = invoke(runner, remote, "import", str(big_table(tmp_path / "big.csv", 300)))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert_current_by_delta(remote)
    kept = assert_agrees_with_a_fresh_table(remote)
    assert sum(1 for r in kept["claims"] if ", True, " in r[:200]) >= SEED_CLAIMS + 301


def test_flag_resolve_retraction_and_merge_keep_the_remote_table_current(runner, remote, cache):  # noqa: F811 - the fixture imported above
    data = json.loads(invoke(runner, remote, "conflicts", "--format", "json").stdout)  # type: ignore[arg-type]
    hoquq = next(c for c in data if c["claims"][1]["subject"]["label"] == "Harakat Hoquq")
    moanes = next(v for v in hoquq["claims"] if v["role"] == "denies")
    assert invoke(runner, remote, "flag", hoquq["id"], "--status", "resolved",  # type: ignore[arg-type]
                  "--prefer", moanes["id"], "--reason", "he leads it").exit_code == 0
    assert_current_by_delta(remote)
    assert_agrees_with_a_fresh_table(remote)
    # a claim taken out of the base (every quad of it): a write that removes statements
    kb = KnowledgeBase.open(remote, write=True)
    try:
        kb.write(remove=claim_quads(remote, moanes["iri"]))
    finally:
        kb.close()
    assert_current_by_delta(remote)
    kept = assert_agrees_with_a_fresh_table(remote)
    assert not any(moanes["iri"] in r for r in kept["conflict_members"])
    assert hoquq["id"] not in conflict_ids(runner, remote)
    # an entity merge rewrites the statements about both entities
    added = invoke(runner, remote, "entity", "add", "Kataib Hezbollah Media Office",  # type: ignore[arg-type]
                   "--type", "Organization", "--alias", "KH media")
    assert added.exit_code == 0, added.output
    assert_current_by_delta(remote)
    merged = invoke(runner, remote, "entity", "merge", "Kataib Hezbollah", "KH media",  # type: ignore[arg-type]
                    "--reason", "same")
    assert merged.exit_code == 0, merged.output
    assert_current_by_delta(remote)
    assert_agrees_with_a_fresh_table(remote)


def test_the_upkeep_reads_touched_statements_in_one_batched_request(remote, cache, monkeypatch):  # noqa: F811 - the fixture imported above
    import cfkb.engine.remote as upkeep

    kb = KnowledgeBase.open(remote, write=True)
    try:
        with open_index(kb):
            pass
        claims = [q.subject for q in kb.store.quads_for_pattern(
            None, ox.NamedNode("https://w3id.org/cfkb/ns#statedOn"), None, None)][:30]
        graded = [ox.Quad(c, ox.NamedNode("https://w3id.org/cfkb/ns#modality"),
                          ox.NamedNode("https://w3id.org/cfkb/ns#Reported")) for c in claims]
        batches: list[int] = []
        read = upkeep.quads_of_subjects

        def counting(store: Any, subjects: Any, predicates: Any = None) -> Any:
            subjects = list(subjects)
            batches.append(len(subjects))
            return read(store, subjects, predicates)

        monkeypatch.setattr(upkeep, "quads_of_subjects", counting)
        kb.write(add=graded)  # 30 statements the table holds, each changed: read again
        assert batches == [30]
    finally:
        kb.close()
    assert_current_by_delta(remote)
    assert_agrees_with_a_fresh_table(remote)


# -- other clients -----------------------------------------------------------------------

def test_a_write_by_another_client_makes_the_table_again_and_says_so(runner, remote, cache, tmp_path, monkeypatch):  # noqa: F811 - the fixture imported above
    conflict_ids(runner, remote)
    generation, stamped, _ = stamps(remote)
    assert stamped == generation
    # another machine: its own cache, so this one's table is not told
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    other = KnowledgeBase.open(remote, write=True)
    ds = generate(40, seed=5, noise_share=0.3)
    other.write(list(ds.quads()))
    other.close()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    assert stamps(remote)[1] == generation  # stale here
    result = invoke(runner, remote, "conflicts", "--limit", "1")  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert "behind the server (another client wrote" in result.stderr
    assert_current_by_delta(remote)
    kept = assert_agrees_with_a_fresh_table(remote)
    assert {r for r in kept["conflicts"] if any(c in r for k in ds.truth for c in k[1])}


def test_a_write_by_another_client_during_the_upkeep_leaves_the_stamp_stale(remote, cache, monkeypatch):  # noqa: F811 - the fixture imported above
    import cfkb.engine.remote as upkeep

    kb = KnowledgeBase.open(remote, write=True)
    with open_index(kb):
        pass
    before = kb.generation()
    foreign = generate(20, seed=9, noise_share=0.3)
    read = upkeep.quads_of_subjects

    def interleaved(store: Any, subjects: Any, predicates: Any = None) -> Any:
        # between this process's write and its upkeep's reads, another client writes
        other = KnowledgeBase(RemoteStore(remote), None, location="another client")
        other.write(list(foreign.quads()))
        return read(store, subjects, predicates)

    monkeypatch.setattr(upkeep, "quads_of_subjects", interleaved)
    ours = generate(10, seed=11, noise_share=0.3)
    kb.write(list(ours.quads()))
    kb.close()
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    generation, stamped, _ = stamps(remote)
    assert generation != before and stamped == before  # left stale, not stamped with a wrong table
    kept = assert_agrees_with_a_fresh_table(remote)
    assert_current_by_delta(remote)
    claims = {r.split("'")[1] for r in kept["claims"]}
    assert {c for k in foreign.truth for c in k[1]} <= claims
    assert {c for k in ours.truth for c in k[1]} <= claims


# -- kill -9 ---------------------------------------------------------------------------------

def test_an_importer_killed_after_the_server_committed_leaves_a_table_that_is_made_again(
        runner, tmp_path, cache):
    srv = OxigraphServer(tmp_path / "crash").start()
    proxy = KillingProxy(srv, "after", path="/update", kill_server=False)
    try:
        assert invoke(runner, srv.url, "init").exit_code == 0  # type: ignore[arg-type]
        conflict_ids(runner, proxy.url)  # the table, under the URL the importer uses
        table = tmp_path / "more.csv"
        table.write_text(CSV, encoding="utf-8")
        child = subprocess.Popen([sys.executable, "-m", "cfkb", "--store", proxy.url, "--analyst", "tester",
                                  "import", str(table)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={**os.environ, "XDG_CACHE_HOME": str(cache)})
        try:
            while not proxy.holding.wait(0.2):
                assert child.poll() is None, child.communicate()
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.communicate()
        generation, stamped, _ = stamps(proxy.url)
        assert stamped is not None
        if stamped != generation:  # the server applied the import; the importer never saw its answer
            result = invoke(runner, proxy.url, "conflicts", "--limit", "1")  # type: ignore[arg-type]
            assert "behind the server" in result.stderr
        assert_agrees_with_a_fresh_table(proxy.url)
        assert_current_by_delta(proxy.url)
    finally:
        proxy.close()
        srv.stop()


@pytest.mark.parametrize("at", ["before", "after"])
def test_a_server_killed_during_a_write_gives_one_error_then_a_correct_table(runner, tmp_path, cache, at):
    srv = OxigraphServer(tmp_path / "crash").start()
    proxy = KillingProxy(srv, at, path="/update")
    try:
        assert invoke(runner, srv.url, "init").exit_code == 0  # type: ignore[arg-type]
        conflict_ids(runner, proxy.url)
        result = invoke(runner, proxy.url, "claim", "add", "--subject", "Harakat Hoquq",  # type: ignore[arg-type]
                        "--predicate", "participatesIn", "--object", "December 2023 provincial elections",
                        "--source", "Al-Rabaa TV", "--date", "2023-10-02")
        assert proxy.killed.is_set()
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
        srv.start()  # the relay reaches the server on its new port; the table's key is the relay's URL
        assert_agrees_with_a_fresh_table(proxy.url)
        assert_current_by_delta(proxy.url)
        claims = KnowledgeBase.open(proxy.url)
        try:
            count = claims.claim_count()
        finally:
            claims.close()
        assert count in (SEED_CLAIMS, SEED_CLAIMS + 1) and (at == "after" or count == SEED_CLAIMS)
    finally:
        proxy.close()
        srv.stop()


def test_a_table_read_while_another_client_writes_is_not_stored(remote, cache, monkeypatch):  # noqa: F811 - the fixture imported above
    import cfkb.engine.table as table_module

    small = table_module.small_tables
    foreign = generate(20, seed=17, noise_share=0.3)

    def interleaved(con: Any, store: Any) -> None:
        # the facts are read; another client writes before the small tables are
        other = KnowledgeBase(RemoteStore(remote), None, location="another client")
        other.write(list(foreign.quads()))
        monkeypatch.setattr(table_module, "small_tables", small)
        small(con, store)

    monkeypatch.setattr(table_module, "small_tables", interleaved)
    kb = KnowledgeBase.open(remote)
    try:
        path = table_path(kb)
        assert path is not None
        with table_module.open_table(kb):
            pass
        assert not path.is_file()  # made in memory for this once, never stored under a stamp
    finally:
        kb.close()
    assert_agrees_with_a_fresh_table(remote)
    assert_current_by_delta(remote)


def test_the_dashboard_files_a_remote_bases_conflicts_and_follows_its_grades(remote, cache):  # noqa: F811 - the fixture imported above
    from cfkb.engine import marks
    from cfkb.workflow.grading import rate_source
    from test_conflict_index import _check_filing, _filed

    kb = KnowledgeBase.open(remote, write=True)
    try:
        _check_filing(kb, None, {})
        outlet = next(iter(_filed(kb, None, {}).counts["source"]))
        revision = kb.marks_revision()
        rate_source(kb, outlet, "E", analyst="a")  # a write that keeps the generation
        assert kb.marks_revision() != revision
        with open_index(kb) as index:  # the write kept the cached marks current: no read made them again
            assert marks.stamped(index.con) == marks.stamp_of(kb)
        _check_filing(kb, None, {})
        _check_filing(kb, "AMBER", {"source": outlet})
    finally:
        kb.close()


# -- a warm listing ------------------------------------------------------------------------

@pytest.fixture
def busy(remote: str, store_path: Path) -> tuple[str, Path]:  # noqa: F811 - the fixture imported above
    """The same base on the server and on disk: the seed and claims about busy hub entities."""
    quads = list(generate(600, seed=23, noise_share=0.3, busy=0.3).quads())
    for where in (remote, store_path):
        kb = KnowledgeBase.open(where, write=True)
        try:
            kb.write(quads)
        finally:
            kb.close()
    return remote, store_path


def test_a_warm_listing_on_the_server_is_the_listing_on_disk(runner, busy, cache):
    url, store_path = busy
    for args in (("conflicts", "--limit", "50"), ("conflicts", "--limit", "50", "--offset", "50"),
                 ("conflicts", "--format", "json", "--limit", "50"), ("conflicts", "--format", "json")):
        for _ in range(2):  # the first makes the tables, the second reads them warm
            a = invoke(runner, store_path, *args)
            b = invoke(runner, url, *args)  # type: ignore[arg-type]
            assert a.exit_code == b.exit_code == 0, (a.output, b.output)
            assert a.stdout == b.stdout and a.stderr == b.stderr
    assert len(json.loads(a.stdout)) > 100
    assert_current_by_delta(url)


def test_a_warm_listing_sends_a_few_requests_whatever_the_page(runner, busy, cache, monkeypatch):
    """Each kind of read is one request for the whole page: the base check, the statuses, the
    generation, the predicates' words, the claims shown, their sources' grades, the speakers' sides
    (a request per step up) and the entities' labels."""
    from cfkb.store.remotehttp import HttpClient

    url, _ = busy
    assert invoke(runner, url, "conflicts", "--limit", "1").exit_code == 0  # type: ignore[arg-type]
    sent: list[bytes] = []
    post = HttpClient.post

    def counted(self: HttpClient, endpoint: str, body: bytes, **kw: Any) -> Any:
        sent.append(body)
        return post(self, endpoint, body, **kw)

    monkeypatch.setattr(HttpClient, "post", counted)
    counts = {}
    for limit in ("5", "50", "120"):
        sent.clear()
        result = invoke(runner, url, "conflicts", "--limit", limit)  # type: ignore[arg-type]
        assert result.exit_code == 0 and f"conflicts 1-{limit} of" in result.stderr
        counts[limit] = len(sent)
    assert counts == dict.fromkeys(counts, 9), counts
    assert_current_by_delta(url)  # warm: nothing was made again
