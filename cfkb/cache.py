"""The stored conflict set: the rules' answers, kept beside an on-disk base.

Running every rule over a large base takes a while (tens of seconds at 100k
claims), but the answer only changes when the data does. So the answers are
kept in a file in the store directory, stamped with the base's
:meth:`~cfkb.store.KnowledgeBase.generation` and a digest of the rules. A
run finds them current when both stamps match; any write that can change a
conflict moves the base to a new generation in the same transaction, so a
stale file can never pass for current, whatever process wrote what.

A small import keeps the file current (:func:`update`): the conflicts of the
new claims come from the incremental check, and the conflicts the new claims
may undo (a rule's ``FILTER NOT EXISTS`` over other claims, such as the
sub-list exception of the functional rule) are checked again. A large one
leaves it to the next full run.

The file is a cache in the strict sense: deleting it loses nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import pyoxigraph as ox

from cfkb.model import RDF_NS, content_hash
from cfkb.store import KnowledgeBase

FILE = "conflicts.json"
FORMAT = 1

Row = dict[str, Any]
Rows = dict[str, list[Row]]  # rule IRI -> result rows


def rules_digest(rules: Sequence[Any]) -> str:
    """A digest of the rules' texts: other rules, other answers."""
    return content_hash(str(FORMAT), *(f"{r.iri}\n{r.select}\n{r.target_class}" for r in rules))


def load(kb: KnowledgeBase, rules: Sequence[Any], generation: str | None) -> Rows | None:
    """The stored answers of ``rules``, if they were stamped with ``generation``
    (pass the base's current :meth:`~cfkb.store.KnowledgeBase.generation`)."""
    if kb.path is None or generation is None:
        return None
    try:
        data = json.loads((kb.path / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("generation") != generation \
            or data.get("rules") != rules_digest(rules):
        return None
    try:
        return {rule.iri: [{var: ox.NamedNode(iri) for var, iri in row.items()} for row in data["rows"][rule.iri]]
                for rule in rules}
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def save(kb: KnowledgeBase, rules: Sequence[Any], rows: Rows, generation: str | None) -> bool:
    """Keep ``rows`` as the answers of ``rules`` on the base at ``generation``.

    Written to a temporary file and renamed, so a reader sees the old file or
    the new one. False (and nothing written) where the directory cannot be
    written, for an in-memory or remote base, or for a base no write has
    stamped yet.
    """
    if kb.path is None or generation is None:
        return False
    data = {"format": FORMAT, "generation": generation, "rules": rules_digest(rules),
            "rows": {iri: sorted(({var: term.value for var, term in row.items()} for row in found),
                                 key=lambda r: sorted(r.items()))
                     for iri, found in rows.items()}}
    try:
        fd, tmp = tempfile.mkstemp(prefix=".conflicts-", dir=kb.path)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"))
        os.replace(tmp, kb.path / FILE)
    except OSError:
        return False
    return True


def undoable(select: str) -> bool:
    """True when the rule can lose an answer as claims are added: a
    ``FILTER NOT EXISTS`` that reads a variable the rule does not select."""
    from rdflib import Variable

    from cfkb.conflicts import rule_patterns

    selected, patterns = rule_patterns(select)
    return any(negated and isinstance(s, Variable) and str(s) not in selected for s, _, _, negated in patterns)


_SUBJECT, _OBJECT = ox.NamedNode(RDF_NS + "subject"), ox.NamedNode(RDF_NS + "object")


def _entities(kb: KnowledgeBase, claims: Iterable[ox.NamedNode]) -> set[str]:
    out = set()
    for claim in claims:
        for q in kb.store.quads_for_pattern(claim, None, None, None):
            if q.predicate in (_SUBJECT, _OBJECT):
                out.add(q.object.value)
    return out


def update(kb: KnowledgeBase, rules: Sequence[Any], stored: Rows, added: Sequence[str], new_rows: Rows) -> bool:
    """Bring ``stored`` answers (current before the write) to the base as it
    is now, after ``added`` claims were written, and store them; ``new_rows``
    are each rule's rows involving the new claims
    (:func:`cfkb.conflicts.incremental_rows`)."""
    from cfkb.conflicts import compile_rule

    generation = kb.generation()
    touched = _entities(kb, (ox.NamedNode(i) for i in added))
    for rule in rules:
        query = compile_rule(rule)
        rows = stored[rule.iri]
        if undoable(rule.select) and touched:
            kept: list[Row] = []
            for row in rows:
                pair = (row["this"], row["value"])
                if _entities(kb, pair) & touched:
                    if not kb.select(query, {"this": pair[0], "value": pair[1]}, plan_with_bindings=True):
                        continue
                kept.append(row)
            rows = kept
        seen = {tuple(sorted((k, v.value) for k, v in row.items())) for row in rows}
        for row in new_rows.get(rule.iri, ()):
            key = tuple(sorted((k, v.value) for k, v in row.items()))
            if key not in seen:
                seen.add(key)
                rows.append(row)
        stored[rule.iri] = rows
    return save(kb, rules, stored, generation)
