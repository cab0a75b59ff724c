"""The claim table's key-lookup copy in SQLite, and the small writes it holds back from DuckDB.

DuckDB reads a column whole: opening its file and each statement cost some
milliseconds whatever the rows, and keeping the claim table and the conflict
index current for one new claim about a busy group took 180-230 ms at 100k
claims. ``claims.sqlite``, beside ``claims.duckdb`` in the store directory,
holds:

``claims`` (B-trees on IRI, subject and object), ``kinds``, ``area_overlap``
    a copy of the claim table's tables, current for the base generation in
    ``meta``;
``held``
    writes whose upkeep DuckDB has not had yet: their quads as N-Quads, the
    marks revision they were made under, and the rows of the conflicts their
    statements are in (JSON);
``meta``
    the layout's version (``schema``), the generation the copy is current for
    (``generation``), the claim table's generation the held writes follow on
    from (``table``: the copy's own when none is held, ``stale`` when it is
    not known), whether the table is regular, and the rule files' digest.

A small write that only adds whole new statements (:func:`keep`) does not
open DuckDB: its rows go into the copy, the conflicts that involve them are
found by the rules' SQL forms over the statements near them (the same text
DuckDB runs, :mod:`cfkb.engine.forms`), and its quads are held with those
conflicts' rows. The next reader of the table hands the held writes to
DuckDB's upkeep as one write, which files the rows found rather than run
the rules again; the next write that goes to DuckDB takes them along with
its own (:func:`take_held`). That upkeep brings the copy along (:func:`follow_table`).

The stamps decide, as the table's own does: a copy that is not at the
generation a write starts from takes no write, and its held writes are
dropped (the claim table, behind the base, is made again from the graph by
its next reader); a copy that is stale is made again from the claim table
by the next small write that goes to DuckDB.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from cfkb.engine.common import LOOKUP_FILE, file_found
from cfkb.engine.facts import COLUMNS, FIELDS, INCLUDES, KIND_CLASSES, TYPE, Facts, rows, written_facts
from cfkb.engine.forms import exception_predicates, for_delta, load_forms, rules_digest
from cfkb.model.vocabulary import BACKGROUND_PREFIX, content_hash
from cfkb.store.backend import value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.generations import MARKS_REVISION

__all__ = ["FILE", "HOLD_LIMIT", "Held", "build", "conflicts_of", "follow_table", "keep", "make",
           "settle", "take_held"]

#: the copy's file in the store directory, beside the claim table's
FILE = LOOKUP_FILE
#: the version of the copy's layout: a file of another is made again
SCHEMA = "2"
#: the stamp of a copy, or of the table its held writes follow on from, that is not known to be current
STALE = "stale"
#: a write of more new statements than this goes to DuckDB (a batch is cheaper there)
WRITE_LIMIT = 50
#: a write's quads above which it goes to DuckDB
QUAD_LIMIT = 2_000
#: held writes beyond which the next write goes to DuckDB, taking them along
HOLD_LIMIT = 100
#: how long a writer waits for another process's hold on the file (seconds)
_WAIT = 5.0
#: bytes of the file read through memory mapping, rather than one read call a page
_MAP = 1 << 30

_CREATE = f"""
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS held (seq INTEGER PRIMARY KEY, revision TEXT, nquads BLOB, found TEXT);
DROP TABLE IF EXISTS claims;
DROP TABLE IF EXISTS kinds;
DROP TABLE IF EXISTS area_overlap;
CREATE TABLE claims ({", ".join(COLUMNS)});
CREATE TABLE kinds (p, kind);
CREATE TABLE area_overlap (a, b);
"""
_INDEXES = """
CREATE UNIQUE INDEX claims_iri ON claims (iri);
CREATE INDEX claims_s ON claims (s, o);
CREATE INDEX claims_o ON claims (o, s);
CREATE INDEX kinds_p ON kinds (p, kind);
CREATE INDEX area_overlap_a ON area_overlap (a, b);
"""
_INSERT = f"INSERT INTO claims VALUES ({', '.join('?' * len(COLUMNS))})"

# the statements a rule can join to the wanted ones (cfkb.engine.rules.neighbourhood, whose
# reasons hold here): temporary tables, which the rules' "claims" reads before the stored one
_NEAR = (
    "CREATE TEMP TABLE wanted (iri TEXT PRIMARY KEY)",
    """CREATE TEMP TABLE n1 AS
        SELECT s AS e FROM main.claims WHERE iri IN (SELECT iri FROM temp.wanted) AND s IS NOT NULL
        UNION SELECT o FROM main.claims WHERE iri IN (SELECT iri FROM temp.wanted) AND o IS NOT NULL""",
    """CREATE TEMP TABLE n2 AS
        SELECT e FROM temp.n1
        UNION SELECT o FROM main.claims WHERE s IN (SELECT e FROM temp.n1) AND o IS NOT NULL
        UNION SELECT s FROM main.claims WHERE o IN (SELECT e FROM temp.n1) AND s IS NOT NULL""",
    """CREATE TEMP TABLE claims AS
        SELECT * FROM main.claims WHERE s IN (SELECT e FROM temp.n2) OR o IN (SELECT e FROM temp.n1)""",
)
_NEAR_TABLES = ("claims", "n2", "n1", "wanted")


@dataclass(frozen=True)
class Held:
    """Writes the copy holds back from DuckDB: the table's generation they
    follow on from, their quads in order, and the marks revision they were made under."""

    table: str
    quads: list[ox.Quad]
    revision: str
    #: the generation the copy was at with them, and the last of them
    generation: str
    upto: int
    #: the rules' rows of every conflict they are in, as (rule, this, value, contests, wing)
    found: list[tuple[Any, ...]]


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=_WAIT, isolation_level=None)
    con.execute("PRAGMA synchronous = NORMAL")  # the graph's journal is the commit point, not this file
    con.execute("PRAGMA temp_store = MEMORY")  # the rows near a claim, which the rules read
    con.execute(f"PRAGMA mmap_size = {_MAP}")
    return con


def _meta(con: sqlite3.Connection) -> dict[str, str]:
    try:
        return dict(con.execute("SELECT k, v FROM meta").fetchall())
    except sqlite3.Error:
        return {}


def _set(con: sqlite3.Connection, **values: str) -> None:
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))


def _is_current(meta: dict[str, str], generation: str, digest: str) -> bool:
    """Whether a copy's stamps say it is current at ``generation`` for the rule files of ``digest``."""
    return meta.get("schema") == SCHEMA and meta.get("generation") == generation and meta.get("regular") == "1" \
        and meta.get("table", STALE) != STALE and meta.get("rules") == digest


