"""Small derived facts kept in the user's cache directory, by content hash.

What is kept here is worked out from text cfkb ships or reads (for example
which predicates a shape's SPARQL can match), keyed by a hash of that text,
and written as JSON: never code, so a cache file another program wrote can
at worst be wrong for its key, and a value that does not read back as
expected is worked out again. Deleting the directory loses nothing.
``$XDG_CACHE_HOME/cfkb`` (``~/.cache/cfkb``) is the directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """cfkb's directory under the user's cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path(os.environ.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "cfkb"


def read_json(kind: str, key: str) -> Any:
    """The value kept for ``key``, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((cache_dir() / kind / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(kind: str, key: str, value: Any) -> None:
    """Keep ``value`` for ``key`` (atomically; silently not, where the directory cannot be written)."""
    folder = cache_dir() / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(value, out)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass
