"""The plumbing of the streamed export (:mod:`cfkb.io.exportstream`): its blocks
(``(subject, pairs)`` runs in subject order) chained, merged and counted, its
text handed on in big pieces, and a bounded memo of per-term decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from cfkb.io.exportgraph import Pairs

__all__ = ["CHUNK", "MEMO", "Counted", "Memo", "chain", "merge_sorted", "write_chunked"]

#: Decisions remembered per distinct term at most (they are recomputed once forgotten).
MEMO = 50_000
#: Text gathered before it is handed to the writer.
CHUNK = 1 << 20


class Memo(dict[str, bool]):
    """``self[term]`` is ``decide(term)``, remembered for at most :data:`MEMO` terms."""

    def __init__(self, decide: Callable[[str], bool]) -> None:
        super().__init__()
        self.decide = decide

    def __missing__(self, term: str) -> bool:
        value = self.decide(term)
        if len(self) >= MEMO:
            self.clear()
        self[term] = value
        return value


class Counted:
    """Blocks passed through, their triples counted."""

    def __init__(self, blocks: Iterable[tuple[str, Pairs]]) -> None:
        self.blocks = blocks
        self.triples = 0

    def __iter__(self) -> Iterator[tuple[str, Pairs]]:
        for s, pairs in self.blocks:
            self.triples += len(pairs)
            yield s, pairs


def chain(*parts: Iterable[tuple[str, Pairs]]) -> Iterator[tuple[str, Pairs]]:
    """The blocks of each part in turn."""
    for part in parts:
        yield from part


def merge_sorted(stream: Iterable[tuple[str, Pairs]], extra: list[tuple[str, Pairs]]) -> Iterator[tuple[str, Pairs]]:
    """Two runs of blocks sorted by subject as one; a subject in both gets both its pairs."""
    j = 0
    for s, pairs in stream:
        while j < len(extra) and extra[j][0] < s:
            yield extra[j]
            j += 1
        if j < len(extra) and extra[j][0] == s:
            pairs = pairs + extra[j][1]
            j += 1
        yield s, pairs
    yield from extra[j:]


def write_chunked(pieces: Iterable[str], write: Callable[[str], object]) -> None:
    """Hand ``pieces`` to ``write`` joined into pieces of about :data:`CHUNK` characters."""
    buf: list[str] = []
    size = 0
    for piece in pieces:
        buf.append(piece)
        size += len(piece)
        if size >= CHUNK:
            write("".join(buf))
            buf.clear()
            size = 0
    if buf:
        write("".join(buf))