# -- a small write, kept here --------------------------------------------------

def keep(kb: KnowledgeBase, before: str, add: list[ox.Quad], remove: list[ox.Quad], nquads: Any) -> bool:
    """Keep a committed write in the copy, without DuckDB, if it can be;
    whether it was (if not, the write goes to DuckDB's upkeep).

    It can where it only adds statements made whole by the write (each with
    its ``rdf:subject``; a subject it names without one gets no row), new to
    the table, no more than :data:`WRITE_LIMIT` of them; where each field
    the rules read has one regular value; where it touches neither the areas
    nor the predicate kinds nor the marks revision; where no new statement's
    predicate is one an exception of the rules reads (such a statement may
    undo a conflict found before); and where the copy is current at
    ``before``, for the rule files as they are, holding fewer than
    :data:`HOLD_LIMIT` writes.
    """
    if kb.path is None or nquads or remove or not add or len(add) > QUAD_LIMIT:
        return False
    path = kb.path / FILE
    if not path.is_file():
        return False
    added: dict[str, list[ox.Quad]] = {}
    for q in add:
        p = q.predicate
        if p in (MARKS_REVISION, INCLUDES) or (p == TYPE and value_of(q.object) in KIND_CLASSES):
            return False
        if isinstance(q.subject, ox.NamedNode):
            added.setdefault(q.subject.value, []).append(q)
    loose: set[str] = set()
    facts = written_facts(added, loose)
    new, regular = rows(facts.lines)
    if not new or len(new) > WRITE_LIMIT or not facts.regular or not regular:
        return False
    if loose:  # a subject named without its rdf:subject: no row, and no field of a statement either
        others = Facts()
        for iri in loose:
            for q in added[iri]:
                if q.predicate.value in FIELDS or q.predicate == TYPE:
                    others.add(q.subject, q.predicate.value, q.object)
        if not others.regular or rows(others.lines)[0]:
            return False
    digest = rules_digest()
    undoing = _undoing(digest)
    if undoing is None or any(r[3] in undoing for r in new):
        return False
    generation = kb.generation()
    try:
        con = _connect(path)
    except sqlite3.Error:
        return False
    try:
        con.execute("BEGIN IMMEDIATE")
        meta = _meta(con)
        touched = sorted(added)
        if not _is_current(meta, before, digest) \
                or con.execute("SELECT count(*) FROM held").fetchone()[0] >= HOLD_LIMIT \
                or con.execute(f"SELECT 1 FROM claims WHERE iri IN ({', '.join('?' * len(touched))}) LIMIT 1",
                               touched).fetchone() is not None:
            con.execute("ROLLBACK")
            return False
        con.executemany(_INSERT, new)
        claims = [r[0] for r in new]
        found = conflicts_of(con, claims)
        con.execute("INSERT INTO held (revision, nquads, found) VALUES (?, ?, ?)",
                    [kb.marks_revision(), ox.serialize(add, format=ox.RdfFormat.N_QUADS),
                     json.dumps(sorted(found, key=str), ensure_ascii=False)])
        _set(con, generation=generation)
        con.execute("COMMIT")
    except sqlite3.Error:
        if con.in_transaction:
            con.execute("ROLLBACK")
        return False
    finally:
        con.close()
    file_found(generation, _filed(found, claims))
    return True


