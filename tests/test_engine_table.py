"""The claim table beside the graph, and the rules' SQL forms over it.

The SQL forms (``shapes/*.sql``) must give the same rows as the compiled
SHACL-SPARQL and the same (rule, claims) as pySHACL: on every fixture, on the
seed and on generated data with planted truth. The table must agree with the
graph after any write, and a table that does not (stale stamp, damaged file,
a writer killed between the two commits) is rebuilt, never read.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyoxigraph as ox
import pytest

from bench.generate import generate
from cfkb.engine import FILE
from cfkb.engine.rules import RuleFileError, load_sql, parse_rule_file, sql_keys, sql_rows
from cfkb.engine.table import build, open_table
from cfkb.model.vocabulary import CFKB, XSD
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.conflicts import compile_rule, engine_keys, find_conflicts, full_rows, load_rules, reference_keys

CASES = sorted((Path(__file__).parent / "fixtures" / "conflicts").glob("*.ttl"))
ROOT = Path(__file__).resolve().parent.parent


def _memory_kb(quads) -> KnowledgeBase:
    kb = KnowledgeBase.memory()
    kb.store.extend(quads)
    return kb


def _row_set(rows):
    return {frozenset((k, v.value) for k, v in row.items()) for row in rows}


def _same_rows(kb: KnowledgeBase) -> None:
    """Every rule's SQL rows equal its compiled SPARQL rows (supports included)."""
    rules = load_rules()
    with build(kb) as table:
        assert table.regular
        got = sql_rows(table, [r.iri for r in rules])
    for rule in rules:
        assert _row_set(got[rule.iri]) == _row_set(kb.select(compile_rule(rule))), rule.name


def _table_dump(con) -> tuple:
    return tuple(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ("claims", "kinds", "area_overlap"))


def _agrees_with_graph(kb: KnowledgeBase) -> None:
    """The stored table is stamped with the base's generation and holds what a fresh build holds."""
    con = duckdb.connect(str(kb.path / FILE), read_only=True)
    try:
        assert dict(con.execute("SELECT k, v FROM meta").fetchall())["generation"] == kb.generation()
        stored = _table_dump(con)
    finally:
        con.close()
    with build(kb) as fresh:
        assert stored == _table_dump(fresh.con)


def test_every_rule_has_one_sql_form():
    assert set(load_sql()) == {r.iri for r in load_rules()}


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_sql_forms_agree_with_sparql_and_pyshacl_on_each_fixture(case: Path):
    store = ox.Store()
    store.load(path=str(case), format=ox.RdfFormat.TURTLE, base_iri=case.as_uri())
    kb = _memory_kb(store.quads_for_pattern(None, None, None, None))
    _same_rows(kb)
    with build(kb) as table:
        assert sql_keys(table) == reference_keys(kb) == engine_keys(kb)


def test_sql_forms_agree_on_the_seed(kb):
    _same_rows(kb)
    with build(kb) as table:
        assert sql_keys(table) == reference_keys(kb)


@pytest.mark.parametrize("n,seed,noise", [(90, 7, 0.2), (3000, 2, 0.9)])
def test_sql_forms_agree_with_sparql_on_generated_data(n, seed, noise):
    ds = generate(n, seed=seed, noise_share=noise)
    kb = _memory_kb(ds.quads())
    _same_rows(kb)
    with build(kb) as table:
        assert sql_keys(table) == ds.truth


def test_sql_forms_find_exactly_the_planted_conflicts_at_10k():
    ds = generate(10_000, seed=4)
    kb = _memory_kb(ds.quads())
    with build(kb) as table:
        assert table.count() == 10_000
        assert sql_keys(table) == ds.truth


