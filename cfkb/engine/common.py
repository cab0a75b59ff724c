"""What the engine's modules share: the table's file name, the index's tables, the
progress hook, and how a list of values reaches a statement."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

#: the claim table's file in the store directory
FILE = "claims.duckdb"
#: its key-lookup copy beside it (:mod:`cfkb.engine.lookup`)
LOOKUP_FILE = "claims.sqlite"

#: the conflict index's tables (:mod:`cfkb.engine.index`), made with the claim table's
INDEX_TABLES = """
CREATE TABLE rule_kinds (rule VARCHAR, kind VARCHAR, ord INTEGER, undoable BOOLEAN);
CREATE TABLE conflict_rows (rule VARCHAR, this VARCHAR, value VARCHAR, contests VARCHAR, wing VARCHAR);
CREATE TABLE conflicts (id VARCHAR, rule VARCHAR, this VARCHAR, value VARCHAR, date VARCHAR, newest VARCHAR,
                        recorded VARCHAR);
CREATE TABLE conflict_members (id VARCHAR, claim VARCHAR, s VARCHAR, o VARCHAR, area VARCHAR, who VARCHAR,
                               outlet VARCHAR, date VARCHAR, recorded VARCHAR, grading VARCHAR, tlp VARCHAR);
CREATE TABLE conflict_entities (id VARCHAR, e VARCHAR);
CREATE TABLE conflict_tags (id VARCHAR, facet VARCHAR, value VARCHAR);
CREATE TABLE marks (subject VARCHAR PRIMARY KEY, reliability VARCHAR, credibility VARCHAR, tlp VARCHAR);
"""


#: Called with a base before its stored claim table is read: the engine hands the
#: writes the table's key-lookup copy holds to the table's upkeep (:func:`cfkb.engine.fold_held`).
BEFORE_READ: list[Callable[[Any], None]] = []


#: A list of texts given as one statement parameter (:func:`texts`), read as rows of one
#: column: ``... WHERE iri IN (SELECT {TEXTS})``, or several of the same length side by side.
TEXTS = """unnest(from_json(?, '["VARCHAR"]'))"""


def texts(values: Iterable[str | None]) -> str:
    """``values`` (NULLs too) as the one parameter of a :data:`TEXTS`.

    DuckDB converts a list given as a parameter item by item, and at each
    item tries to import pandas (a module cfkb does not use): 30k IRIs took
    0.54 s that way, and 0.02 s as one JSON text.

    >>> import duckdb
    >>> duckdb.connect().execute(f"SELECT {TEXTS} AS v", [texts(["a", None, 'q"\\t'])]).fetchall()
    [('a',), (None,), ('q"\\t',)]
    """
    return json.dumps(list(values), ensure_ascii=False)


#: Told how far the making of a claim table from the graph has got: (steps done, steps in all).
#: The CLI draws a bar on a terminal.
_PROGRESS: list[Callable[[int, int], None]] = []


def on_progress(callback: Callable[[int, int], None] | None) -> None:
    """Have ``callback`` told how far each making of a claim table has got (None: no one)."""
    _PROGRESS[:] = [callback] if callback is not None else []


def tell(done: int, total: int) -> None:
    """Tell the :func:`on_progress` callback how far the making of a table has got."""
    for callback in _PROGRESS:
        callback(done, total)


#: ``(generation, claim -> conflict IDs)``: the conflicts the last small write this
#: process kept the index for (or the copy, :mod:`cfkb.engine.lookup`) filed under
#: that write's new statements
_FILED: list[tuple[str, dict[str, set[str]]]] = []


def file_found(generation: str, found: dict[str, set[str]] | None) -> None:
    """Note what a write's upkeep filed under its new statements (None: nothing known)."""
    _FILED[:] = [] if found is None else [(generation, found)]


def filed_for(generation: str, claims: Iterable[str]) -> int | None:
    """How many conflicts involve one of ``claims`` (new statements of a write
    that made ``generation``), as this process filed them while keeping the
    index or its copy for that write; None if it did not (the index has to be read).

    A writer says what it made without opening the index a second time."""
    if not _FILED or _FILED[0][0] != generation:
        return None
    found = _FILED[0][1]
    return len(set().union(*(found.get(c, set()) for c in claims)))
