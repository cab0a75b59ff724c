"""The claim table: one row per reified statement, in DuckDB, beside the graph.

This module holds the table's schema, its stamp, and its opening: read when
current, made again from the graph when not. The rows are read out of the
graph by :mod:`cfkb.engine.facts`; each write keeps them current through
:mod:`cfkb.engine.upkeep`.

``claims.duckdb`` in the store directory (next to ``oxigraph/``) holds:

``claims``
    one row per claim or gazetteer background statement: its IRI, whether it
    is a ``cfkb:Claim``, subject, predicate, object, negated, speaker
    (``prov:wasAttributedTo``), outlet, cited document, date, area, election,
    modality (and whether it is ``cfkb:NoIndication``), when it was recorded
    and by which import batch. Rank, grading and TLP are left out: they change
    in writes that keep the base's generation (assessments), so the stamp
    could not vouch for them.
``kinds``
    the claim predicates the rules single out (``cfkb:FunctionalPerContext``,
    ``cfkb:ParticipationImplying``, ``cfkb:ParticipationPropagating``);
``area_overlap``
    every pair of areas that overlap through ``cfkb:includes+`` (one includes
    the other, or both include a third);
``meta``
    the schema version and the base's :meth:`~cfkb.store.core.KnowledgeBase.generation`
    the table was made from.

The stamp proves agreement: a table whose generation is not the base's
(a writer killed between the graph's commit and the table's, a copied store,
a table edited by hand or written by another version) is rebuilt from the
graph before it answers, never read. Every write keeps it current: the store
calls :func:`cfkb.engine.upkeep.follow_write` after each committed write,
which re-reads the statements the write touched and moves the stamp in one
DuckDB transaction, and only if the table was current before the write.

A table is regular when every statement has at most one value of each field
the rules read, and those values are IRIs (or a canonical ``xsd:boolean`` and
``xsd:date``), as the claim shapes require of imported claims. The SQL rules
are exact on a regular table only; on another one the engine keeps to the
compiled SPARQL (:func:`ClaimTable.regular`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
from pathlib import Path

import duckdb

from cfkb.engine.common import BEFORE_READ, FILE, INDEX_TABLES, LOOKUP_FILE, on_progress, tell
from cfkb.engine.facts import FIELDS, PIVOT, SEVERAL, Facts, read_tsv, small_tables
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase

__all__ = ["FILE", "ClaimTable", "build", "connect", "on_progress", "open_table", "stamp", "table_path"]
log = logging.getLogger("cfkb.engine")

# DuckDB tries to import pandas for each statement it is given parameters for (one
# could be a data frame). Where pandas is not installed, every try searches the whole
# import path again: some 70 tries, 60 ms, for one page of conflicts. Python's own
# marker for a module that cannot be imported (None in sys.modules) makes each try
# fail at once, as it would anyway.
if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
    sys.modules["pandas"] = None  # type: ignore[assignment]

#: the version of the tables' layout: a file of another is made again
SCHEMA = "5"

#: A log longer than this (bytes) is folded in by the next open that can write the file.
LONG_LOG = 1024 * 1024

#: the claim table's tables, and the conflict index's beside them
CREATE = """
CREATE TABLE facts (iri VARCHAR, f VARCHAR, v VARCHAR);
CREATE TABLE claims (
    iri VARCHAR, is_claim BOOLEAN, s VARCHAR, p VARCHAR, o VARCHAR, neg BOOLEAN,
    who VARCHAR, outlet VARCHAR, cited VARCHAR, date VARCHAR, area VARCHAR, election VARCHAR,
    modality VARCHAR, noind BOOLEAN, recorded VARCHAR, batch VARCHAR);
CREATE TABLE kinds (p VARCHAR, kind VARCHAR);
CREATE TABLE area_overlap (a VARCHAR, b VARCHAR);
CREATE TABLE meta (k VARCHAR PRIMARY KEY, v VARCHAR);
""" + INDEX_TABLES


def _fill(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase, generation: str, workdir: str | None) -> None:
    """Fill a new table's tables from the graph and stamp it (inside the caller's transaction)."""
    facts = Facts()
    fd, tmp = tempfile.mkstemp(prefix=".cfkb-facts-", suffix=".tsv", dir=workdir)
    try:
        with collector_paused(), os.fdopen(fd, "w", encoding="utf-8", newline="") as sink:
            facts.all(kb.store, sink)
        if os.path.getsize(tmp):
            read_tsv(con, "facts", tmp)
    finally:
        os.unlink(tmp)
    several = con.execute(SEVERAL).fetchone()[0]  # type: ignore[index]
    con.execute(PIVOT)
    con.execute("DELETE FROM facts")
    small_tables(con, kb.store)
    regular = facts.regular and not several
    tell(len(FIELDS) + 1, len(FIELDS) + 1)
    con.executemany("INSERT INTO meta VALUES (?, ?)",
                    [("schema", SCHEMA), ("generation", generation), ("regular", "1" if regular else "0")])


def connect(where: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to a table file (or ":memory:"), drawing nothing on the terminal."""
    con = duckdb.connect(where, read_only=read_only)
    con.execute("SET enable_progress_bar = false")
    return con