@lru_cache(maxsize=2)
def _undoing(digest: str) -> frozenset[str] | None:
    """The predicates the rules' exceptions read, for the rule files of ``digest``."""
    return exception_predicates(sql for _, sql in load_forms().values())


def conflicts_of(con: sqlite3.Connection, claims: Sequence[str]) -> set[tuple[str, str, str, str | None, str | None]]:
    """Every rule's rows of every conflict that involves one of ``claims``
    (in any role), as (rule, this, value, contests, wing): each rule's SQL
    form run over the statements near them in the copy on ``con``."""
    found: set[tuple[str, str, str, str | None, str | None]] = set()
    with _near(con, claims):
        for rule, form in load_forms().items():
            found.update(_run(con, rule, form))
    return found


@contextmanager
def _near(con: sqlite3.Connection, claims: Sequence[str]) -> Iterator[None]:
    """While open, the rules' ``claims`` on ``con`` reads only the statements near ``claims``."""
    try:
        con.execute(_NEAR[0])
        con.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", [(c,) for c in claims])
        for statement in _NEAR[1:]:
            con.execute(statement)
        yield
    finally:
        for name in _NEAR_TABLES:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _run(con: sqlite3.Connection, rule: str, form: tuple[Path, str]) -> list[tuple[str, str, str, Any, Any]]:
    """A rule's rows that involve a wanted statement, on a connection :func:`_near` has readied."""
    cur = con.execute(_involving(form[1]))
    names = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        row = dict(zip(names, values, strict=True))
        out.append((rule, row["this"], row["value"], row.get("contests"), row.get("wing")))
    return out


