"""The claim table: one row per reified statement, in DuckDB, beside the graph.

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
calls :func:`follow_write` after each committed write, which re-reads the
statements the write touched and moves the stamp in one DuckDB transaction,
and only if the table was current before the write.

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
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyoxigraph as ox

from cfkb.engine.common import FILE, INDEX_TABLES, on_progress, tell
from cfkb.model.vocabulary import CFKB_NS, PROV_NS, RDF_NS, XSD_NS
from cfkb.store.backend import value_of
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase

__all__ = ["FILE", "ClaimTable", "build", "follow_write", "on_progress", "open_table"]
log = logging.getLogger("cfkb.engine")

# DuckDB tries to import pandas for each statement it is given parameters for (one
# could be a data frame). Where pandas is not installed, every try searches the whole
# import path again: some 70 tries, 60 ms, for one page of conflicts. Python's own
# marker for a module that cannot be imported (None in sys.modules) makes each try
# fail at once, as it would anyway.
if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
    sys.modules["pandas"] = None  # type: ignore[assignment]
SCHEMA = "4"

_IRI, _BOOL, _DATE, _TEXT = "iri", "bool", "date", "text"
#: predicate IRI -> (column, kind of value)
FIELDS: dict[str, tuple[str, str]] = {
    RDF_NS + "subject": ("s", _IRI),
    RDF_NS + "predicate": ("p", _IRI),
    RDF_NS + "object": ("o", _IRI),
    CFKB_NS + "negated": ("neg", _BOOL),
    PROV_NS + "wasAttributedTo": ("who", _IRI),
    CFKB_NS + "statedIn": ("outlet", _TEXT),
    CFKB_NS + "citedIn": ("cited", _TEXT),
    CFKB_NS + "statedOn": ("date", _DATE),
    CFKB_NS + "inArea": ("area", _IRI),
    CFKB_NS + "election": ("election", _IRI),
    CFKB_NS + "modality": ("modality", _TEXT),
    CFKB_NS + "recordedAt": ("recorded", _TEXT),
    PROV_NS + "wasGeneratedBy": ("batch", _TEXT),
}
#: the fields the rules read: one value each on a regular table (and the outlet,
#: which the conflict filters read)
RULE_FIELDS = ("s", "p", "o", "neg", "who", "date", "area", "election")
KIND_CLASSES = (CFKB_NS + "FunctionalPerContext", CFKB_NS + "ParticipationImplying",
                CFKB_NS + "ParticipationPropagating")
NO_INDICATION = CFKB_NS + "NoIndication"
_TYPE = ox.NamedNode(RDF_NS + "type")
_CLAIM = ox.NamedNode(CFKB_NS + "Claim")
_INCLUDES = ox.NamedNode(CFKB_NS + "includes")
_SUBJECT = ox.NamedNode(RDF_NS + "subject")
_BOOLEAN, _XSD_DATE = XSD_NS + "boolean", XSD_NS + "date"
#: How much of DuckDB's log the table's upkeep leaves for the next opens to replay.
LOG_LIMIT = "64KB"
#: A log longer than this (bytes) is folded in by the next open that can write the file.
LONG_LOG = 1024 * 1024
#: Quads in a write below which the table's upkeep runs on one thread.
SMALL_WRITE = 5000
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

_CREATE = """
CREATE TABLE facts (iri VARCHAR, f VARCHAR, v VARCHAR);
CREATE TABLE claims (
    iri VARCHAR, is_claim BOOLEAN, s VARCHAR, p VARCHAR, o VARCHAR, neg BOOLEAN,
    who VARCHAR, outlet VARCHAR, cited VARCHAR, date VARCHAR, area VARCHAR, election VARCHAR,
    modality VARCHAR, noind BOOLEAN, recorded VARCHAR, batch VARCHAR);
