"""Where a remote base is and how to reach it: its settings, from the config file and the environment.

A ``--store`` value that is an ``http(s)`` URL names a SPARQL server
(:func:`is_remote`); :func:`settings_for` gives its :class:`RemoteSettings`:
the endpoints, the credentials, the timeout, how to ask for the union of
graphs and which CA to trust. Credentials come from the environment or the
config file (:func:`config_path`), never from the URL or the command line;
the URL itself must be safe to send them to
(:func:`cfkb.store.remotehttp.check_url`). :meth:`RemoteSettings.connect`
opens the store (:class:`cfkb.store.remote.RemoteStore`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfkb.errors import InputError
from cfkb.store.remote import RemoteStore
from cfkb.store.remotehttp import Auth, check_url


def is_remote(location: object) -> bool:
    """Whether a store location names a SPARQL server.

    >>> is_remote("https://kb.example.org/cfkb"), is_remote("cfkb.store")
    (True, False)
    """
    return isinstance(location, RemoteSettings) or (
        isinstance(location, str) and location.lower().startswith(("http://", "https://")))


@dataclass(frozen=True)
class RemoteSettings:
    """Where a remote base is and how to talk to it. ``str()`` is the URL alone.

    ``query``, ``update`` and ``store`` are the endpoint URLs (default: the
    URL plus ``/query``, ``/update``, ``/store``, as Oxigraph server has
    them); ``store`` may be ``""`` for a server without the Graph Store
    Protocol. ``union_graphs``: see :mod:`cfkb.store.remote`.
    """

    url: str
    query: str | None = None
    update: str | None = None
    store: str | None = None
    auth: Auth | None = field(default=None, repr=False)
    timeout: float = 60.0
    union_graphs: tuple[str, ...] | None = None
    cafile: str | None = None

    def __str__(self) -> str:
        return self.url

    def connect(self, *, read_only: bool = False) -> RemoteStore:
        return RemoteStore(self.url, auth=self.auth, timeout=self.timeout, query_url=self.query,
                           update_url=self.update, store_url=self.store, union_graphs=self.union_graphs,
                           cafile=self.cafile, read_only=read_only)


def config_path(environ: Mapping[str, str]) -> Path:
    """The config file: ``$CFKB_REMOTE_CONFIG``, else ``$XDG_CONFIG_HOME/cfkb/remote.toml``
    (``~/.config/cfkb/remote.toml``)."""
    if environ.get("CFKB_REMOTE_CONFIG"):
        return Path(environ["CFKB_REMOTE_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "cfkb" / "remote.toml"


def _read_config(path: Path) -> dict[str, Any]:
    if not os.path.lexists(path):
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the same parser, from PyPI
        import tomli as tomllib
    from cfkb.store.files import read_regular

    data = read_regular(path, 1024 * 1024, what="config file", hint="a config file is never that long", follow=True)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:  # names a line and column, never the text
        raise InputError(f"{path}: {exc}") from None


def settings_for(url: str, environ: Mapping[str, str]) -> RemoteSettings:
    """Settings for a server URL from the config file and the environment.

    The config file (:func:`config_path`) is TOML: top-level keys apply to
    every server, a table named by the server URL to that one::

        timeout = 120
        ["https://kb.example.org/cfkb"]
        user = "alice"
        password = "..."            # or: token = "..."
        query = "https://kb.example.org/cfkb/sparql"
        update = "https://kb.example.org/cfkb/update"
        store = "https://kb.example.org/cfkb/data"
        union_graphs = ["urn:x-arq:DefaultGraph", "https://w3id.org/cfkb/graph/ontology"]
        cafile = "/etc/ssl/certs/our-ca.pem"

    The environment overrides it: ``CFKB_REMOTE_USER`` and
    ``CFKB_REMOTE_PASSWORD`` (HTTP Basic), ``CFKB_REMOTE_TOKEN`` (Bearer),
    ``CFKB_REMOTE_TIMEOUT`` (seconds).

    >>> s = settings_for("http://127.0.0.1:7878/", {"CFKB_REMOTE_TOKEN": "t", "HOME": "/nonexistent"})
    >>> s.url, s.auth, s.timeout, s.query, s.union_graphs
    ('http://127.0.0.1:7878', 't', 60.0, None, None)
    """
    url = check_url(url)
    path = config_path(environ)
    config = _read_config(path)
    section = {k: v for k, v in config.items() if not isinstance(v, dict)}
    section.update(config.get(url, config.get(url + "/", {})))
    unknown = set(section) - {"user", "password", "token", "query", "update", "store", "timeout", "union_graphs",
                              "cafile"}
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    user = environ.get("CFKB_REMOTE_USER") or section.get("user")
    password = environ.get("CFKB_REMOTE_PASSWORD") or section.get("password")
    token = environ.get("CFKB_REMOTE_TOKEN") or section.get("token")
    auth: Auth | None = None
    if token:
        auth = str(token)
    elif user:
        if password is None:
            raise InputError(f"a user for {url} but no password: set CFKB_REMOTE_PASSWORD or 'password' in {path}")
        auth = (str(user), str(password))
    try:
        timeout = float(environ.get("CFKB_REMOTE_TIMEOUT") or section.get("timeout", 60.0))
    except ValueError:
        raise InputError("CFKB_REMOTE_TIMEOUT must be a number of seconds") from None
    graphs = section.get("union_graphs")
    return RemoteSettings(url, query=section.get("query"), update=section.get("update"), store=section.get("store"),
                          auth=auth, timeout=timeout, cafile=section.get("cafile"),
                          union_graphs=tuple(str(g) for g in graphs) if graphs is not None else None)


def parse_location(text: str, environ: Mapping[str, str]) -> str | RemoteSettings:
    """A ``--store`` value as a location: a path stays text, a URL gets its settings."""
    return settings_for(text, environ) if is_remote(text) else text