@lru_cache(maxsize=32)
def _involving(sql: str) -> str:
    """A rule's statement kept to the rows of conflicts that involve a wanted statement in any role
    (as :func:`cfkb.engine.delta.follow` keeps them), its ``-- delta:`` lines read
    (:func:`cfkb.engine.forms.for_delta`)."""
    sql = for_delta(sql)
    roles = ["this", "value", *(c for c in ("contests", "wing") if c in sql)]
    hit = " OR ".join(f"{c} IN (SELECT iri FROM temp.wanted)" for c in roles)
    return f"""WITH found AS MATERIALIZED (SELECT * FROM ({sql})),
        hit AS (SELECT DISTINCT this, value FROM found WHERE {hit})
        SELECT found.* FROM found WHERE (this, value) IN (SELECT this, value FROM hit)"""


def _filed(found: Iterable[tuple[str, str, str, str | None, str | None]],
           claims: Sequence[str]) -> dict[str, set[str]]:
    """claim -> the IDs of the conflicts it is a member of (as the index files them)."""
    wanted = set(claims)
    out: dict[str, set[str]] = {}
    for rule, this, value, *more in found:
        conflict = content_hash(rule, *sorted((this, value)))[:16]  # cfkb.engine.shapes.conflict_id, not loaded here
        for claim in (this, value, *more):
            if claim in wanted and not claim.startswith(BACKGROUND_PREFIX):
                out.setdefault(claim, set()).add(conflict)
    return out


# -- handing held writes to DuckDB -------------------------------------------------

def take_held(kb: KnowledgeBase, at: str) -> Held | None:
    """The writes the copy holds, for DuckDB's upkeep, if the copy is at
    generation ``at`` (the base's, or the one a new write starts from);
    None where it holds none. Held writes of a copy at another generation
    can no longer be applied: they are dropped, and the copy marked stale."""
    path = None if kb.path is None else kb.path / FILE
    if path is None or not path.is_file():
        return None
    try:
        con = _connect(path)
    except sqlite3.Error:
        return None
    try:
        con.execute("BEGIN")  # the held writes and the stamps as one reading
        held = con.execute("SELECT seq, revision, nquads, found FROM held ORDER BY seq").fetchall()
        meta = _meta(con)
        con.execute("COMMIT")
        if not held:
            return None
        if meta.get("generation") != at or meta.get("table", STALE) == STALE:
            _forget(con)
            return None
        quads = [q for _, _, text, _ in held for q in ox.parse(text, format=ox.RdfFormat.N_QUADS)]
        found = {tuple(row) for _, _, _, rows in held for row in json.loads(rows)}
        return Held(meta["table"], quads, held[-1][1], at, held[-1][0], sorted(found, key=str))
    except (sqlite3.Error, SyntaxError, ValueError):
        return None
    finally:
        con.close()


def _forget(con: sqlite3.Connection) -> None:
    """Drop the held writes and mark the copy stale (its rows may not be the base's)."""
    con.execute("BEGIN IMMEDIATE")
    con.execute("DELETE FROM held")
    _set(con, generation=STALE, table=STALE)
    con.execute("COMMIT")


def settle(kb: KnowledgeBase, generation: str) -> None:
    """After a write, or held writes, went to DuckDB's upkeep for ``generation``:
    a copy that upkeep did not bring along (the table was stale, held by
    another process, or not followed) drops its held writes and is marked stale."""
    path = None if kb.path is None else kb.path / FILE
    if path is None or not path.is_file():
        return
    try:
        con = _connect(path)
        try:
            if _meta(con).get("table") != generation:
                _forget(con)
        finally:
            con.close()
    except sqlite3.Error:
        return


