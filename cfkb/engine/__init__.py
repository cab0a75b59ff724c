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
the same file, current after every write.

Importing this package is cheap: DuckDB is loaded only where a table is read
or kept. It registers the store's write follower, which keeps an existing
table and the index current after each committed write.
"""

from __future__ import annotations

from typing import Any

from cfkb.engine.common import FILE, INDEX_TABLES, on_progress, tell
from cfkb.store.core import KnowledgeBase, add_write_follower

__all__ = ["FILE", "INDEX_TABLES", "on_progress", "tell"]


def _follow(kb: KnowledgeBase, before: str, add: list[Any], remove: list[Any], nquads: bytes = b"") -> None:
    if kb.path is None:
        _follow_remote(kb, before, add, remove, nquads)
        return
    if not (kb.path / FILE).is_file():
        return  # no table yet: the first read builds it
    # DuckDB is loaded by the first write that has a table to keep, not by every command
    from cfkb.engine.index import follow
    from cfkb.engine.upkeep import follow_write

    follow_write(kb, before, add, remove, nquads, also=follow)


def _follow_remote(kb: KnowledgeBase, before: str, add: list[Any], remove: list[Any], nquads: bytes) -> None:
    """A write to a shared server: its table in the user's cache follows by a delta too."""
    if not kb.location.startswith(("http://", "https://")):
        return  # an in-memory base has no stored table
    from cfkb.engine.index import follow
    from cfkb.engine.remote import follow_remote_write

    follow_remote_write(kb, before, add, remove, nquads, also=follow)


add_write_follower(_follow)
