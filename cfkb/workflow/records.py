"""Sources' track records: the claims each made, how they were ranked, the conflicts they are in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.decisions import _v

if TYPE_CHECKING:
    from cfkb.workflow.conflicts import Conflict


@dataclass
class SourceRecord:
    iri: str
    label: str
    kind: str
    reliability: str | None
    claims: int
    preferred: int
    deprecated: int
    conflicts: int
    last_spoke: str | None


def source_records(kb: KnowledgeBase, conflicts: Iterable[Conflict] | None = None) -> list[SourceRecord]:
    """Each speaker, outlet and document with its grading and track record."""
    in_conflict: dict[str, set[str]] = defaultdict(set)
    if conflicts is None:
        from cfkb.engine.index import open_index  # deferred: loads duckdb

        with open_index(kb) as index:
            for source, ids in index.by_source().items():
                in_conflict[source] = ids
    for c in conflicts or ():
        for v in c.claims:
            for ref in (v.outlet, v.speaker):
                if ref is not None:
                    in_conflict[ref.iri].add(c.id)
    rows = kb.select(own_query("source_records"))
    out = []
    for r in rows:
        iri = r["src"].value
        out.append(SourceRecord(
            iri=iri, label=r["label"].value if "label" in r else iri,
            kind=r["type"].value.rsplit("#", 1)[-1] if "type" in r else "",
            reliability=_v(r, "rel"), claims=int(r["n"].value),
            preferred=int(r["pref"].value) if "pref" in r else 0,
            deprecated=int(r["dep"].value) if "dep" in r else 0,
            conflicts=len(in_conflict.get(iri, ())), last_spoke=_v(r, "last"),
        ))
    return out
