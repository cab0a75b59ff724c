"""The generation stamp of a base, and what a write that moves it sets off.

The state graph holds one ``<https://w3id.org/cfkb/id/base> cfkb:generation
"NNNN-tag"`` statement: nanoseconds (20 digits), then a random tag. Every
write that can change a conflict replaces it, in the same transaction, with a
later one (:meth:`cfkb.store.core.KnowledgeBase.write`), so what is kept beside
the graph (the claim table, the conflict index) says which state of the base
it belongs to by the generation it was made from.

Those layers register a follower here (:func:`add_write_follower`), run after
each such write has committed, so the store depends on none of them.

A value cfkb did not write (garbage a file or another program put there) is
never taken for the generation; the next write drops it.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import suppress
from typing import Any, TypeGuard

import pyoxigraph as ox

from cfkb.model.vocabulary import CFKB_NS, STATE_GRAPH
from cfkb.store.backend import Backend, value_of
from cfkb.store.spool import Prefix

STATE = ox.NamedNode("https://w3id.org/cfkb/id/base")
GENERATION = ox.NamedNode(CFKB_NS + "generation")
#: The revision of the grades and markings (:data:`~cfkb.model.vocabulary.MARK_PREDICATES`):
#: a write that keeps the generation but changes one of them replaces it.
MARKS_REVISION = ox.NamedNode(CFKB_NS + "marksRevision")
#: The revision of the names, types and merges (what the entity index holds): a write that
#: keeps the generation but changes one of them replaces it.
NAMES_REVISION = ox.NamedNode(CFKB_NS + "namesRevision")

_VALUE = re.compile(r"[0-9]{20}-[0-9a-f]{12}")
#: How far ahead of this machine's clock a generation may be (another writer's clock).
_AHEAD_NS = 86_400 * 10**9


def is_generation(term: object) -> TypeGuard[ox.Literal]:
    """Whether a ``cfkb:generation`` value is one cfkb writes: nanoseconds
    (not more than a day ahead of now: a value from the far future would be
    the latest forever), then a random tag."""
    return (isinstance(term, ox.Literal) and term.datatype.value == "http://www.w3.org/2001/XMLSchema#string"
            and _VALUE.fullmatch(term.value) is not None
            and int(term.value[:20]) <= time.time_ns() + _AHEAD_NS)


def stamps(store: Backend) -> list[ox.Quad]:
    """Every ``cfkb:generation`` statement of the base, cfkb's or not."""
    return list(store.quads_for_pattern(STATE, GENERATION, None, STATE_GRAPH))


def latest(store: Backend) -> str:
    """The latest generation cfkb wrote; empty for a base no such write has touched."""
    found = [q.object.value for q in stamps(store) if is_generation(q.object)]
    return max(found) if found else ""


def damaged(store: Backend) -> list[ox.Quad]:
    """The ``cfkb:generation`` statements whose values cfkb did not write."""
    return [q for q in stamps(store) if not is_generation(q.object)]


def next_stamp(old: list[ox.Quad]) -> ox.Quad:
    """A generation statement later than each of ``old`` (the base's :func:`stamps`)."""
    now = time.time_ns()
    latest_ns = max((int(q.object.value.split("-")[0]) for q in old if is_generation(q.object)), default=0)
    value = f"{max(now, latest_ns + 1):020d}-{uuid.uuid4().hex[:12]}"
    return ox.Quad(STATE, GENERATION, ox.Literal(value), STATE_GRAPH)


def marks_revision(store: Backend, which: ox.NamedNode = MARKS_REVISION) -> str:
    """The latest marks revision of the base (or names revision, as ``which`` says); empty for
    one no such write has touched."""
    return max((value_of(q.object) for q in store.quads_for_pattern(STATE, which, None, STATE_GRAPH)), default="")


def next_marks_revision(store: Backend, which: ox.NamedNode = MARKS_REVISION) -> tuple[ox.Quad, list[ox.Quad]]:
    """A new marks (or names) revision statement, and the ones it replaces."""
    old = list(store.quads_for_pattern(STATE, which, None, STATE_GRAPH))
    value = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
    return ox.Quad(STATE, which, ox.Literal(value), STATE_GRAPH), old


def previous(old: list[ox.Quad]) -> str:
    """The generation the followers are told a write started from (the largest of ``old``'s values)."""
    return max((value_of(q.object) for q in old), default="")


#: What runs after every committed write that moves the generation:
#: ``follower(kb, generation_before, added, removed, nquads)``. Layers kept
#: beside the graph (the claim table, :mod:`cfkb.engine.table`) register
#: here, so the store depends on none of them. A follower must not raise:
#: the write has committed; what it keeps is stamped and rebuilt if stale.
_WRITE_FOLLOWERS: list[Any] = []


def add_write_follower(follower: Any) -> None:
    """Run ``follower`` after each committed write that can change a conflict."""
    if follower not in _WRITE_FOLLOWERS:
        _WRITE_FOLLOWERS.append(follower)


def follow(kb: object, before: str, add: list[ox.Quad], remove: list[ox.Quad], nquads: bytes | Prefix = b"") -> None:
    """Run every follower after a committed write of ``kb`` that moved its generation from ``before``."""
    for follower in _WRITE_FOLLOWERS:
        with suppress(Exception):  # the write committed; a stale stamp is rebuilt later
            follower(kb, before, add, remove, nquads)