CREATE TABLE kinds (p VARCHAR, kind VARCHAR);
CREATE TABLE area_overlap (a VARCHAR, b VARCHAR);
CREATE TABLE meta (k VARCHAR PRIMARY KEY, v VARCHAR);
""" + INDEX_TABLES

_PIVOT = """
INSERT INTO claims
SELECT iri, bool_or(f = 'claim'),
       any_value(v) FILTER (WHERE f = 's'), any_value(v) FILTER (WHERE f = 'p'),
       any_value(v) FILTER (WHERE f = 'o'), (any_value(v) FILTER (WHERE f = 'neg')) = 'true',
       any_value(v) FILTER (WHERE f = 'who'), any_value(v) FILTER (WHERE f = 'outlet'),
       any_value(v) FILTER (WHERE f = 'cited'), any_value(v) FILTER (WHERE f = 'date'),
       any_value(v) FILTER (WHERE f = 'area'), any_value(v) FILTER (WHERE f = 'election'),
       min(v) FILTER (WHERE f = 'modality'), bool_or(f = 'noind'),
       any_value(v) FILTER (WHERE f = 'recorded'), any_value(v) FILTER (WHERE f = 'batch')
FROM facts GROUP BY iri HAVING bool_or(f = 's') OR bool_or(f = 'claim')
"""

# statements (among those in facts) with two values of a field the rules read
_SEVERAL = f"""
SELECT count(*) FROM (
    SELECT iri, f FROM facts WHERE f IN ({", ".join(f"'{f}'" for f in (*RULE_FIELDS, "outlet"))})
    GROUP BY iri, f HAVING count(DISTINCT v) > 1)
"""


class Irregular(Exception):
    """A value the SQL rules cannot read as the SPARQL rules do."""


def _fact(column: str, kind: str, term: Any) -> str:
    if kind == _IRI:
        if not isinstance(term, ox.NamedNode):
            raise Irregular(column)
        return term.value
    if kind == _BOOL:
        if not (isinstance(term, ox.Literal) and term.datatype.value == _BOOLEAN and term.value in ("true", "false")):
            raise Irregular(column)
        return term.value
    if kind == _DATE:
        if not (isinstance(term, ox.Literal) and term.datatype.value == _XSD_DATE and _DAY.fullmatch(term.value)):
            raise Irregular(column)
        return term.value
    return str(term.value)


_SAFE = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


class _Facts:
    """(statement IRI, field, value) rows read from the graph, as lines of
    tab-separated text, noting irregular values.

    IRIs hold no whitespace (pyoxigraph checks), and the boolean and date
    values are checked, so only free text (an outlet or a modality given as
    a literal, a timestamp) needs its tabs and line breaks blanked.
    """

    def __init__(self) -> None:
        self.regular = True
        self.lines: list[str] = []

    def _add(self, subject: Any, predicate: str, term: Any) -> None:
        if not isinstance(subject, ox.NamedNode):
            return
        if predicate == RDF_NS + "type":
            if term == _CLAIM:
                self.lines.append(f"{subject.value}\tclaim\t1")
            return
        column, kind = FIELDS[predicate]
        try:
            value = _fact(column, kind, term)
        except Irregular:
            self.regular = False
            return
        if kind == _TEXT:
            value = value.translate(_SAFE)
        self.lines.append(f"{subject.value}\t{column}\t{value}")
        if column == "modality" and isinstance(term, ox.NamedNode) and term.value == NO_INDICATION:
            self.lines.append(f"{subject.value}\tnoind\t1")

    def flush(self, sink: Any) -> None:
        """Write the lines so far to ``sink`` (a text file) and let them go."""
        if self.lines:
            sink.write("\n".join(self.lines))
            sink.write("\n")
            self.lines.clear()

    def all(self, store: Any, sink: Any = None) -> list[str]:
        """Every field of every statement: one index scan per field. With
        ``sink``, each field's lines are written there as soon as it is read,
        so at most one field's lines are held at a time."""
        node, lines = ox.NamedNode, self.lines
        for q in store.quads_for_pattern(None, _TYPE, _CLAIM, None):
            if type(q.subject) is node:
                lines.append(f"{q.subject.value}\tclaim\t1")
        for predicate, (column, kind) in FIELDS.items():
            quads = store.quads_for_pattern(None, ox.NamedNode(predicate), None, None)
            if kind == _IRI:  # the common case, without a call per quad
                for q in quads:
                    s, o = q.subject, q.object
                    if type(s) is node:
                        if type(o) is node:
                            lines.append(f"{s.value}\t{column}\t{o.value}")
                        else:
                            self.regular = False
            else:
                for q in quads:
                    self._add(q.subject, predicate, q.object)
            if sink is not None:
                self.flush(sink)
                tell(list(FIELDS).index(predicate) + 1, len(FIELDS) + 1)
        return lines

    def of(self, store: Any, subjects: Iterable[str]) -> list[str]:
        """The fields of some statements: one lookup each."""
        for iri in subjects:
            for q in store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
                p = q.predicate.value
                if p in FIELDS or p == RDF_NS + "type":
                    self._add(q.subject, p, q.object)
        return self.lines