def follow_table(duck: Any, kb: KnowledgeBase, before: str, generation: str, *, small: bool,
                 upto: int | None = None) -> None:
    """Bring the copy along a write DuckDB's upkeep has just committed on
    ``duck`` (from the table's generation ``before`` to ``generation``; its
    statements in ``temp.touched``; ``small``: the areas or predicate kinds
    changed). The write included the held writes up to ``upto`` (all: None),
    which go.

    A copy whose table was at ``before`` takes the touched statements' rows;
    a missing or stale one is made again from the table. A write the copy
    kept meanwhile (another process's, while this one handed the held writes
    on) stays held, and the copy stays at its generation."""
    if kb.path is None:
        return
    try:
        con = _connect(kb.path / FILE)
    except sqlite3.OperationalError:
        return
    except sqlite3.DatabaseError:
        make(duck, kb.path / FILE, generation)
        return
    meta = _meta(con)
    if meta.get("schema") != SCHEMA or meta.get("table") != before:
        con.close()
        make(duck, kb.path / FILE, generation)
        return
    try:
        con.execute("BEGIN IMMEDIATE")
        touched = [r[0] for r in duck.execute("SELECT iri FROM temp.touched").fetchall()]
        con.execute("DELETE FROM claims WHERE iri IN (SELECT value FROM json_each(?))",
                    [json.dumps(touched, ensure_ascii=False)])
        cur = duck.execute("SELECT * FROM claims WHERE iri IN (SELECT iri FROM temp.touched)")
        while batch := cur.fetchmany(50_000):
            con.executemany(_INSERT, batch)
        if small:
            _copy_small(duck, con)
        if upto is None:
            con.execute("DELETE FROM held")
        else:
            con.execute("DELETE FROM held WHERE seq <= ?", [upto])
        if con.execute("SELECT count(*) FROM held").fetchone()[0] == 0:
            _set(con, generation=generation)
        _set(con, table=generation, regular=_regular(duck), rules=rules_digest())
        con.execute("COMMIT")
    except sqlite3.Error:
        if con.in_transaction:
            con.execute("ROLLBACK")
    finally:
        con.close()


def make(duck: Any, path: Path, generation: str) -> None:
    """Make the copy at ``path`` again from the claim table on ``duck``
    (current at ``generation``). A file SQLite cannot read as a database
    (damaged, or something else) is replaced. Best effort: a copy that
    cannot be made now (another process holds it) is made by the next write
    that goes to DuckDB."""
    for attempt in (1, 2):
        try:
            con = _connect(path)
            try:
                build(duck, con, generation)
                return
            finally:
                with contextlib.suppress(sqlite3.Error):
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                con.close()
        except sqlite3.OperationalError:  # held by another process, or a full disk: left for later
            return
        except sqlite3.DatabaseError:  # not a database SQLite can read
            if attempt == 2:
                return
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)


def build(duck: Any, con: sqlite3.Connection, generation: str) -> None:
    """Make the copy again, in place and in one transaction, from the claim
    table on ``duck`` (current at ``generation``)."""
    con.execute("BEGIN IMMEDIATE")
    con.execute("DROP TABLE IF EXISTS held")
    for statement in _CREATE.strip().split(";"):
        if statement.strip():
            con.execute(statement)
    # in subject order: the statements about one entity, which one claim's rules read, share pages
    cur = duck.execute("SELECT * FROM claims ORDER BY s, o")
    while batch := cur.fetchmany(50_000):
        con.executemany(_INSERT, batch)
    _copy_small(duck, con)
    for statement in _INDEXES.strip().split(";"):
        if statement.strip():
            con.execute(statement)
    _set(con, schema=SCHEMA, generation=generation, table=generation, regular=_regular(duck), rules=rules_digest())
    con.execute("COMMIT")
    # a write-ahead log: a kept write commits without waiting for the disk, and readers read on
    # meanwhile (the graph's own journal is the commit point a kill is judged by)
    con.execute("PRAGMA journal_mode = WAL")


def _copy_small(duck: Any, con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM kinds")
    con.execute("DELETE FROM area_overlap")
    con.executemany("INSERT INTO kinds VALUES (?, ?)", duck.execute("SELECT p, kind FROM kinds").fetchall())
    con.executemany("INSERT INTO area_overlap VALUES (?, ?)", duck.execute("SELECT a, b FROM area_overlap").fetchall())


def _regular(duck: Any) -> str:
    row = duck.execute("SELECT v FROM meta WHERE k = 'regular'").fetchone()
    return "1" if row and row[0] == "1" else "0"
