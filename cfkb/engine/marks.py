"""Grades and markings beside the claim table: each subject's reliability, credibility and TLP.

The dashboard files every conflict under its claims' grading and TLP. At
100k claims that is some 35k lookups in the graph per page; here they are
one table in the claim table's file, ``marks``, which the conflict
listing joins::

    marks (subject, reliability, credibility, tlp)

with a subject's one value of each (:data:`~cfkb.model.vocabulary.MARK_PREDICATES`;
the least where a subject has several). Grades and markings change in two
kinds of write: those that move the base's generation (an import brings its
claims' grades) and those that keep it (``cfkb grade``, ``cfkb mark``), which
move the base's :meth:`~cfkb.store.core.KnowledgeBase.marks_revision`
instead. So the table is stamped, in ``meta``, with both; every write
brings it along by a delta over the quads it wrote, if it was current before
(:func:`follow`), and a table whose stamp is not the base's is made again
from the graph before it is read (:func:`current`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyoxigraph as ox

from cfkb.engine.common import TEXTS, texts
from cfkb.model.vocabulary import MARK_PREDICATES
from cfkb.store.backend import value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.generations import MARKS_REVISION

#: predicate IRI -> column
COLUMNS = {iri: iri.rsplit("#", 1)[1] for iri in sorted(MARK_PREDICATES)}


def graded(rows: str, marks: str = "marks") -> str:
    """``rows`` (a table or a subquery with the columns ``claim``, ``who`` and
    ``outlet``, and none named ``grading`` or ``tlp``) with two more: the
    grading each claim is filed under (``B2``, ``?3``, ``F?`` or
    ``ungraded``: the claim's reliability, else the speaker's, else the
    outlet's, and the claim's credibility) and its own TLP level
    (``AMBER+STRICT``; NULL where the claim has none), from ``marks``."""
    return f"""(
    SELECT * EXCLUDE (rel, cred),
           CASE WHEN rel IS NULL AND cred IS NULL THEN 'ungraded' ELSE coalesce(rel, '?') || coalesce(cred, '?') END
           AS grading
    FROM (SELECT r.*,
                 coalesce(nullif(mc.reliability, ''), nullif(ms.reliability, ''), nullif(mo.reliability, '')) AS rel,
                 nullif(mc.credibility, '') AS cred,
                 replace(regexp_replace(mc.tlp, '^.*#TLP_', ''), '_', '+') AS tlp
          FROM {rows} r
          LEFT JOIN {marks} mc ON mc.subject = r.claim
          LEFT JOIN {marks} ms ON ms.subject = r.who LEFT JOIN {marks} mo ON mo.subject = r.outlet))"""


def near(rows: str, marks: str = "marks") -> str:
    """The rows of ``marks`` for the claims, speakers and outlets of ``rows`` (a table), and no
    others: what :func:`graded` reads for a few members costs a lookup each, not a join of all."""
    return (f"(SELECT * FROM {marks} WHERE subject IN"
            f" (SELECT claim FROM {rows} UNION SELECT who FROM {rows} UNION SELECT outlet FROM {rows}))")


def dress(con: duckdb.DuckDBPyConnection, where: str, values: Sequence[object] = (),
          members: str = "conflict_members", marks: str = "marks", tags: str = "conflict_tags") -> None:
    """File the conflict members that ``where`` (with ``values``) picks under
    their grading and their own TLP level (:func:`graded`), and file their
    conflicts in ``tags`` under them. Only the picked members' marks are
    read: a write that touches no member costs one scan of the members."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE dressing AS SELECT id, claim, who, outlet FROM {members} WHERE {where}",
                list(values))
    if con.execute("SELECT count(*) FROM dressing").fetchone() == (0,):
        con.execute("DROP TABLE temp.dressing")
        return
    con.execute(f"UPDATE {members} AS m SET grading = g.grading, tlp = g.tlp"
                f" FROM {graded('dressing', near('dressing', marks))} g WHERE m.id = g.id AND m.claim = g.claim")
    file_marks(con, "id IN (SELECT id FROM dressing)", members, tags)
    con.execute("DROP TABLE temp.dressing")