def test_a_base_on_disk_answers_from_its_table_and_writes_keep_it_current(tmp_path):
    ds = generate(300, seed=5, noise_share=0.3)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads())[:2000])
    rules = load_rules()
    full = full_rows(kb, rules)
    assert (kb.path / FILE).is_file()
    _agrees_with_graph(kb)
    # small writes: the follower applies each one's delta
    rest = list(ds.quads())[2000:]
    for i in range(0, len(rest), 700):
        kb.write(rest[i:i + 700])
        _agrees_with_graph(kb)
    full = full_rows(kb, rules)
    assert {(iri, frozenset({r["this"].value, r["value"].value})) for iri, rows in full.items()
            for r in rows} == ds.truth
    # a removal (as a merge or unmerge writes it) takes the claim's row away
    claim = ds.claims[0]
    kb.write(remove=claim.quads())
    _agrees_with_graph(kb)
    with open_table(kb) as table:
        assert table.con.execute("SELECT count(*) FROM claims WHERE iri = ?", [claim.iri]).fetchone()[0] == 0
    # an assessment keeps the generation and so the table's stamp
    generation = kb.generation()
    kb.write([ox.Quad(ox.NamedNode("https://example.org/a"), CFKB.status, ox.Literal("open"))],
             keeps_conflicts=True)
    assert kb.generation() == generation
    _agrees_with_graph(kb)
    kb.close()


@pytest.mark.parametrize("followed", [True, False])
def test_a_bulk_write_keeps_the_table_current(tmp_path, monkeypatch, followed):
    """A journalled batch is followed by the table; one many times the table's
    size (as here, unless the ratio is raised) leaves it for the next open to make again."""
    from cfkb.engine import upkeep

    if followed:
        monkeypatch.setattr(upkeep, "REMAKE_RATIO", 10**9)
    ds = generate(2500, seed=6)
    quads = list(ds.quads())
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(quads[:500])
    open_table(kb).close()
    text = ox.serialize(quads[500:], format=ox.RdfFormat.N_QUADS)
    assert text.count(b"\n") >= 20_000  # the journalled bulk path
    kb.write_many(nquads=text)
    if not followed:
        with duckdb.connect(str(kb.path / FILE), read_only=True) as con:
            stamped = con.execute("SELECT v FROM meta WHERE k = 'generation'").fetchone()[0]
        assert stamped != kb.generation()  # the stamp stayed old
        open_table(kb).close()  # the next open makes it again
    _agrees_with_graph(kb)
    with open_table(kb) as table:
        assert sql_keys(table) == ds.truth
    kb.close()


def test_a_stale_or_damaged_table_is_rebuilt(tmp_path):
    ds = generate(200, seed=8, noise_share=0.3)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    open_table(kb).close()
    # a table from another state of the base (a copied store, an older writer)
    con = duckdb.connect(str(kb.path / FILE))
    con.execute("UPDATE meta SET v = 'old' WHERE k = 'generation'")
    con.execute("DELETE FROM claims")
    con.close()
    with open_table(kb) as table:
        assert sql_keys(table) == ds.truth
    _agrees_with_graph(kb)
    # a damaged file
    (kb.path / FILE).write_bytes(b"not a database" * 100)
    with open_table(kb) as table:
        assert sql_keys(table) == ds.truth
    _agrees_with_graph(kb)
    # another schema version
    con = duckdb.connect(str(kb.path / FILE))
    con.execute("UPDATE meta SET v = '0' WHERE k = 'schema'")
    con.execute("DELETE FROM claims")
    con.close()
    with open_table(kb) as table:
        assert sql_keys(table) == ds.truth
    kb.close()


