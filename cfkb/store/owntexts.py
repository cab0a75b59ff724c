"""cfkb's own SPARQL texts, one per ``queries/own/<name>.rq``: read once, vouched for.

The named library (``queries/<name>.rq``, :mod:`cfkb.workflow.queries`) is what an
analyst runs; these are the texts the code runs itself. Each file opens with
comment lines saying what it answers and which variables the caller binds
(always through bindings, never pasted). A text read here is cfkb's own
(:func:`cfkb.store.guard.vouch`), so the query check does not parse it again.
"""

from __future__ import annotations

import functools

from cfkb.resources import queries_dir
from cfkb.store.guard import vouch


@functools.cache
def own_query(name: str) -> str:
    """The text of ``queries/own/<name>.rq``, read once per process."""
    return vouch((queries_dir() / "own" / f"{name}.rq").read_text(encoding="utf-8"))