def file_marks(con: duckdb.DuckDBPyConnection, where: str, members: str = "conflict_members",
               tags: str = "conflict_tags") -> None:
    """File the conflicts that ``where`` picks (a condition on ``id``) in ``tags``
    under the gradings and TLP levels of their members, in place of any they had."""
    picked = f"(SELECT * FROM {members} WHERE {where})"
    con.execute(f"DELETE FROM {tags} WHERE facet IN ('grading', 'tlp') AND {where}")
    con.execute(f"""
INSERT INTO {tags} SELECT DISTINCT id, facet, value FROM (
    SELECT id, 'grading' AS facet, grading AS value FROM {picked} WHERE grading IS NOT NULL AND grading <> ''
    UNION ALL SELECT id, 'tlp', tlp FROM {picked} WHERE tlp IS NULL OR tlp <> '')""")


_STAMP = "marks"


def stamp_of(kb: KnowledgeBase) -> str:
    """The stamp a current marks table holds for ``kb`` as it is now."""
    return f"{kb.generation()} {kb.marks_revision()}"


def stamped(con: duckdb.DuckDBPyConnection) -> str | None:
    """The stamp of the marks table on ``con`` (None: there is none)."""
    try:
        row = con.execute("SELECT v FROM meta WHERE k = ?", [_STAMP]).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _set_stamp(con: duckdb.DuckDBPyConnection, stamp: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_STAMP, stamp])


def _upsert(con: duckdb.DuckDBPyConnection, rows: dict[str, dict[str, str]], table: str = "marks") -> None:
    """Replace the rows of ``rows``' subjects (subject -> column -> value)."""
    if not rows:
        return
    subjects = sorted(rows)
    con.execute(f"DELETE FROM {table} WHERE subject IN (SELECT {TEXTS})", [texts(subjects)])
    columns = {c: texts(rows[s].get(c) for s in subjects) for c in COLUMNS.values()}
    con.execute(f"INSERT INTO {table} SELECT {TEXTS}, {TEXTS}, {TEXTS}, {TEXTS}",
                [texts(subjects), columns["reliability"], columns["credibility"], columns["tlp"]])


def _read(kb: KnowledgeBase, subjects: Iterable[str] | None) -> dict[str, dict[str, str]]:
    """Marks from the graph: of ``subjects``, or of every subject (None)."""
    rows: dict[str, dict[str, str]] = {}
    for iri, column in COLUMNS.items():
        predicate = ox.NamedNode(iri)
        quads = (kb.store.quads_for_pattern(None, predicate, None, None) if subjects is None else
                 (q for s in subjects for q in kb.store.quads_for_pattern(ox.NamedNode(s), predicate, None, None)))
        for q in quads:
            if isinstance(q.subject, ox.NamedNode):
                row = rows.setdefault(q.subject.value, {})
                value = value_of(q.object)
                if column not in row or value < row[column]:
                    row[column] = value
    return rows


def fill(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase) -> None:
    """Make the table again from the graph, file every conflict member under
    its grading and TLP, and stamp it (inside the caller's transaction)."""
    con.execute("DELETE FROM marks")
    stamp = stamp_of(kb)
    _upsert(con, _read(kb, None))
    dress(con, "true")
    _set_stamp(con, stamp)


def filed_apart(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase) -> str:
    """For a connection that cannot write the file: the conflicts' tags
    (as ``conflict_tags``) with gradings and TLP levels from marks read
    from the graph now, in a table of this connection only; its name."""
    con.execute("CREATE OR REPLACE TEMP TABLE marks_now AS SELECT * FROM marks LIMIT 0")
    con.execute("CREATE OR REPLACE TEMP TABLE members_now AS SELECT * FROM conflict_members")
    con.execute("CREATE OR REPLACE TEMP TABLE tags_now AS"
                " SELECT * FROM conflict_tags WHERE facet NOT IN ('grading', 'tlp')")
    _upsert(con, _read(kb, None), "marks_now")
    dress(con, "true", (), "members_now", "marks_now", "tags_now")
    return "tags_now"


