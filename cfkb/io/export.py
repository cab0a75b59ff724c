"""Export: deterministic, prefixed, TLP-filtered RDF of the base for partners.

:func:`export_to` hands the text to a writer as it is made (the CLI's
``-o`` file, stdout); :func:`export_base` gives it back as a string. Turtle,
TriG, N-Triples, N-Quads and JSON-LD never hold the base
(:mod:`cfkb.io.exportstream`: the claims are spilled to files and read back
in IRI order), but for JSON-LD that rdflib's serialiser must write (RDF
lists, a value rdflib would drop: decided per export). The nanopublication
profile, that JSON-LD, and :func:`export_whole` for any format, read
the base once as N-Triples strings (:mod:`cfkb.io.exportgraph`), decide with
:func:`cfkb.io.tlp.release` what may leave under the TLP ceiling, narrow
that to the subset asked for (:mod:`cfkb.io.exportselect`, with
:mod:`cfkb.io.exportconflicts` for the conflicts-only export and the
accepted view), and write it (:func:`write`: :mod:`cfkb.io.exportwrite`,
:mod:`cfkb.io.exportjsonld`; the nanopublication profile
:mod:`cfkb.io.exportnanopub`); both ways give the same bytes. The options
and the result are in :mod:`cfkb.io.exportoptions`, the header block in
:mod:`cfkb.io.exportheader`. Each subject's triples
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
from collections.abc import Callable, Iterable

import pyoxigraph as ox

from cfkb.errors import UnknownFormatError
from cfkb.io.exportgraph import Graph, Pairs, data_quads, read_base, read_graph
from cfkb.io.exportheader import EXPORT_PREFIX, filters_of, header
from cfkb.io.exportjsonld import write_jsonld
from cfkb.io.exportnanopub import write_nanopub
from cfkb.io.exportoptions import FORMATS, PROFILES, TLP_LICENSE, ExportOptions, ExportResult
from cfkb.io.exportselect import select
from cfkb.io.exportstream import STREAMED, export_streamed
from cfkb.io.exportwrite import write_nt, write_turtle
from cfkb.io.tlp import LEVEL_OF_NT, default_level, effective_ceiling, release
from cfkb.model.vocabulary import PREFIXES
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase

# -- the whole export ---------------------------------------------------------------

def export_base(kb: KnowledgeBase, options: ExportOptions | None = None) -> ExportResult:
    """Export the base as the options say: TLP-filtered, deterministic; the text in the result.

    Raises:
        UnknownFormatError: an unknown format or profile.
        InputError: a filter names an entity above the ceiling.
        UnknownNameError, AmbiguousNameError: a filter names no (or several) entities.
    """
    parts: list[str] = []
    result = export_to(kb, parts.append, options)
    result.text = "".join(parts)
    return result


def export_to(kb: KnowledgeBase, write: Callable[[str], object],
              options: ExportOptions | None = None) -> ExportResult:
    """Export the base as the options say, handing the text to ``write`` piece by piece as it is
    made (the result's ``text`` is empty). Turtle, TriG, N-Triples, N-Quads and JSON-LD never hold the
    base (:mod:`cfkb.io.exportstream`); JSON-LD that rdflib must write and the nanopublication profile
    read it whole first.
    Nothing is written when the export fails before its first piece (a filter naming nothing,
    an entity above the ceiling).

    Raises:
        as :func:`export_base`.
    """
    opts = _checked(options)
    with collector_paused():
        if opts.format in STREAMED:
            streamed = export_streamed(kb, opts, write)
            if streamed is not None:
                return streamed
        result = _export(kb, opts)
    write(result.text)
    result.text = ""
    return result


def export_whole(kb: KnowledgeBase, options: ExportOptions | None = None) -> ExportResult:
    """:func:`export_base` reading the whole base into memory first, whatever the format."""
    opts = _checked(options)
    with collector_paused():
        return _export(kb, opts)


def _checked(options: ExportOptions | None) -> ExportOptions:
    opts = options or ExportOptions()
    if opts.format not in FORMATS:
        raise UnknownFormatError(f"unknown export format {opts.format!r}; choose one of {', '.join(FORMATS)}")
    if opts.profile is not None and opts.profile not in PROFILES:
        raise UnknownFormatError(f"unknown profile {opts.profile!r}; choose one of {', '.join(PROFILES)}")
    if opts.profile == "nanopub" and opts.format not in ("trig", "nq"):
        raise UnknownFormatError("the nanopub profile needs named graphs: use --format trig or nq")
    return opts


def _export(kb: KnowledgeBase, opts: ExportOptions) -> ExportResult:
    ceiling = effective_ceiling(opts.ceiling)
    when = (opts.when or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    graph, bnodes = read_base(kb.store)
    default = default_level(kb)
    rel = release(graph, ceiling, default)
    sel = select(kb, graph, rel, opts, bnodes=bnodes)
    filters = filters_of(kb, opts)
    iri, head = header(opts, ceiling=rel.ceiling, default=rel.default, withheld=rel.withheld_claims,
                       claims=len(sel.claims), when=when, filters=filters)
    blocks = sel.blocks
    for t in sel.conflict_triples:
        blocks.setdefault(str(t.subject), []).append((str(t.predicate), str(t.object)))
    if opts.profile == "nanopub":
        text = write_nanopub(opts.format, iri, head, blocks, sel.claims, when, opts)
    else:
        text = write(opts.format, blocks, header=(iri, head))
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
    "ExportOptions", "ExportResult", "FORMATS", "PROFILES", "STREAMED", "TLP_LICENSE", "data_quads", "export_base",
    "export_to", "export_whole", "EXPORT_PREFIX",
    "read_graph", "turtle", "write", "LEVEL_OF_NT",
]
