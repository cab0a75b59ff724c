"""The entity index kept in a file beside the graph, so a command that takes a name does not read every name.

Reading the names, types and merges of a base takes a second at 100k
claims and 15 s at a million, and normalising every name for the exact-name
table as long again; a command that resolves one name needs neither when
:data:`FILE` holds them, stamped with the state of the base it was read
from (:func:`stamp`: the generation and the names revision, one of which
every write that changes a name, a type or a merge moves in the same
transaction). A file whose stamp is not the base's is never used; a reader
stamps what it writes with the state it saw *before* it read the names, so a
write in between leaves a file that no later reader takes. A write that
finds the file current brings it along (:func:`cfkb.store.entityindex.follow_write`
on it, then :func:`save`); a bulk write leaves it behind, and the next
reader writes it again. Like the claim table, it is made by whoever reads
the names of a base that has :data:`KEEP_FROM` or more; a smaller base
keeps none. The file is JSON: a store directory may come from elsewhere,
and nothing in it is run.

The stamp lives in a small file of its own, :data:`STAMP_FILE`, with the ID
of the names file's content it vouches for. Most writes change no name (a
claim about entities the base has), and these only move that stamp: the
names file, some 3 MB at 100k claims and 29 MB at a million, is read and
written again only by a write that names, types or merges an entity.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.model.names import EntityIndex
from cfkb.store import entityindex, generations
from cfkb.store.backend import Backend
from cfkb.store.files import write_regular

#: The file in the store directory.
FILE = "names.json"
#: The file that says which state of the base the names file holds: ``<content ID> <state>``.
STAMP_FILE = "names.stamp"
#: The layout of the file; a file of another is read again from the graph.
VERSION = 2
#: A base with fewer names than this reads them each time (a few milliseconds) and keeps no file.
KEEP_FROM = 5_000


def index_of(base: entityindex.Base, directory: Path) -> EntityIndex:
    """The entity index of the base in ``directory``: from the file if it is current, else read
    from the graph (and kept in the file, for a base with :data:`KEEP_FROM` names or more)."""
    state = stamp(base.store)
    index = load(directory, state)
    if index is None:
        index = entityindex.read_index(base)
        if len(index.labels) >= KEEP_FROM:
            save(directory, state, index)
    return index


def state_if_kept(directory: Path | None, store: Backend) -> str | None:
    """The state of the base (:func:`stamp`), when it keeps its names in the file; else None."""
    if directory is None or not (directory / FILE).is_file():
        return None
    return stamp(store)


def follow(directory: Path, before: str, index: EntityIndex | None, store: Backend, add: list[ox.Quad],
           remove: list[ox.Quad]) -> None:
    """After a committed write: the file, if it held the base as it was ``before`` the write,
    takes what the write changed (``index``: the writer's own index, already followed). A
    write that changes no name, type or merge only moves the stamp."""
    if not entityindex.names_touched(add, remove):
        _restamp(directory, before, stamp(store))
        return
    if index is None:
        index = load(directory, before)
        if index is None or not entityindex.follow_write(index, store, add, remove):
            return  # left behind: its stamp is not the base's any more
    save(directory, stamp(store), index)


def stamp(store: Backend) -> str:
    """The state of the base an index read now belongs to."""
    return f"{generations.latest(store)} {generations.marks_revision(store, generations.NAMES_REVISION)}"


def _stamped(directory: Path) -> tuple[str, str] | None:
    """(content ID, state) of the stamp file; None where there is none, or it is damaged."""
    try:
        content, _, state = (directory / STAMP_FILE).read_text(encoding="utf-8").partition(" ")
    except (OSError, UnicodeDecodeError):
        return None
    return (content, state) if content and state else None


def _restamp(directory: Path, before: str, after: str) -> None:
    """Say the names file holds state ``after`` too, if it held ``before`` (a write that changed no name)."""
    held = _stamped(directory)
    if held is not None and held[1] == before:
        with contextlib.suppress(InputError):  # a directory that cannot be written: the file is left behind
            write_regular(directory / STAMP_FILE, f"{held[0]} {after}".encode())


def load(directory: Path, expected: str) -> EntityIndex | None:
    """The index in the file, if it was read from the base in state ``expected``; else None."""
    held = _stamped(directory)
    if held is None or held[1] != expected:
        return None
    try:
        with open(directory / FILE, encoding="utf-8") as f:
            kept = json.load(f)
        if not isinstance(kept, dict) or kept.get("version") != VERSION or kept.get("content") != held[0]:
            return None
        return EntityIndex.from_rows(((str(i), str(n), bool(p), str(k)) for i, n, p, k in kept["names"]),
                                     {str(e): {str(t) for t in ts} for e, ts in kept["types"].items()},
                                     {str(a): str(b) for a, b in kept["merged"].items()})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # none, damaged or foreign: the names are read from the graph


def save(directory: Path, state: str, index: EntityIndex) -> None:
    """Keep ``index``, read from the base in state ``state``, in the file (replaced whole), and
    its stamp. A directory that cannot be written keeps no file; an index grown by a file
    being read is not the base's, and is not kept."""
    if index.grown:
        return
    content = uuid.uuid4().hex
    held = {"version": VERSION, "content": content, "names": index.rows(),
            "types": {e: sorted(ts) for e, ts in index.types.items() if ts}, "merged": index.merged}
    data = json.dumps(held, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with contextlib.suppress(InputError):  # a directory that cannot be written keeps none
        # the names first: a stamp written before them would vouch for a file not yet there
        write_regular(directory / FILE, data)
        write_regular(directory / STAMP_FILE, f"{content} {state}".encode())
