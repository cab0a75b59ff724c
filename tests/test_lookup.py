"""The claim table's key-lookup copy (SQLite) and the small writes it keeps without DuckDB.

The rules' SQL forms give the same rows in SQLite, over the rows near a
claim, as in DuckDB; a kept write's conflicts are the ones the index files
once the next reader has handed the held writes to DuckDB; writes the copy
cannot keep go to DuckDB, and a copy or held writes that are not the base's
are never read.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyoxigraph as ox
import pytest

from bench.generate import BUSY_GROUPS, PROVINCES, generate, iri
from cfkb.engine import FILE, LOOKUP_FILE, lookup
from cfkb.engine.common import filed_for
from cfkb.engine.forms import exception_predicates, load_forms
from cfkb.engine.index import open_index
from cfkb.engine.rules import sql_rows, sql_rows_involving
from cfkb.engine.table import open_table
from cfkb.model.vocabulary import CFKB_NS, RDF_NS, Claim
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.conflicts import engine_keys, load_rules

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((Path(__file__).parent / "fixtures" / "conflicts").glob("*.ttl"))


def _on_disk(path: Path, quads) -> KnowledgeBase:
    kb = KnowledgeBase.create(path)
    kb.write(list(quads))
    open_table(kb).close()  # the table and its copy, made together
    return kb


def _copy(kb: KnowledgeBase) -> sqlite3.Connection:
    return sqlite3.connect(kb.path / LOOKUP_FILE)


def _meta(kb: KnowledgeBase) -> dict[str, str]:
    con = _copy(kb)
    try:
        return dict(con.execute("SELECT k, v FROM meta").fetchall())
    finally:
        con.close()


def _held(kb: KnowledgeBase) -> int:
    con = _copy(kb)
    try:
        return con.execute("SELECT count(*) FROM held").fetchone()[0]
    finally:
        con.close()


def _table_stamp(kb: KnowledgeBase) -> str:
    con = duckdb.connect(str(kb.path / FILE), read_only=True)
    try:
        return dict(con.execute("SELECT k, v FROM meta").fetchall())["generation"]
    finally:
        con.close()


def _copy_agrees_with_table(kb: KnowledgeBase) -> None:
    """Once the table is read, the copy is at the base's generation, holds nothing, and
    has the table's rows."""
    with open_table(kb) as table:
        rows = {tuple(r) for r in table.con.execute("SELECT * FROM claims").fetchall()}
        small = [sorted(table.con.execute(f"SELECT * FROM {t}").fetchall()) for t in ("kinds", "area_overlap")]
    meta = _meta(kb)
    assert meta["generation"] == meta["table"] == kb.generation()
    assert _held(kb) == 0
    con = _copy(kb)
    try:
        copied = {tuple(bool(v) if i in (1, 5, 13) and v is not None else v for i, v in enumerate(r))
                  for r in con.execute("SELECT * FROM claims").fetchall()}
        assert copied == rows
        assert [sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in ("kinds", "area_overlap")] == small
    finally:
        con.close()


def _rows(found: dict) -> set[tuple]:
    return {(rule, r["this"].value, r["value"].value, r["contests"].value if "contests" in r else None,
             r["wing"].value if "wing" in r else None) for rule, rows in found.items() for r in rows}


def _same_answers(kb: KnowledgeBase, claims: list[str]) -> None:
    """The copy's rows for each claim, and over the whole copy, are the table's."""
    rules = [r.iri for r in load_rules()]
    con = _copy(kb)
    try:
        with open_table(kb) as table:
            for claim in claims:
                assert lookup.conflicts_of(con, [claim]) == _rows(sql_rows_involving(table, rules, [claim])), claim
            whole = _rows(sql_rows(table, rules))
        everything = set()
        for rule, (_, sql) in load_forms().items():
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            for values in cur.fetchall():
                row = dict(zip(names, values, strict=True))
                everything.add((rule, row["this"], row["value"], row.get("contests"), row.get("wing")))
        assert everything == whole
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_the_rules_give_the_same_rows_in_sqlite_as_in_duckdb_on_each_fixture(case, tmp_path):
    store = ox.Store()
    store.load(path=str(case), format=ox.RdfFormat.TURTLE, base_iri=case.as_uri())
    kb = _on_disk(tmp_path / "kb", store.quads_for_pattern(None, None, None, None))
    claims = [r[0] for r in _copy(kb).execute("SELECT iri FROM claims WHERE is_claim").fetchall()]
    assert claims
    _same_answers(kb, claims)
    kb.close()


