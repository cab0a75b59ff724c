"""The conflict index kept current by each write (:mod:`cfkb.engine.index` makes and reads it).

:func:`follow` runs after a write's claim-table upkeep has committed
(:func:`cfkb.engine.upkeep.replace_rows`), in a transaction of its own: a
write that only adds statements is a delta over the new statements'
neighbourhood, however many (up to :data:`DELTA_LIMIT`); any other write (an
entity merge, a change to the areas or the predicate kinds) runs the rules
again over the whole table. What the last small write filed for its new
statements is kept for :func:`filed_for`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import duckdb

from cfkb.engine import index
from cfkb.engine.common import TEXTS, file_found, filed_for, texts
from cfkb.engine.forms import rules_digest
from cfkb.engine.rules import _execute, load_sql, neighbourhood

__all__ = ["DELTA_LIMIT", "filed_for", "follow"]

#: above this many new statements a write runs the rules over the whole table:
#: the neighbourhood of so many claims is most of a base anyway
DELTA_LIMIT = 2_000


def follow(con: duckdb.DuckDBPyConnection, before: str, generation: str, new: set[str], additive: bool,
           regular: bool, found_rows: list[tuple[Any, ...]] | None = None) -> None:
    """Bring the index on ``con`` from ``before`` to ``generation``, once the
    claim table's write has committed (its ``claims`` rows current), in a
    transaction of its own: a process killed between the two leaves the
    index stamped for ``before``, and the next read makes it again.

    ``new`` are the statements the write made; ``additive`` says the write
    only added statements (none lost or changed a field). Where the index
    was not current for ``before``, or the rules cannot run as SQL here, it
    is left stale for the next read to make again. ``found_rows`` are the
    rows of every conflict the new statements are in, where the key-lookup
    copy found them (:mod:`cfkb.engine.lookup`): they are filed as they are.

    The neighbourhood of a delta is read into its tables before the
    transaction begins: DuckDB plans a join over tables made inside a
    transaction without knowing their sizes, and paired a busy group's
    claims with one another (365k rows) before it kept the few pairs of
    lists that clash (49 ms against 11 ms for one rule).
    """
    meta = index._meta(con)
    if meta.get("index_generation") != before or meta.get("index_sql") != "1" or not regular \
            or meta.get("index_rules") != rules_digest():
        index._set_meta(con, index_generation=index.STALE)
        return
    forms = {iri: sql for iri, (_, sql) in load_sql().items()}
    rules = [r for (r,) in con.execute("SELECT rule FROM rule_kinds").fetchall()]
    if any(r not in forms for r in rules):
        index._set_meta(con, index_generation=index.STALE)
        return
    index._fresh_rows(con)
    delta = additive and len(new) <= DELTA_LIMIT
    if delta and found_rows is not None:  # found by the key-lookup copy for the writes it held
        _file_found_rows(con, generation, found_rows)
        return
    wanted = sorted(new | _undo_candidates(con, new)) if delta else []
    with contextlib.ExitStack() as read:
        if wanted:
            con.execute("CREATE TEMP TABLE involved (claim VARCHAR)")
            con.execute(f"INSERT INTO involved SELECT {TEXTS}", [texts(wanted)])
            read.callback(con.execute, "DROP TABLE IF EXISTS temp.involved")
            read.enter_context(neighbourhood(con, wanted))

        def fill() -> None:
            if delta:
                if wanted:
                    _rows_involving_wanted(con, rules, forms)
            else:
                for name in index._CLEAR:
                    con.execute(f"DELETE FROM {name}")
                for iri in rules:
                    index._insert_sql_rows(con, iri, forms[iri])

        _derived(con, generation, fill)
    file_found(generation, None)
    if delta:
        found: dict[str, set[str]] = {}
        for claim, conflict in con.execute(
                "SELECT m.claim, m.id FROM conflict_members m JOIN conflicts k USING (id) JOIN rule_kinds USING (rule)"
                f" WHERE m.claim IN (SELECT {TEXTS})", [texts(sorted(new))]).fetchall():
            found.setdefault(claim, set()).add(conflict)
        file_found(generation, found)


def _file_found_rows(con: duckdb.DuckDBPyConnection, generation: str, found: list[tuple[Any, ...]]) -> None:
    """File the rows the key-lookup copy found for writes it held (:mod:`cfkb.engine.lookup`):
    every row of every conflict their new statements are in. Such writes only add
    statements no exception reads, so no conflict filed before goes."""
    if found:  # five lists side by side (DuckDB takes many rows of parameters one by one, slowly)
        con.execute(f"INSERT INTO fresh_rows SELECT {', '.join([TEXTS] * 5)}",
                    [texts(row[i] for row in found) for i in range(5)])
    _derived(con, generation, lambda: None)
    file_found(generation, None)


def _derived(con: duckdb.DuckDBPyConnection, generation: str, fill: Callable[[], None]) -> None:
    """In one transaction: ``fill`` ``fresh_rows`` (and clear what they replace), file
    the conflicts of the rows there, and stamp the index for ``generation``."""
    con.execute("BEGIN")
    try:
        fill()
        index._derive(con)
        index._set_meta(con, index_generation=generation)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _rows_involving_wanted(con: duckdb.DuckDBPyConnection, rules: list[str], forms: dict[str, str]) -> None:
    """Each rule's rows over the neighbourhood of the ``wanted`` claims, for every
    (this, value) pair that has one of them in any role, into ``fresh_rows``; the
    stored conflicts of the ``involved`` claims go, to be replaced by those found."""
    for iri in rules:
        _execute(con, iri, f"""
            INSERT INTO fresh_rows BY NAME
            WITH found AS (SELECT * FROM ({forms[iri]})), hit AS (
                SELECT DISTINCT this, value FROM found
                WHERE this IN (SELECT iri FROM wanted) OR value IN (SELECT iri FROM wanted)
                   OR {'contests IN (SELECT iri FROM wanted)' if 'contests' in forms[iri] else 'false'}
                   OR {'wing IN (SELECT iri FROM wanted)' if 'wing' in forms[iri] else 'false'})
            SELECT '{index._quote(iri)}' AS rule, found.* FROM found SEMI JOIN hit USING (this, value)""")
    gone = "SELECT id FROM conflict_members WHERE claim IN (SELECT claim FROM involved)"
    con.execute(f"DELETE FROM conflict_rows WHERE (rule, this, value) IN"
                f" (SELECT rule, this, value FROM conflicts WHERE id IN ({gone}))")
    con.execute(f"DELETE FROM conflicts WHERE id IN ({gone})")
    con.execute("DELETE FROM conflict_members WHERE id NOT IN (SELECT id FROM conflicts)")
    con.execute("DELETE FROM conflict_entities WHERE id NOT IN (SELECT id FROM conflicts)")
    con.execute("DELETE FROM conflict_tags WHERE id NOT IN (SELECT id FROM conflicts)")


def _undo_candidates(con: duckdb.DuckDBPyConnection, new: set[str]) -> set[str]:
    """The claims of stored conflicts a new statement can undo: conflicts of a
    rule with an exception (``NOT EXISTS``) whose entities include both the
    statement's subject and object, as an exception reads them."""
    rows = con.execute(f"""
        WITH t AS (SELECT s, o FROM claims WHERE iri IN (SELECT {TEXTS}) AND s IS NOT NULL AND o IS NOT NULL),
        hit AS (
            SELECT DISTINCT a.id FROM t JOIN conflict_entities a ON a.e = t.s
            JOIN conflict_entities b ON b.id = a.id AND b.e = t.o
            JOIN conflicts k ON k.id = a.id JOIN rule_kinds r ON r.rule = k.rule AND r.undoable)
        SELECT DISTINCT claim FROM conflict_members WHERE id IN (SELECT id FROM hit)""",
                       [texts(sorted(new))]).fetchall()
    return {r[0] for r in rows}
