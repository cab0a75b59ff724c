"""The export's own block: who exported, when, with which cfkb, the filters, the ceiling and the licence,
and how many claims were withheld by TLP (never which)."""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox

from cfkb.io.exportgraph import NT_TRUE, Pairs, literal, nt_iri
from cfkb.io.exportoptions import ExportOptions
from cfkb.io.exportselect import resolve_name
from cfkb.io.tlp import NT_OF_LEVEL, NT_TLP, NT_TYPE
from cfkb.model.vocabulary import CFID_NS, CFKB, DCT, XSD, content_hash
from cfkb.store.core import KnowledgeBase
from cfkb.version import __version__

EXPORT_PREFIX = CFID_NS + "export/"


def header(opts: ExportOptions, *, ceiling: str, default: str, withheld: int, claims: int, when: dt.datetime,
           filters: dict[str, str]) -> tuple[str, Pairs]:
    """The export's own block (its IRI, its pairs): who, when, what was asked, under which ceiling."""
    pairs: Pairs = [
        (NT_TYPE, nt_iri(CFKB.Export)),
        (nt_iri(DCT.created), literal(when.isoformat(), XSD.dateTime)),
        (nt_iri(CFKB.softwareVersion), literal(f"cfkb {__version__}")),
        (nt_iri(CFKB.tlpCeiling), NT_OF_LEVEL[ceiling]),
        (NT_TLP, NT_OF_LEVEL[ceiling]),
        (nt_iri(DCT.license), str(ox.NamedNode(opts.license))),
        (nt_iri(CFKB.claimCount), literal(str(claims), XSD.integer)),
        (nt_iri(CFKB.withheldClaims), literal(str(withheld), XSD.integer)),
        (nt_iri(CFKB.defaultTlp), NT_OF_LEVEL[default]),
    ]
    if opts.exporter:
        pairs.append((nt_iri(DCT.creator), literal(opts.exporter)))
    for name, value in filters.items():
        pairs.append((nt_iri(CFKB.term("filter" + name[0].upper() + name[1:])), value))
    iri = f"<{EXPORT_PREFIX}{content_hash(*sorted(p + ' ' + o for p, o in pairs))}>"
    return iri, pairs


def filters_of(kb: KnowledgeBase, opts: ExportOptions) -> dict[str, str]:
    """The filters asked for, as the header writes them (each by its name after ``cfkb:filter``)."""
    found: dict[str, str] = {}
    for key in ("entity", "area", "source"):
        name = getattr(opts, key)
        if name:
            found[key] = resolve_name(kb, name) or ""
    if opts.since:
        found["since"] = literal(opts.since.isoformat(), XSD.date)
    if opts.until:
        found["until"] = literal(opts.until.isoformat(), XSD.date)
    if opts.conflicts_only:
        found["conflictsOnly"] = NT_TRUE
    if opts.accepted_view:
        found["acceptedView"] = NT_TRUE
    if opts.profile:
        found["profile"] = literal(opts.profile)
    return found
