"""The base as a streamed export reads it: claims spilled to files in IRI order, the rest kept.

:func:`read_spilled` reads the base's dump once, as :func:`cfkb.io.exportgraph.read_base`
does, but every line whose subject is a claim IRI (``cfid:claim/...``, nearly
all of a base) goes to a bucket file named by the first characters of its
subject, in the order the dump gives it (the dump gives a subject's lines
together, so they are routed run by run); only the other subjects (entities,
sources, vocabulary, assessments, blank nodes ...) are kept as a
:data:`~cfkb.io.exportgraph.Graph`. A bucket's key is a prefix of each of its
subjects, so the buckets in key order, each grouped by subject and sorted,
give every claim-prefixed subject with all its triples, in IRI order
(:meth:`Spilled.blocks`), whatever order the dump gave the lines in (pyoxigraph
gives a subject's triples together within a graph, but a subject's marks in
another graph come later). A bucket that grew past :data:`BUCKET_BYTES` is
cut again by the next character before it is read back, so memory is bounded
by a bucket, not by the base.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import IO, cast

from cfkb.io.exportgraph import Graph, Reader, read_into
from cfkb.model.vocabulary import CFKB, CLAIM_PREFIX
from cfkb.store.backend import Backend

#: How claim IRIs begin, as N-Triples writes them.
CLAIM_NT = "<" + CLAIM_PREFIX
_CLAIM = CLAIM_NT.encode()
#: The first two characters of the claim's hash name its bucket (256 buckets for hex hashes).
_KEY = len(_CLAIM) + 2
#: Spilled lines held before they are appended to their buckets.
FLUSH_BYTES = 8 << 20
#: A bucket larger than this is cut by its subjects' next character before it is read back
#: (256 buckets of 6 MB at a million claims).
BUCKET_BYTES = 8 << 20
_key_of = itemgetter(slice(None, _KEY))
_INCLUDES = f"<{CFKB.includes.value}>"
_INCLUDES_B = _INCLUDES.encode()


class SpillReader(Reader):
    """:class:`cfkb.io.exportgraph.Reader` that sends the lines of claim-prefixed subjects to bucket files."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.keys: set[bytes] = set()
        #: (region, what it includes) said by claim-prefixed subjects (an area filter needs every such edge)
        self.includes: list[tuple[str, str]] = []
        self._pending: dict[bytes, list[bytes]] = {}
        self._size = 0

    def _add(self, piece: bytes) -> None:
        if _CLAIM not in piece:
            super()._add(piece)
            return
        self.bnodes = self.bnodes or b"_:" in piece
        lines = piece.split(b" .\n")
        lines.pop()  # what follows the last line
        rest: list[bytes] = []
        pending = self._pending
        size = 0
        # the dump gives a subject's lines together: route them run by run
        for key, run in groupby(lines, _key_of):
            if not key.startswith(_CLAIM):
                rest.extend(run)
                continue
            held = list(run)
            size += sum(map(len, held))
            if b" " in key:  # a subject shorter than the key: the key is the subject
                for line in held:
                    pending.setdefault(line[:line.index(b" ")], []).append(line)
                continue
            found = pending.get(key)
            if found is None:
                pending[key] = held
            else:
                found.extend(held)
        if _INCLUDES_B in piece:
            for line in lines:
                if line.startswith(_CLAIM):
                    s, p, o = line.decode("utf-8").split(" ", 2)
                    if p == _INCLUDES:
                        self.includes.append((s, o))
        if rest:
            super()._add(b" .\n".join(rest) + b" .\n")
        self._size += size
        if self._size > FLUSH_BYTES:
            self.spill()

    def spill(self) -> None:
        """Append the lines held to their buckets."""
        for key, lines in self._pending.items():
            with open(self.directory / key.hex(), "ab") as out:
                out.write(b" .\n".join(lines) + b" .\n")
            self.keys.add(key)
        self._pending.clear()
        self._size = 0

    def close(self) -> None:
        super().close()
        self.spill()
        self._terms = {}  # the kept graph holds its terms; the index of them is no longer needed


