"""Export: deterministic, prefixed, TLP-filtered RDF of the base for partners.

:func:`export_base` reads the base once as N-Triples strings
(:mod:`cfkb.io.exportgraph`), decides with :func:`cfkb.io.tlp.release` what
may leave under the TLP ceiling, narrows that to the subset asked for
(:mod:`cfkb.io.exportselect`, with :mod:`cfkb.io.exportconflicts` for the
conflicts-only export and the accepted view), and writes one of five formats
(:func:`write`: :mod:`cfkb.io.exportwrite`, :mod:`cfkb.io.exportjsonld`; the
nanopublication profile :mod:`cfkb.io.exportnanopub`). The options and the
result are in :mod:`cfkb.io.exportoptions`. Each subject's triples
form one block (a claim with its provenance together); blocks and their lines
are sorted, so the same base and options always give the same bytes. A header
block says who exported, when, with which cfkb, filters, ceiling and licence,
and how many claims were withheld by TLP (never which).

What never leaves: TLP:RED; anything above the ceiling, whatever it is (a
claim, an entity, a source, an entity at a vocabulary's or a foreign IRI,
what the base says about a vocabulary term) and wherever its ``cfkb:tlp`` is
(the base's own graphs included); claims that name a withheld entity,
source, document or term; entities only withheld claims mention; import
batches, their files and analysts; the base's settings; who recorded each
claim and when (the receiving base records its own); assessments that touch
a withheld claim; analysts' names on assessments. The header names the one
who exported, as the point of contact for the release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pyoxigraph as ox

from cfkb.errors import UnknownFormatError
from cfkb.io.exportgraph import NT_TRUE, Graph, Pairs, data_quads, literal, nt_iri, read_base, read_graph
from cfkb.io.exportjsonld import write_jsonld
from cfkb.io.exportnanopub import write_nanopub
from cfkb.io.exportoptions import FORMATS, PROFILES, TLP_LICENSE, ExportOptions, ExportResult
from cfkb.io.exportselect import resolve_name, select
from cfkb.io.exportwrite import write_nt, write_turtle
from cfkb.io.tlp import (
    LEVEL_OF_NT,
    NT_OF_LEVEL,
    NT_TLP,
    NT_TYPE,
    Release,
    default_level,
    effective_ceiling,
    release,
)
from cfkb.model.vocabulary import CFID_NS, CFKB, DCT, PREFIXES, XSD, content_hash
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase
from cfkb.version import __version__

EXPORT_PREFIX = CFID_NS + "export/"


# -- the header -------------------------------------------------------------------

def _header(opts: ExportOptions, rel: Release, claims: int, when: dt.datetime,
            filters: dict[str, str]) -> tuple[str, Pairs]:
    """The export's own block (its IRI, its pairs): who, when, what was asked, under which ceiling."""
    pairs: Pairs = [
        (NT_TYPE, nt_iri(CFKB.Export)),
        (nt_iri(DCT.created), literal(when.isoformat(), XSD.dateTime)),
        (nt_iri(CFKB.softwareVersion), literal(f"cfkb {__version__}")),
        (nt_iri(CFKB.tlpCeiling), NT_OF_LEVEL[rel.ceiling]),
        (NT_TLP, NT_OF_LEVEL[rel.ceiling]),
        (nt_iri(DCT.license), str(ox.NamedNode(opts.license))),
        (nt_iri(CFKB.claimCount), literal(str(claims), XSD.integer)),
        (nt_iri(CFKB.withheldClaims), literal(str(rel.withheld_claims), XSD.integer)),
        (nt_iri(CFKB.defaultTlp), NT_OF_LEVEL[rel.default]),
    ]
    if opts.exporter:
        pairs.append((nt_iri(DCT.creator), literal(opts.exporter)))
    for name, value in filters.items():
        pairs.append((nt_iri(CFKB.term("filter" + name[0].upper() + name[1:])), value))
    iri = f"<{EXPORT_PREFIX}{content_hash(*sorted(p + ' ' + o for p, o in pairs))}>"
    return iri, pairs


def _filters(kb: KnowledgeBase, opts: ExportOptions) -> dict[str, str]:
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


# -- the whole export ---------------------------------------------------------------

def export_base(kb: KnowledgeBase, options: ExportOptions | None = None) -> ExportResult:
    """Export the base as the options say: TLP-filtered, deterministic.

    Raises:
        UnknownFormatError: an unknown format or profile.
        InputError: a filter names an entity above the ceiling.
        UnknownNameError, AmbiguousNameError: a filter names no (or several) entities.
    """
    opts = options or ExportOptions()
    if opts.format not in FORMATS:
        raise UnknownFormatError(f"unknown export format {opts.format!r}; choose one of {', '.join(FORMATS)}")
    if opts.profile is not None and opts.profile not in PROFILES:
        raise UnknownFormatError(f"unknown profile {opts.profile!r}; choose one of {', '.join(PROFILES)}")
    if opts.profile == "nanopub" and opts.format not in ("trig", "nq"):
        raise UnknownFormatError("the nanopub profile needs named graphs: use --format trig or nq")
    with collector_paused():
        return _export(kb, opts)


def _export(kb: KnowledgeBase, opts: ExportOptions) -> ExportResult:
    ceiling = effective_ceiling(opts.ceiling)
    when = (opts.when or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    graph, bnodes = read_base(kb.store)
    rel = release(graph, ceiling, default_level(kb))
    sel = select(kb, graph, rel, opts, bnodes=bnodes)
    filters = _filters(kb, opts)
    iri, header = _header(opts, rel, len(sel.claims), when, filters)
    blocks = sel.blocks
    for t in sel.conflict_triples:
        blocks.setdefault(str(t.subject), []).append((str(t.predicate), str(t.object)))
    if opts.profile == "nanopub":
        text = write_nanopub(opts.format, iri, header, blocks, sel.claims, when, opts)
    else:
        text = write(opts.format, blocks, header=(iri, header))
    return ExportResult(text=text, iri=iri[1:-1], claims=len(sel.claims), withheld=rel.withheld_claims,
                        ceiling=ceiling, triples=sum(len(v) for v in blocks.values()), filters=filters)


# -- writing blocks in a format -------------------------------------------------------

def write(fmt: str, blocks: Graph, *, header: tuple[str, Pairs] | None = None,
          prefixes: dict[str, str] | None = None) -> str:
    """Blocks of (predicate, object) N-Triples strings per subject, in a format.

    The header block comes first; every other block and line is sorted.
    """
    prefixes = prefixes or dict(PREFIXES)
    if fmt in ("nt", "nq"):
        return write_nt(blocks, header)
    if fmt in ("turtle", "trig"):
        return write_turtle(blocks, prefixes, header=header, trig=fmt == "trig")
    if fmt == "jsonld":
        return write_jsonld(blocks, header, prefixes)
    raise UnknownFormatError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


# -- the old entry points, kept for callers that hold terms ---------------------------

def turtle(triples: Iterable[ox.Triple], header: str = "") -> str:
    """Deterministic Turtle of some triples: prefixes, then one sorted block per subject."""
    blocks: Graph = {}
    for t in triples:
        blocks.setdefault(str(t.subject), []).append((str(t.predicate), str(t.object)))
    text = write("turtle", blocks)
    return (header + "\n" if header else "") + text


__all__ = [
    "ExportOptions", "ExportResult", "FORMATS", "PROFILES", "TLP_LICENSE", "data_quads", "export_base",
    "read_graph", "turtle", "write", "LEVEL_OF_NT",
]