def is_regular(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the table's stamp says it is regular (the module's docs)."""
    row = con.execute("SELECT v FROM meta WHERE k = 'regular'").fetchone()
    return bool(row and row[0] == "1")


class ClaimTable:
    """An open claim table (a DuckDB connection), current for the base it was opened on."""

    def __init__(self, con: duckdb.DuckDBPyConnection, generation: str, where: str) -> None:
        self.con = con
        self.generation = generation
        #: the file, or ":memory:"
        self.where = where

    @property
    def regular(self) -> bool:
        return is_regular(self.con)

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM claims WHERE is_claim").fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> ClaimTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stamp(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """(schema, generation) of a table file; (None, None) for a damaged one."""
    try:
        meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
        if meta.get("schema") != SCHEMA:
            return meta.get("schema") or None, meta.get("generation")
        # a table missing here is a damaged file
        con.execute("SELECT 1 FROM claims, kinds, area_overlap, conflicts, conflict_rows, conflict_entities,"
                    " conflict_tags LIMIT 0").fetchall()
    except duckdb.Error:
        return None, None
    return meta.get("schema"), meta.get("generation")


#: What DuckDB may hold while it makes the table from the graph; past it, it spills to a
#: folder beside the table's file. Its default (most of the machine's memory) let the
#: pivot of a million claims' fields take 1.9 GB; with this the whole build peaks at about 1 GB.
BUILD_MEMORY = "600MB"


def build(kb: KnowledgeBase, target: str | Path = ":memory:") -> ClaimTable:
    """A claim table made from the graph, at ``target`` (a new file, or memory)."""
    generation = kb.generation()
    con = connect(str(target))
    try:
        con.execute(CREATE)
        if str(target) != ":memory:":  # spilled beside the table's file (a base in memory has none)
            con.execute(f"SET memory_limit = '{BUILD_MEMORY}'")
        con.execute("BEGIN")
        # the facts' file goes beside the table (or the store), not to a shared temporary folder
        workdir = os.path.dirname(str(target)) if str(target) != ":memory:" else \
            (str(kb.path) if kb.path is not None else None)
        _fill(con, kb, generation, workdir)
        con.execute("COMMIT")
        con.execute("RESET memory_limit")
    except BaseException:
        con.close()
        raise
    return ClaimTable(con, generation, str(target))


def table_path(kb: KnowledgeBase) -> Path | None:
    """Where the base's claim table lives: the store directory, or for a
    remote base a cache directory keyed by its URL."""
    if kb.path is not None:
        return kb.path / FILE
    if kb.on_server:
        from cfkb.store.usercache import cache_dir

        key = hashlib.sha256(kb.location.encode("utf-8")).hexdigest()[:24]
        return cache_dir() / "tables" / key / FILE
    return None


def _fold_long_log(path: Path) -> None:
    """Fold a long DuckDB log into the table's file, which a read-only open
    cannot do: a log left longer than the upkeep leaves it (a killed writer,
    an older cfkb) would otherwise be replayed by every open. Best effort:
    a file another process holds stays as it is."""
    log_file = Path(f"{path}.wal")
    try:
        if log_file.stat().st_size <= LONG_LOG:
            return
    except OSError:
        return
    with contextlib.suppress(duckdb.Error, OSError):
        con = connect(str(path))
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()


def open_table(kb: KnowledgeBase) -> ClaimTable:
    """The base's claim table, current for ``kb`` as it is now.

    The stored file is read when its stamp is the base's generation;
    otherwise (missing, stale, damaged, of another schema) it is rebuilt from
    the graph and stored again. Where it cannot be stored (a read-only
    directory, another process holding it), the table is built in memory.
    An in-memory base gets an in-memory table.
    """
    path = table_path(kb)
    if path is None:
        return build(kb)
    if path.is_file():
        for hook in BEFORE_READ:  # the small writes the key-lookup copy holds, into the table first
            hook(kb)
    generation = kb.generation()
    if path.is_file():
        _fold_long_log(path)
        try:
            con = connect(str(path), read_only=True)
        except duckdb.Error:
            con = None
        if con is not None:
            schema, stamped = stamp(con)
            if (schema, stamped) == (SCHEMA, generation):
                return ClaimTable(con, generation, str(path))
            con.close()
            if schema is None:
                log.warning("claim table %s is damaged: made again from the graph", path)
            elif schema != SCHEMA:
                log.warning("claim table %s was made by another version of cfkb: made again from the graph", path)
            else:
                _behind(kb, stamped)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".claims-", suffix=".duckdb", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)  # DuckDB makes the file itself
        try:
            made = build(kb, tmp)
            try:
                if kb.path is not None:  # its key-lookup copy with it
                    from cfkb.engine.lookup import make

                    make(made.con, kb.path / LOOKUP_FILE, generation)
            finally:
                made.close()
            if _moved_meanwhile(kb, generation):
                raise OSError("the base moved on while its table was made")
            # a log left by a killed writer belongs to the old file: never replay it onto the new one
            if os.path.exists(f"{path}.wal"):
                os.unlink(f"{path}.wal")
            os.replace(tmp, path)
        finally:
            for leftover in (tmp, tmp + ".wal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
        con = connect(str(path), read_only=True)
        if stamp(con) == (SCHEMA, generation):
            return ClaimTable(con, generation, str(path))
        con.close()  # another writer moved it on meanwhile
    except (OSError, duckdb.Error):
        pass
    return build(kb)


def _moved_meanwhile(kb: KnowledgeBase, generation: str) -> bool:
    """Whether another client wrote to a remote base while its table was read
    from it (in several requests): such a table may mix two states, and is
    not stored under either's stamp."""
    return kb.path is None and kb.generation() != generation


def _behind(kb: KnowledgeBase, stamped: str | None) -> None:
    """Say why a remote base's table is made again: its server moved on without it."""
    if kb.path is None and stamped:
        log.warning("the claim table of %s is behind the server (another client wrote, or an upkeep was"
                    " cut short): made again from the graph", kb.location)