class Spilled:
    """The base read for a streamed export: ``graph`` holds every subject but the claim-prefixed
    ones, which :meth:`blocks` gives back from the bucket files in IRI order."""

    def __init__(self, reader: SpillReader) -> None:
        self.graph: Graph = reader.graph
        self.bnodes = reader.bnodes
        self.includes = reader.includes
        self.directory = reader.directory
        self.buckets = [part for key in sorted(reader.keys) for part in _fit(reader.directory / key.hex())]

    def blocks(self) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """Every claim-prefixed subject with its (predicate, object) pairs, in IRI order,
        the pairs in the order the dump gave them."""
        for path in self.buckets:
            yield from _sorted_blocks(path)


def _sorted_blocks(path: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """A bucket's subjects with their pairs, in IRI order. An export reads the claims more
    than once (to judge them, then to write them): the first read parses the bucket's lines
    and keeps the result in its place (``marshal``, read back in C at about a third of the
    parse's cost); the later reads load that."""
    kept = path.with_name(path.name + ".m")
    if kept.exists():
        return cast(list[tuple[str, list[tuple[str, str]]]], marshal.loads(kept.read_bytes()))
    blocks = sorted(_group(path).items())
    kept.write_bytes(marshal.dumps(blocks))
    path.unlink()
    return blocks


def _group(path: Path) -> dict[str, list[tuple[str, str]]]:
    graph: dict[str, list[tuple[str, str]]] = {}
    get = graph.get
    lines = path.read_bytes().decode("utf-8").split(" .\n")
    lines.pop()
    for line in lines:
        s, p, o = line.split(" ", 2)
        pairs = get(s)
        if pairs is None:
            graph[s] = [(p, o)]
        else:
            pairs.append((p, o))
    return graph


def _fit(path: Path) -> list[Path]:
    """A bucket, or the smaller ones it is cut into while it is larger than :data:`BUCKET_BYTES`, in order."""
    if os.path.getsize(path) <= BUCKET_BYTES:
        return [path]
    parts = _split(path)
    if parts is None:
        return [path]
    path.unlink()
    return [fitted for part in parts for fitted in _fit(part)]


def _split(path: Path) -> list[Path] | None:
    """A bucket cut in smaller ones by the first character where its subjects differ, in order
    (None when it holds one subject only: that one is read whole)."""
    subjects: set[bytes] = set()
    with open(path, "rb") as f:
        for line in f:  # lines end with " .\n"; literals keep their newlines escaped
            subjects.add(line[:line.index(b" ")])
    if len(subjects) < 2:
        return None
    at = len(os.path.commonprefix(list(subjects)))
    del subjects
    parts: dict[bytes, list[bytes]] = {}
    outs: dict[bytes, IO[bytes]] = {}
    with ExitStack() as files, open(path, "rb") as f:
        def out(key: bytes) -> IO[bytes]:
            found = outs.get(key)
            if found is None:
                found = outs[key] = files.enter_context(open(f"{path}.{key[at:].hex()}", "wb"))
            return found

        for line in f:
            key = line[:line.index(b" ")][:at + 1]
            held = parts.setdefault(key, [])
            held.append(line)
            if len(held) >= 4096:
                out(key).writelines(parts.pop(key))
        for key, lines in parts.items():
            out(key).writelines(lines)
    # a key that is the whole subject (shorter) sorts before the longer ones it begins
    return [Path(f"{path}.{key[at:].hex()}") for key in sorted(outs)]


def read_spilled(store: Backend, directory: Path) -> Spilled:
    """Read the base as :func:`cfkb.io.exportgraph.read_base` does, spilling claim-prefixed subjects
    to bucket files in ``directory``."""
    reader = SpillReader(directory)
    read_into(store, reader, directory)
    return Spilled(reader)