def follow(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase, before: str, after: str,
           add: list[ox.Quad], remove: list[ox.Quad], written: str | None = None) -> None:
    """Bring the table from stamp ``before`` to ``after`` over a write's quads
    (inside the write's DuckDB transaction). A table that was not current
    before is left stale; the next read makes it again.

    A subject that only gained marks takes them from the write; one that
    lost some is read again from the graph. ``written`` names a table on
    ``con`` with more of the write's marks, (subject, column, value) rows (a
    bulk batch's, never held in Python); it is dropped.
    """
    current = stamped(con)
    if current != before:
        if current is not None:
            _set_stamp(con, "stale")
        if written is not None:
            con.execute(f"DROP TABLE temp.{written}")
        return
    if written is not None:
        _follow_written(con, kb, add, remove, written)
        _set_stamp(con, after)
        return
    gained: dict[str, dict[str, str]] = {}
    lost: set[str] = set()
    for q in remove:
        if q.predicate.value in COLUMNS and isinstance(q.subject, ox.NamedNode):
            lost.add(q.subject.value)
    for q in add:
        column = COLUMNS.get(q.predicate.value)
        if column is not None and isinstance(q.subject, ox.NamedNode) and q.subject.value not in lost:
            row = gained.setdefault(q.subject.value, {})
            value = value_of(q.object)
            if column not in row or value < row[column]:
                row[column] = value
    if gained:
        old = con.execute(f"SELECT subject, {', '.join(COLUMNS.values())} FROM marks"
                          f" WHERE subject IN (SELECT {TEXTS})", [texts(sorted(gained))]).fetchall()
        for subject, *values in old:
            row = gained[subject]
            for column, value in zip(COLUMNS.values(), values, strict=True):
                if value is not None and (column not in row or value < row[column]):
                    row[column] = value
    rows = {**gained, **_read(kb, sorted(lost))}
    for subject in lost:
        rows.setdefault(subject, {})
    _upsert(con, rows)
    if rows:
        touched = f"(SELECT {TEXTS})"
        dress(con, f"claim IN {touched} OR who IN {touched} OR outlet IN {touched}", [texts(sorted(rows))] * 3)
    _set_stamp(con, after)


def _follow_written(con: duckdb.DuckDBPyConnection, kb: KnowledgeBase, add: list[ox.Quad], remove: list[ox.Quad],
                    written: str) -> None:
    """:func:`follow` with the write's marks in the table ``written`` (and
    in ``add``), brought in by SQL: each gained column takes the least of
    the write's values and the table's."""
    lost = sorted({q.subject.value for q in remove
                   if q.predicate.value in COLUMNS and isinstance(q.subject, ox.NamedNode)})
    rows = [(q.subject.value, COLUMNS[q.predicate.value], value_of(q.object)) for q in add
            if q.predicate.value in COLUMNS and isinstance(q.subject, ox.NamedNode)]
    if rows:
        con.executemany(f"INSERT INTO {written} VALUES (?, ?, ?)", rows)
    if lost:
        con.execute(f"DELETE FROM {written} WHERE subject IN (SELECT {TEXTS})", [texts(lost)])
    picked = ", ".join(f"least(min(w.v) FILTER (WHERE w.c = '{c}'), any_value(m.{c})) AS {c}"
                       for c in COLUMNS.values())
    con.execute(f"""CREATE TEMP TABLE gained AS SELECT w.subject, {picked}
                    FROM {written} w LEFT JOIN marks m USING (subject) GROUP BY w.subject""")
    con.execute(f"DROP TABLE temp.{written}")
    con.execute("DELETE FROM marks WHERE subject IN (SELECT subject FROM gained)")
    con.execute("INSERT INTO marks BY NAME SELECT * FROM gained")
    _upsert(con, {**dict.fromkeys(lost, {}), **_read(kb, lost)})
    if lost:
        con.execute(f"INSERT INTO gained (subject) SELECT {TEXTS}", [texts(lost)])
    touched = "(SELECT subject FROM temp.gained)"
    dress(con, f"claim IN {touched} OR who IN {touched} OR outlet IN {touched}")
    con.execute("DROP TABLE temp.gained")


def revision_moved(add: list[ox.Quad], remove: list[ox.Quad]) -> tuple[str, str] | None:
    """(before, after) of the marks revision where a write moved it, else None."""
    after = [value_of(q.object) for q in add if q.predicate == MARKS_REVISION]
    if not after:
        return None
    return max((value_of(q.object) for q in remove if q.predicate == MARKS_REVISION), default=""), max(after)


def follow_alone(kb: KnowledgeBase, path: Path, generation: str, moved: tuple[str, str],
                 add: list[ox.Quad], remove: list[ox.Quad]) -> None:
    """Bring the table file at ``path`` along a write that kept the
    generation and moved the marks revision (``moved``: before, after).
    Any failure leaves the old stamp, and the next read makes it again."""
    from cfkb.engine.upkeep import fold_long_log, upkeep_connection

    con = upkeep_connection(path, small_write=True)
    if con is None:
        return  # held by a reader: the stamp stays old
    try:
        con.execute("BEGIN")
        follow(con, kb, f"{generation} {moved[0]}", f"{generation} {moved[1]}", add, remove)
        con.execute("COMMIT")
        fold_long_log(con)
    except duckdb.Error:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
    finally:
        con.close()
