"""Keeping the claim table current after each write, in the write's own DuckDB transaction.

The store calls :func:`follow_write` (through :mod:`cfkb.engine`) after each
committed write to a base on disk; it re-reads the statements the write
touched, replaces their rows and moves the stamp, and only if the table was
current before the write. :mod:`cfkb.engine.remote` does the same for a base
on a server, with :func:`upkeep_connection`, :func:`written_facts` and
:func:`replace_rows` shared between the two.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyoxigraph as ox

from cfkb.engine import lookup
from cfkb.engine.facts import (
    FIELDS,
    INCLUDES,
    KIND_CLASSES,
    PIVOT,
    SEVERAL,
    SUBJECT,
    TYPE,
    Facts,
    load_facts,
    read_lines,
    small_tables,
    written_facts,
)
from cfkb.engine.table import SCHEMA, connect, is_regular, stamp, table_path
from cfkb.model.vocabulary import MARK_PREDICATES
from cfkb.store.backend import value_of
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase

__all__ = ["LOG_LIMIT", "SMALL_WRITE", "Also", "fold_long_log", "follow_write", "replace_rows", "upkeep_connection",
           "written_facts"]

#: How much of DuckDB's log (bytes) the table's upkeep leaves for the next opens to replay.
LOG_LIMIT = 64 << 10
#: DuckDB's own threshold on an upkeep connection: never reached, :func:`fold_long_log` decides
_NO_AUTO_FOLD = "1GB"
#: Quads in a write below which the table's upkeep runs on one thread.
SMALL_WRITE = 5000
#: DuckDB's memory for the upkeep of a write of more quads (see :func:`upkeep_connection`).
BIG_WRITE_MEMORY = "512MB"
#: Quads of a bulk batch read into the upkeep's temporary tables at a time.
BATCH_CHUNK = 100_000
#: The temporary table of a bulk batch's grades and markings: (subject, column, value).
BATCH_MARKS = "batch_marks"

#: mark predicate IRI -> the marks table's column
MARK_COLUMNS = {iri: iri.rsplit("#", 1)[1] for iri in MARK_PREDICATES}
#: ``also(con, before, generation, new, additive=..., regular=...)``: what else
#: :func:`follow_write` keeps current in its transaction (the marks); it may return
#: what is to run on ``con`` once that has committed (the conflict index's delta,
#: :func:`cfkb.engine.delta.follow`, in a transaction of its own)
Also = Callable[..., Callable[[duckdb.DuckDBPyConnection], None] | None]


def follow_write(kb: KnowledgeBase, before: str, add: list[ox.Quad], remove: list[ox.Quad],
                 nquads: Any = b"", also: Also | None = None, *, generation: str | None = None,
                 held_upto: int | None = None) -> None:
    """Apply a committed write to the claim table, if it was current before it.

    ``before`` is the base's generation before the write. The statements the
    write touched replace their rows: those the table held, or that lost
    quads, read again from the graph; new ones (a claim is written whole,
    with its ``rdf:subject``, by the write that makes it) from the write's
    own quads, which for a batch of 10k claims saves the 10k lookups. A
    write that touches an ``includes`` or a predicate kind redoes the small
    tables. ``also`` then brings what else lives in the file along (the
    conflict index), given the statements the write made and whether it only
    added. The new stamp goes in the same DuckDB transaction. Any failure
    leaves the old stamp, so the next open rebuilds.

    ``generation`` is the one the write made (by default the base's now:
    writes the key-lookup copy held are handed on for the generation the
    copy was at, however far the base has moved since); the copy then
    drops the held writes up to ``held_upto`` (:func:`cfkb.engine.lookup.follow_table`).
    """
    path = table_path(kb)
    if path is None or kb.path is None or not path.is_file():
        return
    generation = kb.generation() if generation is None else generation
    if generation == before:
        return
    con = open_current(path, before, small_write=not nquads and len(add) + len(remove) <= SMALL_WRITE)
    if con is None:
        return
    try:
        if nquads and not remove:  # a batch's lines, read only for a table that is kept
            if remade_cheaper(con, add, nquads):
                return  # the stamp stays old: the next read makes the table, the index and the marks again
            _follow_batch(con, kb, before, generation, add, nquads, also)
            lookup.follow_table(con, kb, before, generation, small=True, upto=held_upto)
            return
        with collector_paused():
            added: dict[str, list[ox.Quad]] = {}
            for q in add:
                if isinstance(q.subject, ox.NamedNode):
                    added.setdefault(q.subject.value, []).append(q)
            subjects = set(added) | {q.subject.value for q in remove if isinstance(q.subject, ox.NamedNode)}
            small = any(q.predicate == INCLUDES or (q.predicate == TYPE and value_of(q.object) in KIND_CLASSES)
                        for q in (*add, *remove))
            con.execute("BEGIN")
            con.execute("CREATE TEMP TABLE touched (iri VARCHAR)")
            if subjects:
                read_lines(con, "touched", subjects, str(path.parent))
            # statements the table holds, or that lose quads, are read again from the graph;
            # a new statement, written whole by this write, takes its fields from the write
            held = {r[0] for r in con.execute("SELECT iri FROM claims SEMI JOIN touched USING (iri)").fetchall()}
            reread = held | (subjects - set(added))
            reread |= {q.subject.value for q in remove if isinstance(q.subject, ox.NamedNode)}
            facts = written_facts(added, reread)
            load_facts(con, facts.of(kb.store, sorted(reread)), str(path.parent))
        replace_rows(con, before, generation, held=bool(held), small=small, facts=facts,
                     also=None if also is None else functools.partial(also, add=add), small_tables_from=kb.store)
        lookup.follow_table(con, kb, before, generation, small=small, upto=held_upto)
    except (duckdb.Error, OSError):
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
    finally:
        con.close()


def _follow_batch(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase, before: str, generation: str,
                  add: list[ox.Quad], nquads: Any, also: Also | None) -> None:
    """:func:`follow_write` for a bulk batch that only adds: ``add`` and the
    batch's N-Quads lines ``nquads`` are read :data:`BATCH_CHUNK` quads at a
    time into temporary tables (the statements they touch, their fields, their
    marks), so the upkeep's memory does not grow with the batch. As in
    :func:`follow_write`, a statement the table held, or that the batch does
    not make whole (no ``rdf:subject`` in it), is read again from the graph."""
    workdir = str(kb.path)
    con.execute("BEGIN")
    con.execute("CREATE TEMP TABLE touched (iri VARCHAR)")
    con.execute("CREATE TEMP TABLE batch_subjects (iri VARCHAR, whole BOOLEAN)")
    con.execute("CREATE TEMP TABLE batch_facts (iri VARCHAR, f VARCHAR, v VARCHAR)")
    con.execute(f"CREATE TEMP TABLE {BATCH_MARKS} (subject VARCHAR, c VARCHAR, v VARCHAR)")
    regular, small = True, False
    quads = itertools.chain(add, ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
    with collector_paused():
        while chunk := list(itertools.islice(quads, BATCH_CHUNK)):
            subjects: dict[str, bool] = {}
            marked: list[str] = []
            odd: list[tuple[str, str, str]] = []
            written = ox.Store()  # writes each literal as the graph holds it (see written_facts)
            for q in chunk:
                s, p = q.subject, q.predicate
                small = small or p == INCLUDES or (p == TYPE and value_of(q.object) in KIND_CLASSES)
                if not isinstance(s, ox.NamedNode):
                    continue
                whole = subjects.get(s.value, False) or p == SUBJECT
                subjects[s.value] = whole
                if p.value in FIELDS or p == TYPE:
                    written.add(ox.Quad(s, p, q.object))
                column = MARK_COLUMNS.get(p.value)
                if column is not None:
                    value = value_of(q.object)
                    if value and value.isprintable():
                        marked.append(f"{s.value}\t{column}\t{value}")
                    else:  # empty, or a tab or a line break, which the lines cannot hold
                        odd.append((s.value, column, value))
            del chunk
            facts = Facts()
            lines = facts.all(written)
            del written
            regular = regular and facts.regular
            # through files: DuckDB takes long lists as query parameters slowly
            read_lines(con, "batch_subjects", [f"{iri}\t{'true' if whole else 'false'}"
                                               for iri, whole in subjects.items()], workdir)
            read_lines(con, "batch_facts", lines, workdir)
            read_lines(con, BATCH_MARKS, marked, workdir)
            if odd:
                con.executemany(f"INSERT INTO {BATCH_MARKS} VALUES (?, ?, ?)", odd)
            del subjects, marked, odd, facts, lines
        con.execute("INSERT INTO touched SELECT DISTINCT iri FROM batch_subjects")
        held = con.execute("SELECT count(*) FROM claims SEMI JOIN touched USING (iri)").fetchone() != (0,)
        # held by the table, or not made whole by the batch: read again from the graph
        con.execute("""CREATE TEMP TABLE reread AS SELECT iri FROM batch_subjects GROUP BY iri
                       HAVING NOT bool_or(whole) OR iri IN (SELECT iri FROM claims)""")
        reread = sorted(r[0] for r in con.execute("SELECT iri FROM reread").fetchall())
        facts = Facts()
        facts.regular = regular
        con.execute("DELETE FROM facts")
        con.execute("INSERT INTO facts SELECT * FROM batch_facts ANTI JOIN reread USING (iri)")
        read_lines(con, "facts", facts.of(kb.store, reread), workdir)
        for name in ("batch_subjects", "batch_facts", "reread"):
            con.execute(f"DROP TABLE temp.{name}")
    replace_rows(con, before, generation, held=held, small=small, facts=facts,
                 also=None if also is None else functools.partial(also, add=add, marks_table=BATCH_MARKS),
                 small_tables_from=kb.store)


#: A bulk batch of more quads than this many times the table's rows is not followed:
#: the table, the index and the marks are made again from the graph by the next read.
#: The delta costs some 20-45 us of Python a quad of the batch, the making 5-8 us a
#: quad of the whole base (a 30k-claim CSV into a base holding its gazetteer: 13-18 s
#: of delta against 10 s; at 1M claims the delta took some 750 s and still left the
#: index stale; made within the importing process, next to what the import holds,
#: it passed 8 GB)
REMAKE_RATIO = 4
#: a batch's N-Quads lines are about this long on average (claim tables' quads)
_LINE_BYTES = 110


def remade_cheaper(con: duckdb.DuckDBPyConnection, add: list[ox.Quad], nquads: Any) -> bool:
    """Whether a bulk batch (``add`` and its N-Quads lines ``nquads``) is big
    enough against the claim table on ``con`` that making the table and the
    index again from the graph (as the next read does) costs less than following it."""
    quads = len(add) + len(nquads) // _LINE_BYTES
    rows = con.execute("SELECT count(*) FROM claims").fetchone()[0]  # type: ignore[index]
    return bool(quads > REMAKE_RATIO * int(rows))


def open_current(path: Path, before: str, *, small_write: bool) -> duckdb.DuckDBPyConnection | None:
    """A writing connection to the table file at ``path`` for a write's upkeep
    (see :func:`upkeep_connection`), if the table was current at ``before``; None
    where another process holds the file (the stamp stays old) or the table
    was stale already (the next open makes it again)."""
    con = upkeep_connection(path, small_write=small_write)
    if con is not None and stamp(con) != (SCHEMA, before):
        con.close()
        return None
    return con


def upkeep_connection(path: Path, *, small_write: bool) -> duckdb.DuckDBPyConnection | None:
    """A writing connection to the table file for a write's upkeep; None
    where another process holds the file."""
    try:
        con = connect(str(path))
    except duckdb.Error:
        return None
    try:
        # a write's few rows stay in DuckDB's log rather than being folded into the file
        # on close (a third of a one-claim write's upkeep); every open replays the log
        # (about 0.5 ms a kilobyte), so the write that takes it past LOG_LIMIT folds it in
        # (fold_long_log). DuckDB's own threshold is not used: it weighs a transaction by an
        # estimate (256 KB to 1 MB for one claim at 100k claims, whose log is 1 KB), so
        # every write folded the log in, a checkpoint of about 100 ms each.
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.execute(f"SET checkpoint_threshold = '{_NO_AUTO_FOLD}'")
        if not small_write:
            # a big batch reruns the rules over the whole table: DuckDB spills to disk
            # past this rather than taking 80% of the machine (0.7 GB more at 100k claims)
            con.execute(f"SET memory_limit = '{BIG_WRITE_MEMORY}'")
        if small_write:
            # a few claims' statements: DuckDB's threads cost more to start than they save
            # (a quarter of the upkeep's CPU for one claim at 100k claims)
            con.execute("SET threads = 1")
    except duckdb.Error:
        con.close()
        return None
    return con


def replace_rows(con: duckdb.DuckDBPyConnection, before: str, generation: str, *, held: bool, small: bool,
                 facts: Facts, also: Also | None, small_tables_from: Any) -> None:
    """End a write's upkeep, inside its transaction: the touched statements'
    rows (``held``: the table has some) replaced by the loaded facts, the
    small tables made again from ``small_tables_from`` where ``small`` (None:
    already done), ``also`` (the marks) brought along, the new stamp, and the
    commit; then what ``also`` left for after it (the conflict index). The touched
    statements stay in ``temp.touched`` for the key-lookup copy (:func:`cfkb.engine.lookup.follow_table`)."""
    several = con.execute(SEVERAL).fetchone()[0]  # type: ignore[index]
    if held:  # otherwise the table has no row of a touched statement: each is a scan of it
        con.execute("DELETE FROM claims WHERE iri IN (SELECT iri FROM touched)")
    con.execute(PIVOT)
    # the statements that have a row now: those the pivot made (the facts are the touched statements')
    new = {r[0] for r in con.execute("SELECT DISTINCT iri FROM facts WHERE f IN ('s', 'claim')").fetchall()}
    con.execute("DELETE FROM facts")
    if small and small_tables_from is not None:
        small_tables(con, small_tables_from)
    if not facts.regular or several:
        con.execute("UPDATE meta SET v = '0' WHERE k = 'regular'")
    # a write that changed no statement the table held only adds: the index takes a delta
    after = None if also is None else also(con, before, generation, new, additive=not held and not small,
                                           regular=facts.regular and not several and is_regular(con))
    con.execute("UPDATE meta SET v = ? WHERE k = 'generation'", [generation])
    con.execute("COMMIT")
    if after is not None:
        after(con)
    fold_long_log(con)


def fold_long_log(con: duckdb.DuckDBPyConnection) -> None:
    """Fold DuckDB's log into the table's file once it is longer than
    :data:`LOG_LIMIT` (outside a transaction, after a write's upkeep)."""
    found = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    log = Path(f"{found[0]}.wal") if found and found[0] else None
    if log is not None and log.is_file() and log.stat().st_size > LOG_LIMIT:
        con.execute("CHECKPOINT")
