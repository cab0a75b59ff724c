"""Claim tables import in chunks: the same store as a whole-file import, every problem of every chunk
reported, and nothing written when any chunk has one (issue 21)."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
from pathlib import Path

import pytest

from cfkb.errors import InputError
from cfkb.io import chunkwork, importstream
from cfkb.io.importer import InputFile, import_files, import_into
from cfkb.store.core import KnowledgeBase
from cfkb.store.location import MARKER
from cfkb.store.spool import SPOOL
from conftest import invoke
from storestate import store_state

SOURCE = "cfid:winep-cf-four-way-split-part-1"
HEADER = "subject,predicate,object,source,date,tlp\n"
DAY0 = dt.date(1900, 1, 1)
#: a row the shapes refuse (an election's place holds a list): column 19 is the object
BAD_SHAPE = "KH,participatesIn,Tahalof Nabni,al-Iraqiya TV,2023-08-22,GREEN\n"
#: a row whose predicate is unknown: column 4
BAD_NAME = "KH,partof,Hoquq,al-Iraqiya TV,2023-08-22,GREEN\n"
CHUNK = 50


def _row(i: int) -> str:
    return f"Fadhila,memberOf,State of Law,{SOURCE},{(DAY0 + dt.timedelta(days=i)).isoformat()},GREEN\n"


def _table(path: Path, rows: int, bad: dict[int, str] | None = None) -> Path:
    """``rows`` claims that differ by date; ``bad`` replaces rows (numbered from 0) with others."""
    lines = [(bad or {}).get(i, _row(i)) for i in range(rows)]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def _data(store: Path) -> list[str]:
    """The store's quads but the generation stamp (new on every write)."""
    return [q for q in store_state(store).data if "cfkb/ns#generation>" not in q]


@pytest.fixture(params=["in-process", "beside"])
def small_chunks(request, monkeypatch):
    """Chunks of :data:`CHUNK` rows, each checked in the importing process or by a second one."""
    monkeypatch.setattr(importstream, "CHUNK_ROWS", CHUNK)
    monkeypatch.setattr(importstream, "PARALLEL_ROWS", 2 * CHUNK if request.param == "beside" else 10**9)
    return request.param


def test_a_problem_in_the_last_chunk_leaves_the_store_as_it_was(runner, store_path, tmp_path, small_chunks):
    path = _table(tmp_path / "last.csv", 10 * CHUNK, {10 * CHUNK - 1: BAD_SHAPE})
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: {path}:{10 * CHUNK + 1}:19: "), result.stderr
    assert store_state(store_path) == before
    assert not (store_path / SPOOL).exists()


def test_problems_in_several_chunks_are_all_reported(runner, store_path, tmp_path, small_chunks):
    bad = {3: BAD_NAME, 2 * CHUNK + 7: BAD_SHAPE, 5 * CHUNK + 1: BAD_NAME,
           8 * CHUNK - 1: BAD_SHAPE.replace("08-22", "08-23")}
    path = _table(tmp_path / "many.csv", 8 * CHUNK, bad)
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", "--verbose", str(path))
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    expected = [f"{path}:{i + 2}:{4 if 'partof' in row else 19}: " for i, row in sorted(bad.items())]
    assert [line.split(" ", 2)[2][: len(e)] for line, e in zip(lines, expected, strict=False)] == expected, lines
    assert len(lines) == len(bad) + 1
    assert lines[-1].startswith(f"Error: {expected[0]}") and f"(and {len(bad) - 1} more problem(s))" in lines[-1]
    assert store_state(store_path) == before
    assert not (store_path / SPOOL).exists()


@pytest.mark.parametrize("rows", [30, 2500], ids=["transaction", "journal"])
def test_a_streamed_import_stores_what_a_whole_file_import_stores(seed_template, tmp_path, small_chunks, rows):
    data = _table(tmp_path / "t.csv", rows, {7: _row(3), rows - 1: _row(11)}).read_bytes()  # two repeats
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    streamed, whole = tmp_path / "streamed.store", tmp_path / "whole.store"
    shutil.copytree(seed_template, streamed)
    shutil.copytree(seed_template, whole)
    a = import_into(streamed, [InputFile("t.csv", data)], analyst="tester", when=when)
    with KnowledgeBase.open(whole, write=True) as kb:
        b = import_files(kb, [InputFile("t.csv", data)], analyst="tester", when=when)
    assert (a.batch, a.claims_added, a.claims_present) == (b.batch, b.claims_added, b.claims_present)
    assert len(a.claims_added) == rows - 2 and len(a.claims_present) == 2
    assert _data(streamed) == _data(whole)
    assert sorted(p.name for p in streamed.iterdir()) == sorted(p.name for p in whole.iterdir())


def test_claims_the_base_holds_are_counted_not_written_again(store_path, tmp_path, small_chunks):
    data = _table(tmp_path / "t.csv", 3 * CHUNK).read_bytes()
    first = import_into(store_path, [InputFile("t.csv", data[: data.index(_row(CHUNK).encode())])],
                        analyst="tester")
    assert len(first.claims_added) == CHUNK
    again = import_into(store_path, [InputFile("t.csv", data)], analyst="tester")
    assert len(again.claims_added) == 2 * CHUNK and len(again.claims_present) == CHUNK


