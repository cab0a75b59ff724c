"""The conflict engine: the rules, a claim table beside the graph, and the conflict index.

It depends on the store and the model only; the views (:mod:`cfkb.workflow.conflicts`),
the workflow and the importer read it. :mod:`cfkb.engine.shapes` loads the
rules from the SHACL shapes and compiles them to SPARQL;
:mod:`cfkb.engine.table` keeps a DuckDB file with one row per reified
statement (claims and gazetteer background statements) in the store
directory, stamped with the base's generation, its rows read out of the
graph by :mod:`cfkb.engine.facts` and kept current after each write by
:mod:`cfkb.engine.upkeep`; :mod:`cfkb.engine.rules` runs
each rule's executable form (``shapes/*.sql``) over it, with the same rows as
the compiled SHACL-SPARQL; :mod:`cfkb.engine.index` keeps every conflict in
the same file, current after every write. :mod:`cfkb.engine.lookup` keeps a
SQLite copy of the table beside it, which keeps a small write (one claim)
without DuckDB and hands it to DuckDB's upkeep before the table is next read.

Importing this package is cheap: DuckDB is loaded only where a table is read
or kept. It registers the store's write follower, which keeps an existing
table and the index current after each committed write (in the copy first,
where it can), and the hook that hands the copy's held writes on before a
table is read.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from cfkb.engine.common import BEFORE_READ, FILE, INDEX_TABLES, LOOKUP_FILE, on_progress, tell
from cfkb.store.core import KnowledgeBase
from cfkb.store.generations import add_write_follower

__all__ = ["FILE", "INDEX_TABLES", "on_progress", "tell"]


def _follow(kb: KnowledgeBase, before: str, add: list[Any], remove: list[Any], nquads: Any = b"") -> None:
    path = _table_path(kb)
    if path is None or not path.is_file():
        return  # no table yet: the first read builds it
    if kb.path is not None:
        from cfkb.engine import lookup  # SQLite: a small write is kept without loading DuckDB

        if lookup.keep(kb, before, add, remove, nquads):
            return
        held = lookup.take_held(kb, before)
        upto = None
        if held is not None:  # the writes the copy held go to DuckDB with this one
            from cfkb.engine.marks import revision_moved

            if revision_moved(add, remove) is not None:  # a grade: the held writes first, under their revision
                _to_table(kb, path, held.table, held.quads, [], b"", held.revision, held.generation, held.upto,
                          held.found)
            else:
                before, add, upto = held.table, [*held.quads, *add], held.upto
        generation = kb.generation()
        _to_table(kb, path, before, add, remove, nquads, generation=generation, upto=upto)
        lookup.settle(kb, generation)
        return
    _to_table(kb, path, before, add, remove, nquads)


def fold_held(kb: KnowledgeBase) -> None:
    """Hand the writes the key-lookup copy holds (:mod:`cfkb.engine.lookup`)
    to DuckDB's upkeep, before the claim table is read."""
    if kb.path is None or not (kb.path / LOOKUP_FILE).is_file():
        return
    from cfkb.engine import lookup

    held = lookup.take_held(kb, kb.generation())
    if held is None:
        return
    # for the generation the copy held them at: another process may write meanwhile
    _to_table(kb, kb.path / FILE, held.table, held.quads, [], b"", held.revision, held.generation, held.upto,
              held.found)
    lookup.settle(kb, held.generation)


def _to_table(kb: KnowledgeBase, path: Path, before: str, add: list[Any], remove: list[Any], nquads: Any,
              revision: str | None = None, generation: str | None = None, upto: int | None = None,
              found: list[Any] | None = None) -> None:
    """DuckDB's upkeep of a write: the claim table, the marks and the conflict index
    (``generation``, ``upto``: see :func:`cfkb.engine.upkeep.follow_write`; ``found``:
    the rows of the conflicts the write's statements are in, found by the key-lookup copy)."""
    # DuckDB is loaded by the first write that has a table to keep, not by every command
    from cfkb.engine import marks
    from cfkb.engine.delta import follow

    moved = marks.revision_moved(add, remove)
    if moved is not None:  # a grade or a marking: the generation stays, the marks follow
        marks.follow_alone(kb, path, before, moved, add, remove)
        return

    def also(con: Any, before: str, generation: str, new: set[str], additive: bool, regular: bool,
             add: list[Any], marks_table: str | None = None) -> Any:
        # the marks in the claim table's transaction (``add`` with the batch's lines parsed, or
        # the batch's marks in ``marks_table``); the index once that has committed, filing the
        # conflicts it finds under them
        made = kb.marks_revision() if revision is None else revision
        marks.follow(con, kb, f"{before} {made}", f"{generation} {made}", add, remove, marks_table)
        return functools.partial(follow, before=before, generation=generation, new=new, additive=additive,
                                 regular=regular, found_rows=found)

    if kb.path is None:
        from cfkb.engine.remote import follow_remote_write

        follow_remote_write(kb, before, add, remove, nquads, also=also)
    else:
        from cfkb.engine.upkeep import follow_write

        follow_write(kb, before, add, remove, nquads, also=also, generation=generation, held_upto=upto)


def _table_path(kb: KnowledgeBase) -> Any:
    """The claim table's file of a base on disk or on a server; None for one in memory."""
    if kb.path is not None:
        return kb.path / FILE
    if kb.in_memory:
        return None
    from cfkb.engine.table import table_path

    return table_path(kb)


add_write_follower(_follow)


def _before_read(kb: KnowledgeBase) -> None:
    if kb.path is not None:
        fold_held(kb)


BEFORE_READ.append(_before_read)
