"""Claim lines written ahead of a bulk write, so a big import never holds them in memory.

A streaming import checks its input chunk by chunk and appends each
chunk's new claims, as N-Quads lines, to a spool file in the store
directory. Nothing reads the spool but the import that writes it: at the
commit, :meth:`cfkb.store.core.KnowledgeBase.write_many` appends the batch's own
quads, fsyncs it and renames it to the redo journal, and the journal's
commit file is the commit point as for any bulk write. An import that
fails, or is refused, removes its spool; one that was killed leaves it for
the next import (or the next write open while no import runs) to remove.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import BinaryIO

from cfkb.errors import StoreError

#: The spool's name in the store directory.
SPOOL = "import.spool.nq"


class Spool:
    """An N-Quads file that grows line by line; see the module docs."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / SPOOL
        #: bytes and lines written so far
        self.size = 0
        self.lines = 0
        #: CRC-32 of the bytes written
        self.crc32 = 0
        #: whether the text holds ``_:`` (a blank node, or text that looks like one)
        self.blank_nodes = False
        self._file: BinaryIO | None = None
        try:
            self.path.unlink(missing_ok=True)  # a killed import's
            self._file = open(self.path, "wb")  # noqa: SIM115 - kept open until the commit or discard
        except OSError as exc:
            raise _failed(exc) from exc

    def write(self, text: str, *, blank_nodes: bool | None = None) -> None:
        """Append whole N-Quads lines; ``blank_nodes``, where the writer knows it, says
        whether they name a blank node (else the text is searched for ``_:``)."""
        assert self._file is not None, "the spool is closed"
        data = text.encode("utf-8")
        try:
            self._file.write(data)
        except OSError as exc:
            self.discard()
            raise _failed(exc) from exc
        self.size += len(data)
        self.lines += data.count(b"\n")
        self.crc32 = zlib.crc32(data, self.crc32)
        self.blank_nodes = self.blank_nodes or (b"_:" in data if blank_nodes is None else blank_nodes)

    def read(self) -> bytes:
        """Everything written (for a batch small enough for a transaction)."""
        assert self._file is not None, "the spool is closed"
        self._file.flush()
        return self.path.read_bytes()

    def finish(self, tail: bytes, target: Path) -> None:
        """Append ``tail``, fsync, and rename the spool to ``target`` (which is then whole on disk)."""
        assert self._file is not None, "the spool is closed"
        f, self._file = self._file, None
        try:
            with f:
                f.write(tail)
                f.flush()
                os.fsync(f.fileno())
            os.replace(self.path, target)
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        self.crc32 = zlib.crc32(tail, self.crc32)
        self.blank_nodes = self.blank_nodes or b"_:" in tail

    def drop_subjects(self, iris: set[str]) -> None:
        """Remove the lines about these IRIs (claims another writer added meanwhile)."""
        assert self._file is not None, "the spool is closed"
        self._file.close()
        kept = self.path.with_name(self.path.name + ".kept")
        heads = {f"<{iri}> ".encode() for iri in iris}
        self.size = self.lines = self.crc32 = 0
        with open(self.path, "rb") as old, open(kept, "wb") as new:
            for line in old:
                if line[: line.find(b"> ") + 2] not in heads:
                    new.write(line)
                    self.size += len(line)
                    self.lines += 1
                    self.crc32 = zlib.crc32(line, self.crc32)
        os.replace(kept, self.path)
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open until the commit or discard

    def discard(self) -> None:
        """Close and remove the spool (nothing of it is written to the base)."""
        f, self._file = self._file, None
        if f is not None:
            f.close()
        self.path.unlink(missing_ok=True)


class Prefix:
    """The first ``size`` bytes of an open file, read as a stream (for :func:`pyoxigraph.parse`)."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file = file
        self._left = size

    def __bool__(self) -> bool:
        return self._left > 0

    def __len__(self) -> int:
        """The bytes not read yet."""
        return self._left

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        return data


def _failed(exc: OSError) -> StoreError:
    return StoreError(f"write failed, nothing was changed: {' '.join(str(exc).split())}")
