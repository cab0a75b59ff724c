"""Where a base is, and what must be there before one is opened or made there.

A location is a store directory or a SPARQL server (:func:`where`). A
directory is a cfkb store when it holds ``cfkb.json`` (:data:`MARKER`, what
made it) and ``oxigraph/`` (the RocksDB files): :func:`check_directory`
says what is wrong with one before it is opened, :func:`new_directory`
makes one. On a server, the ontology's named graph marks the dataset as a
cfkb base (:func:`check_server`, :func:`check_empty_server`).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Union

import pyoxigraph as ox

from cfkb.errors import StoreError, StoreExistsError, StoreMissingError
from cfkb.model.vocabulary import ONTOLOGY_GRAPH
from cfkb.version import __version__

if TYPE_CHECKING:
    from cfkb.store.remote import RemoteStore
    from cfkb.store.remotesettings import RemoteSettings

#: The file that makes a directory a cfkb store (what made it); an import holds a ``flock`` on it.
MARKER = "cfkb.json"
#: Where a base is: a directory, or a SPARQL server (URL text or :class:`RemoteSettings`).
Location = Union[str, "os.PathLike[str]", "RemoteSettings"]


def names_server(location: object) -> bool:
    """Whether a location's text is a server's URL (checked without loading the remote client).

    >>> names_server("https://kb.example.org/cfkb"), names_server("cfkb.store")
    (True, False)
    """
    return isinstance(location, str) and location.lower().startswith(("http://", "https://"))


def where(location: Location) -> Path | RemoteSettings:
    """A store directory, or a server's settings (the remote client is imported only for a server)."""
    if isinstance(location, os.PathLike) or (isinstance(location, str) and not names_server(location)):
        return Path(location)
    from cfkb.store.remotehttp import check_url
    from cfkb.store.remotesettings import RemoteSettings

    return location if isinstance(location, RemoteSettings) else RemoteSettings(check_url(str(location)))


def is_store(path: Path) -> bool:
    """Whether the directory is a cfkb store (it has the marker)."""
    return (path / MARKER).is_file()


def check_directory(path: Path) -> None:
    """Refuse to open what is not a whole cfkb store this version can open.

    Raises:
        StoreMissingError: nothing there.
        StoreError: not a cfkb store, another version's, or its database is missing.
    """
    if not is_store(path):
        if path.exists():
            raise StoreError(f"{path} is not a cfkb store (no {MARKER}); create one elsewhere with"
                             f" 'cfkb --store NEW_PATH init'")
        raise StoreMissingError(f"no store at {path}; create one with: cfkb --store {shlex.quote(str(path))} init")
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        marker = None
    if not isinstance(marker, dict) or marker.get("format") != 1:
        raise StoreError(f"{path} is not a cfkb store this version can open ({MARKER} is not cfkb's);"
                         " check the path")
    db = path / "oxigraph"
    # RocksDB would quietly create an empty database where one is missing
    if not (db / "CURRENT").is_file():
        raise StoreError(f"{path} is not a complete cfkb store (no database in {db.name}/);"
                         " restore it from a backup")


def new_directory(path: Path) -> ox.Store:
    """A new, empty database in a new or empty directory (its marker is written once it is set up).

    Raises:
        StoreExistsError: a store is already there.
        StoreError: the path is a non-empty directory that is not a store, or cannot be made.
    """
    if is_store(path):
        raise StoreExistsError(f"a cfkb store already exists at {path}")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise StoreError(f"{path} exists and is not a cfkb store; choose an empty or new path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        return ox.Store(str(path / "oxigraph"))
    except OSError as exc:
        raise StoreError(f"cannot create a store at {path}: {exc}") from exc


def write_marker(path: Path) -> None:
    """Mark the directory as a cfkb store, made by this version."""
    (path / MARKER).write_text(
        json.dumps({"format": 1, "created_by": f"cfkb {__version__}"}, indent=2) + "\n",
        encoding="utf-8",
    )


def check_empty_server(store: RemoteStore, settings: RemoteSettings) -> None:
    """Refuse to make a base on a server that holds one, or holds other data.

    Raises:
        StoreExistsError: a cfkb base is already there.
        StoreError: the server holds data that is not a cfkb base.
    """
    if store.contains_named_graph(ONTOLOGY_GRAPH):
        raise StoreExistsError(f"a cfkb base already exists at {settings}")
    if not store.is_empty():
        raise StoreError(f"{settings} holds data that is not a cfkb base; use an empty dataset")


def check_server(store: RemoteStore, settings: RemoteSettings) -> list[ox.NamedNode]:
    """Refuse to open a server that holds no cfkb base; the staging graphs an older cfkb left
    there (read in the same request, :meth:`RemoteStore.open_graphs`).

    Raises:
        StoreMissingError: the server holds no cfkb base.
    """
    base, staging = store.open_graphs()
    if not base:
        raise StoreMissingError(f"no cfkb base at {settings}; create one with 'cfkb --store {settings} init'")
    return staging
