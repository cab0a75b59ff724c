"""cfkb: a claims-and-sources knowledge base.

Every statement in the base is a claim: a reified RDF triple with provenance
(who said it, where, when, in which words, reported by which document).
SHACL shapes and set-at-a-time SPARQL surface contradictory claims.
"""

from __future__ import annotations

# the layers kept beside the graph follow every write, whoever writes
import cfkb.engine  # noqa: E402,F401,I001
from cfkb.errors import (
    AmbiguousNameError,
    CfkbError,
    InputError,
    ParseError,
    QueryError,
    StoreError,
    StoreExistsError,
    StoreLockedError,
    StoreMissingError,
    UnknownNameError,
)
from cfkb.model.vocabulary import CFID, CFKB, Claim
from cfkb.store.core import KnowledgeBase
from cfkb.version import __version__

__all__ = [
    "__version__",
    "AmbiguousNameError",
    "CFID",
    "CFKB",
    "CfkbError",
    "Claim",
    "InputError",
    "KnowledgeBase",
    "ParseError",
    "QueryError",
    "StoreError",
    "StoreExistsError",
    "StoreLockedError",
    "StoreMissingError",
    "UnknownNameError",
]