def test_a_writer_killed_between_the_graph_and_the_table_leaves_a_table_that_is_rebuilt(tmp_path):
    ds = generate(200, seed=9, noise_share=0.3)
    quads = list(ds.quads())
    path = tmp_path / "kb"
    kb = KnowledgeBase.create(path)
    kb.write(quads[:1500])
    open_table(kb).close()
    kb.close()
    more = tmp_path / "more.nq"
    more.write_bytes(ox.serialize(quads[1500:], format=ox.RdfFormat.N_QUADS))
    # the process dies right after the graph's commit, before the table's
    script = textwrap.dedent(f"""
        import os, pyoxigraph as ox
        import cfkb.engine
        from cfkb.store import generations
        from cfkb.store.core import KnowledgeBase
        generations._WRITE_FOLLOWERS.insert(0, lambda *a: os._exit(9))
        kb = KnowledgeBase.open({str(path)!r}, write=True)
        kb.write(list(ox.parse(path={str(more)!r}, format=ox.RdfFormat.N_QUADS)))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 9
    with KnowledgeBase.open(path) as kb:
        con = duckdb.connect(str(path / FILE), read_only=True)
        stamp = dict(con.execute("SELECT k, v FROM meta").fetchall())["generation"]
        con.close()
        assert stamp != kb.generation()  # the table says it is behind
        with open_table(kb) as table:
            assert sql_keys(table) == ds.truth
        assert {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)} == {
            (rule.rsplit("#", 1)[-1], claims) for rule, claims in ds.truth}


def test_data_the_sql_forms_cannot_read_exactly_falls_back_to_sparql(tmp_path):
    ds = generate(150, seed=10, noise_share=0.3)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    # a second date on a claim: the claim shapes refuse it on import, but a base may hold it
    claim = next(c for k in ds.truth for c in ds.claims if c.iri in k[1])
    kb.write([ox.Quad(ox.NamedNode(claim.iri), CFKB.statedOn, ox.Literal("1999-01-01", datatype=XSD.date))])
    with open_table(kb) as table:
        assert not table.regular
    rules = load_rules()
    got = full_rows(kb, rules)
    for rule in rules:
        assert _row_set(got[rule.iri]) == _row_set(kb.select(compile_rule(rule)))
    kb.close()


def test_a_rule_file_that_does_not_parse_is_an_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("-- a rule\n\n-- rule: DirectConflict\nSELEC iri AS this FROM claims;\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"bad\.sql:3:1: rule DirectConflict does not parse"):
        parse_rule_file(bad)
    columns = tmp_path / "columns.sql"
    columns.write_text("-- rule: DirectConflict\nSELECT iri AS this, s AS other FROM claims;\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"columns\.sql:1:1: .*must select"):
        parse_rule_file(columns)
    empty = tmp_path / "empty.sql"
    empty.write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"empty\.sql:1:1: no '-- rule: Name' line"):
        parse_rule_file(empty)


def test_one_claims_conflicts_from_the_table_equal_the_full_run_restricted_to_it(tmp_path):
    import random

    from cfkb.workflow.conflicts import conflicts_for_claims

    ds = generate(600, seed=3, noise_share=0.3, busy=0.2)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    full = find_conflicts(kb)
    assert (kb.path / FILE).is_file()
    memory = _memory_kb(ds.quads())
    rng = random.Random(3)
    picks = rng.sample(ds.claims, 25) + [c for c in ds.claims if c.predicate.endswith(("contests", "Of"))][:10]
    for claim in picks:
        expected = {c.id for c in full if any(v.iri == claim.iri for v in c.claims)}
        assert {c.id for c in conflicts_for_claims(kb, [claim.iri])} == expected, claim
        assert {c.id for c in conflicts_for_claims(memory, [claim.iri])} == expected, claim  # the SPARQL path
    several = [c.iri for c in picks[:8]]
    expected = {c.id for c in full if any(v.iri in several for v in c.claims)}
    found = conflicts_for_claims(kb, several)
    assert {c.id for c in found} == expected
    # whole conflicts: the same claims (supports included) as the full run shows
    by_id = {c.id: c for c in full}
    assert all([v.iri for v in c.claims] == [v.iri for v in by_id[c.id].claims] for c in found)
    kb.close()


def test_the_shipped_rule_files_all_parse():
    from cfkb.resources import rule_sql_files

    files = rule_sql_files()
    assert {f.stem for f in files} == {"direct", "derived", "functional", "revision"}
    for f in files:
        assert parse_rule_file(f, check=True)


def test_a_rule_that_fails_when_it_runs_names_its_file(tmp_path, monkeypatch):
    from cfkb.engine import rules

    bad = tmp_path / "direct.sql"
    bad.write_text("-- rule: DirectConflict\nSELECT iri AS this, nothing AS value FROM claims;\n", encoding="utf-8")
    forms = {**load_sql(), **{iri: (bad, sql) for iri, sql in parse_rule_file(bad, check=False).items()}}
    monkeypatch.setattr(rules, "load_sql", lambda: forms)
    kb = KnowledgeBase.memory()
    with build(kb) as table, pytest.raises(RuleFileError,
                                           match=r"direct\.sql:1:1: rule DirectConflict does not parse"):
        sql_rows(table, list(forms))


def test_filtered_listings_from_the_table_are_the_full_listing_filtered(tmp_path, store_path):
    """--entity and --source first narrow the rows through the claim table; what
    comes out is exactly what filtering every conflict gives (a base in memory)."""
    ds = generate(400, seed=12, noise_share=0.3, busy=0.1)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    memory = _memory_kb(ds.quads())
    everything = find_conflicts(kb)
    assert [c.to_json() for c in everything] == [c.to_json() for c in find_conflicts(memory)]
    entities = sorted({v.subject.iri for c in everything for v in c.claims} | {ds.claims[0].subject})[:12]
    sources = sorted({(v.speaker or v.outlet).iri for c in everything for v in c.claims}
                     | {v.outlet.iri for c in everything for v in c.claims})[:12]
    for entity in entities:
        got = [c.to_json() for c in find_conflicts(kb, entity=entity)]
        assert got == [c.to_json() for c in find_conflicts(memory, entity=entity)]
    for source in sources:
        got = [c.to_json() for c in find_conflicts(kb, source=source, kinds=["direct", "derived"])]
        assert got == [c.to_json() for c in find_conflicts(memory, source=source, kinds=["direct", "derived"])]
    kb.close()
    # and on the seed, with its background wing statements and interested speakers
    with KnowledgeBase.open(store_path) as seed:
        every = find_conflicts(seed)
        for entity in sorted({v.object.iri for c in every for v in c.claims}):
            expected = [c.to_json() for c in every if any(entity in (v.subject.iri, v.object.iri) for v in c.claims)]
            assert [c.to_json() for c in find_conflicts(seed, entity=entity)] == expected


def test_conflicts_a_page_at_a_time_with_a_count(runner, store_path):
    import json

    from conftest import invoke

    everything = json.loads(invoke(runner, store_path, "conflicts", "--format", "json").stdout)
    assert len(everything) == 2
    first = invoke(runner, store_path, "conflicts", "--format", "json", "--limit", "1")
    assert first.exit_code == 0
    assert json.loads(first.stdout) == everything[:1]
    assert "conflicts 1-1 of 2" in first.stderr
    second = invoke(runner, store_path, "conflicts", "--format", "json", "--limit", "1", "--offset", "1")
    assert json.loads(second.stdout) == everything[1:]
    assert "conflicts 2-2 of 2" in second.stderr
    past = invoke(runner, store_path, "conflicts", "--format", "json", "--offset", "5")
    assert json.loads(past.stdout) == [] and "conflicts none of 2" in past.stderr
    bad = invoke(runner, store_path, "conflicts", "--limit", "-1")
    assert bad.exit_code == 2


from test_remote import remote, seed_quads, server  # noqa: E402,F401 - the shared server fixtures


def test_a_remote_base_keeps_its_table_locally_stamped_with_the_remote_generation(
        remote, tmp_path, monkeypatch, store_path):  # noqa: F811 - the fixture imported above
    from cfkb.engine.table import table_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kb = KnowledgeBase.open(remote, write=True)
    path = table_path(kb)
    assert path is not None and path.is_relative_to(tmp_path / "cache") and remote not in str(path)
    with KnowledgeBase.open(store_path) as local:
        expected = [c.to_json() for c in find_conflicts(local)]
    assert [c.to_json() for c in find_conflicts(kb)] == expected
    assert path.is_file()
    con = duckdb.connect(str(path), read_only=True)
    assert dict(con.execute("SELECT k, v FROM meta").fetchall())["generation"] == kb.generation()
    con.close()
    # a write on the server moves its generation: the local table is made again
    ds = generate(60, seed=13, noise_share=0.2)
    kb.write(list(ds.quads()))
    with open_table(kb) as table:
        assert table.generation == kb.generation()
        assert sql_keys(table) >= ds.truth
    kb.close()


def test_a_shape_file_that_does_not_parse_is_named_with_its_line(tmp_path):
    from cfkb.errors import InputError
    from cfkb.resources import shape_files

    bad = tmp_path / "broken.ttl"
    bad.write_text('@prefix sh: <http://www.w3.org/ns/shacl#> .\n\n<#R> sh:select "SELECT" ;\n'
                   "  sh:message <no scheme> .\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.ttl:4:\d+: the shapes do not parse"):
        load_rules((*shape_files(), bad))


def test_the_tables_log_is_folded_in_before_it_grows_long(store_path, monkeypatch):
    """Each write's upkeep leaves its rows in DuckDB's log, which every open
    replays; the log is folded into the file once it passes a few dozen
    kilobytes, so opens never replay a long one."""
    import datetime as dt

    from cfkb.engine import lookup

    monkeypatch.setattr(lookup, "WRITE_LIMIT", 0)  # every write goes to DuckDB, none is kept in the copy

    from cfkb.engine.index import open_index
    from cfkb.engine.upkeep import LOG_LIMIT
    from cfkb.model.vocabulary import Claim

    path = store_path
    limit = LOG_LIMIT
    sizes = []
    with KnowledgeBase.open(path, write=True) as kb:
        open_index(kb).close()
        index = kb.entity_index()
        for day in range(1, 29):
            claim = Claim(subject=index.resolve("KH"), predicate=CFKB.participatesIn.value,
                          object=index.resolve("December 2023 provincial elections"),
                          source=index.resolve("al-Iraqiya TV"), speaker=None, area=None, election=None,
                          date=dt.date(2024, 2, day), tlp="CLEAR")
            kb.write(claim.quads())
            log = path / (FILE + ".wal")
            sizes.append(log.stat().st_size if log.exists() else 0)
        with open_index(kb) as index_now:
            assert index_now.count() == len(find_conflicts(kb))
    assert max(sizes) > 0, "the writes left nothing in the log: the upkeep folded each one in"
    assert max(sizes) < 2 * limit, sizes
    assert any(b < a for a, b in zip(sizes, sizes[1:], strict=False)), f"the log was never folded in: {sizes}"


def test_a_long_log_left_behind_is_folded_in_by_the_next_open(store_path):
    """A log far longer than the upkeep leaves (an older cfkb's, a killed
    writer's) is folded into the file by the next open, not replayed by every
    one; the table reads the same before and after."""
    from cfkb.engine.table import LONG_LOG

    with KnowledgeBase.open(store_path) as kb, open_table(kb) as table:
        before = sorted(table.con.execute("SELECT * FROM claims").fetchall())
    con = duckdb.connect(str(store_path / FILE))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("SET checkpoint_threshold = '1GB'")
    while not os.path.exists(f"{store_path / FILE}.wal") or os.path.getsize(f"{store_path / FILE}.wal") <= LONG_LOG:
        con.execute("CREATE OR REPLACE TABLE padding AS SELECT repeat('x', 1000) AS v FROM range(2000)")
    con.execute("DROP TABLE padding")
    con.close()
    with KnowledgeBase.open(store_path) as kb, open_table(kb) as table:
        assert sorted(table.con.execute("SELECT * FROM claims").fetchall()) == before
    log = store_path / (FILE + ".wal")
    assert not log.exists() or log.stat().st_size < LONG_LOG
