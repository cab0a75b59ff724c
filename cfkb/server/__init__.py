"""The web layer: a read-only SPARQL 1.1 endpoint and the analysts' pages.

:func:`create_app` (in :mod:`cfkb.server.app`) builds the ASGI application.
The package itself imports nothing heavy, so the query worker processes
(:mod:`cfkb.server.worker`) start without loading the web stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "get"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cfkb.server import app

        return getattr(app, name)
    raise AttributeError(name)