def test_the_rules_give_the_same_rows_in_sqlite_as_in_duckdb_on_the_seed(kb):
    open_table(kb).close()
    claims = [r[0] for r in _copy(kb).execute("SELECT iri FROM claims WHERE is_claim").fetchall()]
    assert len(claims) >= 58
    _same_answers(kb, claims)


def test_the_rules_give_the_same_rows_on_generated_data_with_busy_groups(tmp_path):
    ds = generate(1500, seed=3, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    claims = sorted(c.iri for c in ds.claims)
    _same_answers(kb, claims[::25] + [c.iri for c in ds.claims if c.subject.startswith(iri("busy-"))][:15])
    kb.close()


def test_the_exceptions_read_the_sub_list_membership():
    """A new statement of another predicate cannot undo a conflict: the copy may keep it."""
    assert exception_predicates(sql for _, sql in load_forms().values()) == {CFKB_NS + "memberOf"}
    assert exception_predicates(["SELECT 1 AS this, 2 AS value FROM claims c WHERE NOT EXISTS"
                                 " (SELECT 1 FROM claims d WHERE d.s = c.o)"]) is None


def _new_list(group: int, n: int, area: str | None = None) -> Claim:
    """A new list of a busy group (by default in the province the benchmark gives it)."""
    return Claim(subject=iri(f"busy-{group}"), predicate=CFKB_NS + "runsAs", object=iri(f"busy-{group}-list-new-{n}"),
                 source=iri("outlet-0"), speaker=None, area=area or iri(PROVINCES[group % len(PROVINCES)]),
                 election=None, date=dt.date(2024, 1, 1 + n), tlp="CLEAR")


def test_one_claim_writes_are_kept_and_their_conflicts_are_the_ones_the_index_files(tmp_path):
    ds = generate(2000, seed=5, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    open_index(kb).close()
    table_at = _table_stamp(kb)
    counts = {}
    for n, group in enumerate(range(0, BUSY_GROUPS, 4)):
        # in a province where the group runs a list already
        area = _copy(kb).execute("SELECT min(area) FROM claims WHERE s = ? AND p = ? AND NOT neg",
                                 [iri(f"busy-{group}"), CFKB_NS + "runsAs"]).fetchone()[0]
        claim = _new_list(group, n, area)
        kb.write(claim.quads())
        counts[claim.iri] = filed_for(kb.generation(), [claim.iri])
        assert counts[claim.iri], "a new list of a busy group is in conflict with its other lists"
    assert _held(kb) == len(counts) and _meta(kb)["generation"] == kb.generation()
    assert _table_stamp(kb) == table_at, "no kept write touched DuckDB"
    with open_index(kb) as index:  # the reader hands the held writes to DuckDB
        for claim, count in counts.items():
            assert index.page({}, claims=[claim], limit=0)[0] == count
        assert index.conflict_keys() == engine_keys(kb)
    _copy_agrees_with_table(kb)
    kb.close()


def test_the_hand_over_files_the_rows_the_copy_found_without_running_the_rules(tmp_path, monkeypatch):
    from cfkb.engine import delta

    ds = generate(600, seed=15, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    open_index(kb).close()
    for n, group in enumerate((1, 5, 9)):
        kb.write(_new_list(group, n).quads())
    # the first negation of a claim the base holds: a direct conflict, found in the copy
    said = next(c for c in ds.claims if not c.negated and c.speaker)
    kb.write(Claim(subject=said.subject, predicate=said.predicate, object=said.object, negated=True,
                   source=said.source, speaker=said.speaker, area=said.area, election=said.election,
                   date=dt.date(2024, 2, 1), tlp="CLEAR").quads())
    assert _held(kb) == 4

    def no_rules(*args, **kwargs):
        raise AssertionError("the hand-over ran the rules again")

    monkeypatch.setattr(delta, "_rows_involving_wanted", no_rules)
    with open_index(kb) as index:
        assert index.conflict_keys() == engine_keys(kb)
    monkeypatch.undo()
    _copy_agrees_with_table(kb)
    kb.close()


def test_a_kept_write_does_not_load_duckdb(tmp_path):
    ds = generate(300, seed=6, noise_share=0.5, busy=0.2)
    path = tmp_path / "kb"
    _on_disk(path, ds.quads()).close()
    claim = _new_list(1, 0)
    script = textwrap.dedent(f"""
        import datetime as dt, sys
        import cfkb.engine
        from cfkb.model.vocabulary import Claim
        from cfkb.store.core import KnowledgeBase
        claim = Claim(subject={claim.subject!r}, predicate={claim.predicate!r}, object={claim.object!r},
                      source={claim.source!r}, speaker=None, area={claim.area!r}, election=None,
                      date=dt.date(2024, 1, 1), tlp="CLEAR")
        with KnowledgeBase.open({str(path)!r}, write=True) as kb:
            kb.write(claim.quads())
        print("duckdb" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert done.stdout.strip() == "False", done.stderr
    with KnowledgeBase.open(path) as kb:
        assert _held(kb) == 1
        assert open_index(kb).conflict_keys() == engine_keys(kb)


def test_a_sub_list_membership_goes_to_duckdb_and_takes_its_conflict_away(tmp_path):
    ds = generate(400, seed=3, noise_share=0.3)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    with open_index(kb) as index:
        functional = sorted(k for k in index.conflict_keys() if k[0].endswith("#FunctionalConflict"))
    assert functional
    one, other = sorted(functional[0][1])
    lists = [next(kb.store.quads_for_pattern(ox.NamedNode(c), ox.NamedNode(RDF_NS + "object"), None, None)).object.value
             for c in (one, other)]
    said = Claim(subject=lists[0], predicate=CFKB_NS + "memberOf", object=lists[1], source=iri("outlet-0"),
                 speaker=None, area=None, election=None, date=dt.date(2024, 1, 1), tlp="CLEAR")
    kb.write(said.quads())
    assert _held(kb) == 0 and _table_stamp(kb) == kb.generation(), "DuckDB's upkeep took it"
    with open_index(kb) as index:
        assert functional[0] not in index.conflict_keys()
        assert index.conflict_keys() == engine_keys(kb)
    _copy_agrees_with_table(kb)
    kb.close()


def test_writes_that_are_not_one_claim_go_to_duckdb_and_bring_the_copy_along(tmp_path):
    ds = generate(600, seed=8, noise_share=0.5, busy=0.2)
    quads = list(ds.background) + [q for c in ds.claims[:400] for q in c.quads()]
    kb = _on_disk(tmp_path / "kb", quads)
    kb.write(_new_list(2, 0).quads())
    assert _held(kb) == 1
    # a batch bigger than the copy keeps: DuckDB takes it, with the held write
    kb.write([q for c in ds.claims[400:] for q in c.quads()])
    assert _held(kb) == 0 and _table_stamp(kb) == kb.generation() == _meta(kb)["generation"]
    # a claim taken back: DuckDB again
    kb.write(remove=list(kb.store.quads_for_pattern(ox.NamedNode(ds.claims[0].iri), None, None, None)))
    assert _table_stamp(kb) == kb.generation()
    kb.write(_new_list(3, 1).quads())
    assert _held(kb) == 1
    assert open_index(kb).conflict_keys() == engine_keys(kb)
    _copy_agrees_with_table(kb)
    kb.close()


def test_held_writes_of_a_copy_the_base_moved_past_are_dropped(tmp_path):
    """A write the copy never saw (its process died after the graph's commit): the copy's held
    writes cannot be handed on, the table is made again from the graph, and the copy after it."""
    from cfkb.store import generations

    ds = generate(400, seed=9, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    open_index(kb).close()
    kb.write(_new_list(4, 0).quads())
    assert _held(kb) == 1
    followers = list(generations._WRITE_FOLLOWERS)
    generations._WRITE_FOLLOWERS.clear()
    try:
        kb.write(_new_list(5, 1).quads())  # unseen by the table and the copy
    finally:
        generations._WRITE_FOLLOWERS[:] = followers
    kb.write(_new_list(6, 2).quads())  # the copy is not at this write's start: DuckDB's upkeep, which declines
    assert _held(kb) == 0 and _meta(kb)["generation"] == "stale"
    with open_index(kb) as index:
        assert index.conflict_keys() == engine_keys(kb)
    kb.write(_new_list(7, 3).quads())  # the copy, made again with the table, keeps the next one
    assert _held(kb) == 1
    assert open_index(kb).conflict_keys() == engine_keys(kb)
    _copy_agrees_with_table(kb)
    kb.close()


@pytest.mark.parametrize("where", ["before the copy", "after the copy"])
def test_a_writer_killed_around_the_copy_leaves_graph_table_and_copy_agreeing(tmp_path, where):
    ds = generate(300, seed=10, noise_share=0.5, busy=0.2)
    path = tmp_path / "kb"
    kb = _on_disk(path, ds.quads())
    open_index(kb).close()
    kb.close()
    claim = _new_list(8, 0)
    kill = ("generations._WRITE_FOLLOWERS.insert(0, lambda *a: os._exit(9))" if where == "before the copy" else
            "lookup.file_found = lambda *a: os._exit(9)")
    script = textwrap.dedent(f"""
        import datetime as dt, os
        import cfkb.engine
        from cfkb.engine import lookup
        from cfkb.model.vocabulary import Claim
        from cfkb.store import generations
        from cfkb.store.core import KnowledgeBase
        {kill}
        claim = Claim(subject={claim.subject!r}, predicate={claim.predicate!r}, object={claim.object!r},
                      source={claim.source!r}, speaker=None, area={claim.area!r}, election=None,
                      date=dt.date(2024, 1, 1), tlp="CLEAR")
        kb = KnowledgeBase.open({str(path)!r}, write=True)
        kb.write(claim.quads())
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 9
    with KnowledgeBase.open(path, write=True) as kb:
        assert any(True for _ in kb.store.quads_for_pattern(ox.NamedNode(claim.iri), None, None, None))
        assert _held(kb) == (1 if where == "after the copy" else 0)
        assert open_index(kb).conflict_keys() == engine_keys(kb)
        kb.write(_new_list(9, 1).quads())
        assert open_index(kb).conflict_keys() == engine_keys(kb)
        _copy_agrees_with_table(kb)


def test_a_write_kept_while_another_process_hands_the_held_ones_on_stays_held(tmp_path):
    """A reader hands the held writes on while a writer keeps one more: the table takes the
    ones the reader read, for the generation they were held at; the new one stays held."""
    import cfkb.engine

    ds = generate(400, seed=12, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    open_index(kb).close()
    kb.write(_new_list(10, 0).quads())
    first = kb.generation()
    held = lookup.take_held(kb, first)  # the reader has read the held writes ...
    assert held is not None and held.generation == first
    kb.write(_new_list(11, 1).quads())  # ... when the writer keeps another
    assert _held(kb) == 2
    cfkb.engine._to_table(kb, kb.path / FILE, held.table, held.quads, [], b"", held.revision, held.generation,
                          held.upto)
    lookup.settle(kb, held.generation)
    assert _table_stamp(kb) == first != kb.generation()
    assert _held(kb) == 1 and _meta(kb)["table"] == first and _meta(kb)["generation"] == kb.generation()
    with open_index(kb) as index:  # the next reader hands the other on
        assert index.conflict_keys() == engine_keys(kb)
    assert _table_stamp(kb) == kb.generation()
    _copy_agrees_with_table(kb)
    kb.close()


def test_held_writes_beyond_the_limit_go_to_duckdb_with_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(lookup, "HOLD_LIMIT", 3)
    ds = generate(300, seed=14, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    open_index(kb).close()
    for n in range(3):
        kb.write(_new_list(n, n).quads())
    assert _held(kb) == 3 and _table_stamp(kb) != kb.generation()
    kb.write(_new_list(3, 3).quads())  # the fourth: DuckDB takes it and the three
    assert _held(kb) == 0 and _table_stamp(kb) == kb.generation() == _meta(kb)["generation"]
    assert open_index(kb).conflict_keys() == engine_keys(kb)
    _copy_agrees_with_table(kb)
    kb.close()


@pytest.mark.parametrize("how", ["garbled", "emptied", "another layout"])
def test_a_damaged_copy_is_made_again_and_never_read(tmp_path, how):
    ds = generate(300, seed=16, noise_share=0.5, busy=0.2)
    kb = _on_disk(tmp_path / "kb", ds.quads())
    open_index(kb).close()
    copy = kb.path / LOOKUP_FILE
    if how == "garbled":
        copy.write_bytes(b"not a database at all " * 500)
    elif how == "emptied":
        copy.write_bytes(b"")
    else:
        con = sqlite3.connect(copy)
        con.execute("UPDATE meta SET v = '0' WHERE k = 'schema'")
        con.commit()
        con.close()
    kb.write(_new_list(1, 0).quads())  # not kept: DuckDB's upkeep, which makes the copy again
    assert _table_stamp(kb) == kb.generation() and _held(kb) == 0
    kb.write(_new_list(2, 1).quads())  # kept
    assert _held(kb) == 1
    assert open_index(kb).conflict_keys() == engine_keys(kb)
    _copy_agrees_with_table(kb)
    kb.close()