def test_a_killed_imports_spool_goes_with_the_next_write_open_unless_an_import_runs(store_path):
    spool = store_path / SPOOL
    spool.write_bytes(b"<urn:x:a> <urn:x:b> <urn:x:c> .\n")
    fd = os.open(store_path / MARKER, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # an import holds the store
        KnowledgeBase.open(store_path, write=True).close()
        assert spool.exists()
    finally:
        os.close(fd)
    KnowledgeBase.open(store_path, write=True).close()
    assert not spool.exists()


def _checks_here(monkeypatch) -> list[int]:
    """Counts the chunks this process checks itself."""
    here: list[int] = []
    real = chunkwork._check

    def counted(records, ontology, types):
        here.append(len(records))
        return real(records, ontology, types)

    monkeypatch.setattr(chunkwork, "_check", counted)
    return here


def test_a_second_process_checks_the_chunks_and_finds_what_this_one_finds(store_path, tmp_path, monkeypatch):
    monkeypatch.setattr(importstream, "CHUNK_ROWS", CHUNK)
    bad = {3: BAD_SHAPE, 2 * CHUNK + 7: BAD_SHAPE.replace("08-22", "08-23"), 6 * CHUNK - 1: BAD_NAME}
    data = _table(tmp_path / "t.csv", 6 * CHUNK, bad).read_bytes()
    here = _checks_here(monkeypatch)
    found = {}
    for where, rows in (("here", 10**9), ("beside", 0)):
        monkeypatch.setattr(importstream, "PARALLEL_ROWS", rows)
        with KnowledgeBase.open(store_path) as kb, pytest.raises(InputError) as raised:
            importstream.plan_stream(kb, [InputFile("t.csv", data)], analyst="tester")
        found[where] = (str(raised.value), getattr(raised.value, "details", None))
        assert not (store_path / SPOOL).exists()
        if where == "here":
            assert len(here) == 6
            here.clear()
    assert here == []  # every chunk was checked by the worker
    assert found["beside"] == found["here"]
    details = found["here"][1]
    assert [d.split(" ", 1)[0] for d in details] == [f"t.csv:{i + 2}:{4 if 'partof' in row else 19}:"
                                                    for i, row in sorted(bad.items())], details


def test_a_second_process_that_fails_leaves_its_chunks_to_the_import(seed_template, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(importstream, "CHUNK_ROWS", CHUNK)
    monkeypatch.setattr(importstream, "PARALLEL_ROWS", 0)
    # a worker that reads its first message and ends
    monkeypatch.setattr(chunkwork, "COMMAND", (
        "-c", "import sys; from multiprocessing.connection import Connection; Connection(int(sys.argv[2])).recv()"))
    here = _checks_here(monkeypatch)
    data = _table(tmp_path / "t.csv", 4 * CHUNK, {CHUNK + 2: BAD_SHAPE}).read_bytes()
    store = tmp_path / "kb.store"
    shutil.copytree(seed_template, store)
    with pytest.raises(InputError) as raised:
        import_into(store, [InputFile("t.csv", data)], analyst="tester")
    assert raised.value.line == CHUNK + 4 and raised.value.column == 19, raised.value
    assert len(here) == 4  # this process checked every chunk itself
    assert "second process failed" in caplog.text
    good = _table(tmp_path / "good.csv", 4 * CHUNK).read_bytes()
    assert len(import_into(store, [InputFile("good.csv", good)], analyst="tester").claims_added) == 4 * CHUNK


def test_a_chunk_that_cannot_go_to_the_second_process_is_checked_here(seed_template, tmp_path, monkeypatch, caplog):
    import pickle
    import threading
    from multiprocessing.connection import Connection

    monkeypatch.setattr(importstream, "CHUNK_ROWS", CHUNK)
    monkeypatch.setattr(importstream, "PARALLEL_ROWS", 0)
    real = Connection.send

    def send(self, message):
        if len(message) == 1:  # a chunk (the first message, which starts the worker, goes)
            raise pickle.PicklingError("cannot pickle this chunk")
        return real(self, message)

    monkeypatch.setattr(Connection, "send", send)
    here = _checks_here(monkeypatch)
    data = _table(tmp_path / "t.csv", 3 * CHUNK, {2 * CHUNK + 1: BAD_SHAPE}).read_bytes()
    store = tmp_path / "kb.store"
    shutil.copytree(seed_template, store)
    raised: list[BaseException] = []

    def run():
        try:
            import_into(store, [InputFile("t.csv", data)], analyst="tester")
        except BaseException as exc:  # noqa: BLE001 - looked at below
            raised.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(120)
    assert not runner.is_alive(), "the import waited for an outcome that could not come"
    assert len(raised) == 1 and isinstance(raised[0], InputError), raised
    assert raised[0].line == 2 * CHUNK + 3 and raised[0].column == 19
    assert len(here) == 3
    assert "could not go to the import's second process" in caplog.text