_COLUMNS = {"facts": "{'iri': 'VARCHAR', 'f': 'VARCHAR', 'v': 'VARCHAR'}", "touched": "{'iri': 'VARCHAR'}"}


def _read_tsv(con: duckdb.DuckDBPyConnection, table: str, path: str) -> None:
    """Append a tab-separated file to ``table``, read exactly as written: no
    guessing of the dialect, no quotes, no comments (IRIs hold '#')."""
    con.execute(f"INSERT INTO {table} SELECT * FROM read_csv(?, header = false, auto_detect = false,"
                " delim = '\t', quote = '', escape = '', comment = '',"
                f" columns = {_COLUMNS[table]})", [path])


#: fewer lines than this go in as query parameters; more through a file (DuckDB's fastest way in)
_FEW_LINES = 2_000


def _read_lines(con: duckdb.DuckDBPyConnection, table: str, lines: Iterable[str], workdir: str | None) -> None:
    """Add tab-separated lines to ``table``."""
    lines = list(lines)
    if len(lines) < _FEW_LINES:
        columns = list(zip(*(line.split("\t") for line in lines), strict=True)) if lines else []
        if columns:
            con.execute(f"INSERT INTO {table} SELECT {', '.join('unnest(?::VARCHAR[])' for _ in columns)}",
                        [list(c) for c in columns])
        return
    fd, tmp = tempfile.mkstemp(prefix=f".cfkb-{table}-", suffix=".tsv", dir=workdir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write("\n".join(lines))
            out.write("\n")
        _read_tsv(con, table, tmp)
    finally:
        os.unlink(tmp)


def _load_facts(con: duckdb.DuckDBPyConnection, lines: list[str], workdir: str | None) -> None:
    """Fill ``facts`` from tab-separated lines."""
    con.execute("DELETE FROM facts")
    if lines:
        _read_lines(con, "facts", lines, workdir)


def _small_tables(con: duckdb.DuckDBPyConnection, store: Any) -> None:
    """The predicate kinds and the area overlaps, from the graph."""
    con.execute("DELETE FROM kinds")
    con.execute("DELETE FROM area_overlap")
    kinds = sorted({(q.subject.value, k) for k in KIND_CLASSES
                    for q in store.quads_for_pattern(None, _TYPE, ox.NamedNode(k), None)
                    if isinstance(q.subject, ox.NamedNode)})
    if kinds:
        con.executemany("INSERT INTO kinds VALUES (?, ?)", kinds)
    below: dict[str, set[str]] = {}
    for q in store.quads_for_pattern(None, _INCLUDES, None, None):
        below.setdefault(str(q.subject) if not isinstance(q.subject, ox.NamedNode) else q.subject.value,
                         set()).add(str(q.object) if not isinstance(q.object, ox.NamedNode) else q.object.value)
    down: dict[str, set[str]] = {}
    for area in below:  # everything an area includes, transitively, and itself
        seen, todo = {area}, list(below[area])
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(below.get(x, ()))
        down[area] = seen
    for children in list(below.values()):
        for x in children:
            down.setdefault(x, {x} | set())
    pairs = sorted((a, b) for a in down for b in down if a != b and down[a] & down[b])
    if pairs:
        con.executemany("INSERT INTO area_overlap VALUES (?, ?)", pairs)


def _fill(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase, generation: str, workdir: str | None) -> None:
    facts = _Facts()
    fd, tmp = tempfile.mkstemp(prefix=".cfkb-facts-", suffix=".tsv", dir=workdir)
    try:
        with collector_paused(), os.fdopen(fd, "w", encoding="utf-8", newline="") as sink:
            facts.all(kb.store, sink)
        if os.path.getsize(tmp):
            _read_tsv(con, "facts", tmp)
    finally:
        os.unlink(tmp)
    several = con.execute(_SEVERAL).fetchone()[0]  # type: ignore[index]
    con.execute(_PIVOT)
    con.execute("DELETE FROM facts")
    _small_tables(con, kb.store)
    regular = facts.regular and not several
    tell(len(FIELDS) + 1, len(FIELDS) + 1)
    con.executemany("INSERT INTO meta VALUES (?, ?)",
                    [("schema", SCHEMA), ("generation", generation), ("regular", "1" if regular else "0")])


def connect(where: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to a table file (or ":memory:"), drawing nothing on the terminal."""
    con = duckdb.connect(where, read_only=read_only)
    con.execute("SET enable_progress_bar = false")
    return con


def _regular(con: duckdb.DuckDBPyConnection) -> bool:
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
        return _regular(self.con)

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM claims WHERE is_claim").fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> ClaimTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stamp(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """(schema, generation) of a table file; (None, None) for a damaged one."""
    try:
        meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
        if meta.get("schema") != SCHEMA:
            return meta.get("schema") or None, meta.get("generation")
        # a table missing here is a damaged file
        con.execute("SELECT 1 FROM claims, kinds, area_overlap, conflicts, conflict_rows, conflict_entities"
                    " LIMIT 0").fetchall()
    except duckdb.Error:
        return None, None
    return meta.get("schema"), meta.get("generation")


def build(kb: KnowledgeBase, target: str | Path = ":memory:") -> ClaimTable:
    """A claim table made from the graph, at ``target`` (a new file, or memory)."""
    generation = kb.generation()
    con = connect(str(target))
    try:
        con.execute(_CREATE)
        con.execute("BEGIN")
        # the facts' file goes beside the table (or the store), not to a shared temporary folder
        workdir = os.path.dirname(str(target)) if str(target) != ":memory:" else \
            (str(kb.path) if kb.path is not None else None)
        _fill(con, kb, generation, workdir)
        con.execute("COMMIT")
    except BaseException:
        con.close()
        raise
    return ClaimTable(con, generation, str(target))


def table_path(kb: KnowledgeBase) -> Path | None:
    """Where the base's claim table lives: the store directory, or for a
    remote base a cache directory keyed by its URL."""
    if kb.path is not None:
        return kb.path / FILE
    if kb.location.startswith(("http://", "https://")):
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
    generation = kb.generation()
    path = table_path(kb)
    if path is None:
        return build(kb)
    if path.is_file():
        _fold_long_log(path)
        try:
            con = connect(str(path), read_only=True)
        except duckdb.Error:
            con = None
        if con is not None:
            schema, stamped = _stamp(con)
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
            build(kb, tmp).close()
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
        if _stamp(con) == (SCHEMA, generation):
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


# -- keeping it current ------------------------------------------------------

#: ``also(con, before, generation, new, additive=..., regular=...)``: what else
#: :func:`follow_write` keeps current in its transaction (the conflict index)
Also = Callable[..., None]


def follow_write(kb: KnowledgeBase, before: str, add: list[ox.Quad], remove: list[ox.Quad],
                 nquads: bytes = b"", also: Also | None = None) -> None:
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
    """
    path = table_path(kb)
    if path is None or kb.path is None or not path.is_file():
        return
    generation = kb.generation()
    if generation == before:
        return
    con = upkeep_connection(path, small_write=not nquads and len(add) + len(remove) <= SMALL_WRITE)
    if con is None:
        return  # held by a reader: the stamp stays old, the next open rebuilds
    try:
        if _stamp(con) != (SCHEMA, before):
            return
        with collector_paused():
            if nquads:
                add = [*add, *ox.parse(nquads, format=ox.RdfFormat.N_QUADS)]
            added: dict[str, list[ox.Quad]] = {}
            for q in add:
                if isinstance(q.subject, ox.NamedNode):
                    added.setdefault(q.subject.value, []).append(q)
            subjects = set(added) | {q.subject.value for q in remove if isinstance(q.subject, ox.NamedNode)}
            small = any(q.predicate == _INCLUDES or (q.predicate == _TYPE and value_of(q.object) in KIND_CLASSES)
                        for q in (*add, *remove))
            con.execute("BEGIN")
            con.execute("CREATE TEMP TABLE touched (iri VARCHAR)")
            if subjects:
                _read_lines(con, "touched", subjects, str(path.parent))
            # statements the table holds, or that lose quads, are read again from the graph;
            # a new statement, written whole by this write, takes its fields from the write
            held = {r[0] for r in con.execute("SELECT iri FROM claims SEMI JOIN touched USING (iri)").fetchall()}
            reread = held | (subjects - set(added))
            reread |= {q.subject.value for q in remove if isinstance(q.subject, ox.NamedNode)}
            facts = written_facts(added, reread)
            _load_facts(con, facts.of(kb.store, sorted(reread)), str(path.parent))
        replace_rows(con, before, generation, held=bool(held), small=small, facts=facts, also=also,
                     small_tables_from=kb.store)
    except (duckdb.Error, OSError):
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
    finally:
        con.close()


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
        # (about 0.5 ms a kilobyte), so the commit that takes it past LOG_LIMIT folds it in
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.execute(f"SET checkpoint_threshold = '{LOG_LIMIT}'")
        if small_write:
            # a few claims' statements: DuckDB's threads cost more to start than they save
            # (a quarter of the upkeep's CPU for one claim at 100k claims)
            con.execute("SET threads = 1")
    except duckdb.Error:
        con.close()
        return None
    return con


def written_facts(added: dict[str, list[ox.Quad]], reread: set[str]) -> _Facts:
    """The table's fields of the statements a write made whole, from the
    write's own quads; a statement not in ``reread`` and not whole (no
    ``rdf:subject`` in the write) joins ``reread``, to be read from the graph."""
    facts = _Facts()
    # the quads go through an in-memory store first, which writes each literal
    # as the graph holds it (a timestamp's "+00:00" as "Z")
    written = ox.Store()
    for iri, quads in added.items():
        if iri in reread:
            continue
        if not any(q.predicate == _SUBJECT for q in quads):
            reread.add(iri)  # not a whole statement: what else it has is in the graph
            continue
        written.extend(ox.Quad(q.subject, q.predicate, q.object) for q in quads
                       if q.predicate.value in FIELDS or q.predicate == _TYPE)
    facts.all(written)
    return facts


def replace_rows(con: duckdb.DuckDBPyConnection, before: str, generation: str, *, held: bool, small: bool,
                 facts: _Facts, also: Also | None, small_tables_from: Any) -> None:
    """End a write's upkeep, inside its transaction: the touched statements'
    rows replaced by the loaded facts, the small tables made again from
    ``small_tables_from`` where ``small`` (None: already done), ``also`` (the
    conflict index) brought along, the new stamp, and the commit."""
    several = con.execute(_SEVERAL).fetchone()[0]  # type: ignore[index]
    con.execute("DELETE FROM claims WHERE iri IN (SELECT iri FROM touched)")
    con.execute(_PIVOT)
    con.execute("DELETE FROM facts")
    if small and small_tables_from is not None:
        _small_tables(con, small_tables_from)
    if not facts.regular or several:
        con.execute("UPDATE meta SET v = '0' WHERE k = 'regular'")
    # a write that changed no statement the table held only adds: the index takes a delta
    new = {r[0] for r in con.execute("SELECT iri FROM claims SEMI JOIN touched USING (iri)").fetchall()}
    if also is not None:
        also(con, before, generation, new, additive=not held and not small,
             regular=facts.regular and not several and _regular(con))
    con.execute("DROP TABLE temp.touched")
    con.execute("UPDATE meta SET v = ? WHERE k = 'generation'", [generation])
    con.execute("COMMIT")
