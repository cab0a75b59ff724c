"""The conflict engine's column-store layer: a claim table beside the graph, and
the conflict rules run as SQL over it.

It depends on the store and the model only. :mod:`cfkb.engine.table` keeps a
DuckDB file with one row per reified statement (claims and gazetteer
background statements) in the store directory, stamped with the base's
generation; :mod:`cfkb.engine.rules` runs each rule's executable form
(``shapes/*.sql``) over it and answers with the same rows as the rule's
compiled SHACL-SPARQL (:func:`cfkb.conflicts.compile_rule`).

Importing this package is cheap: DuckDB is loaded only where a table is read
or kept. It registers the store's write follower, which keeps an existing
table current after each committed write.
"""

from __future__ import annotations

from typing import Any

from cfkb.store import KnowledgeBase, add_write_follower

#: the claim table's file in the store directory
FILE = "claims.duckdb"


def _follow(kb: KnowledgeBase, before: str, add: list[Any], remove: list[Any], nquads: bytes = b"") -> None:
    if kb.path is None or not (kb.path / FILE).is_file():
        return  # no table yet: the first read builds it
    from cfkb.engine.table import follow_write

    follow_write(kb, before, add, remove, nquads)


add_write_follower(_follow)
