"""What "the store is unchanged" means in the import tests.

Two views, both compared:

* ``files``: the SHA-256 of every file under the store directory, the
  RocksDB ``LOG`` included. A rejected import never opens the database for
  writing (it plans on a read-only view), and a read-only open writes
  nothing, so every byte must be the same.
* ``data``: every quad, as sorted N-Quads, read back through a read-only
  open: the same data even if a file were rewritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from cfkb.store.core import KnowledgeBase


@dataclass(frozen=True)
class StoreState:
    files: dict[str, str]
    data: tuple[str, ...]


def store_state(path: Path) -> StoreState:
    files = {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(path.rglob("*")) if p.is_file()}
    kb = KnowledgeBase.open(path)
    try:
        data = ox.serialize(list(kb.quads()), format=ox.RdfFormat.N_QUADS)
    finally:
        kb.close()
    text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
    return StoreState(files, tuple(sorted(text.splitlines())))


def claim_count(path: Path) -> int:
    kb = KnowledgeBase.open(path)
    try:
        return kb.claim_count()
    finally:
        kb.close()
