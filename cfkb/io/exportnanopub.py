"""The nanopublication profile: each claim of an export as its own nanopublication (TriG or N-Quads).

A claim's assertion graph holds what was said, its provenance graph who said
it, where and when, its publication info the marking, rank and the export;
the header and the entities stay in the default graph.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import pyoxigraph as ox

from cfkb.io.exportgraph import (
    NT_ATTRIBUTED,
    NT_IN_AREA,
    NT_MODALITY,
    NT_NEGATED,
    NT_OBJECT,
    NT_PREDICATE,
    NT_RANK,
    NT_SUBJECT,
    Graph,
    Pairs,
    literal,
    nt_iri,
)
from cfkb.io.exportoptions import ExportOptions
from cfkb.io.exportwrite import Shortener, block_order, nt_block, prefix_lines, turtle_block
from cfkb.io.tlp import NT_TLP, NT_TYPE
from cfkb.model.vocabulary import CFID_NS, CFKB, CLAIM_PREFIX, DCT, PREFIXES, PROV, XSD

NP_NS = "http://www.nanopub.org/nschema#"
NANOPUB_PREFIX = CFID_NS + "np/"
#: The claim's content (what was said, in which context): a nanopub's assertion.
_ASSERTION = frozenset({NT_TYPE, NT_SUBJECT, NT_PREDICATE, NT_OBJECT, NT_NEGATED, NT_IN_AREA,
                        nt_iri(CFKB.election), NT_MODALITY, nt_iri(CFKB.validFrom), nt_iri(CFKB.validUntil)})


def write_nanopub(fmt: str, iri: str, header: Pairs, blocks: Graph, claims: set[str], when: dt.datetime,
                  opts: ExportOptions) -> str:
    """Each claim as a nanopublication: head, assertion, provenance and pubinfo graphs.

    The assertion is what was said (the claim's triple, negation and
    context); the provenance who said it, where, when, in which words, and
    the grading; the publication info the marking, rank, export time, exporter
    and licence. Entities and the export header go in the default graph.
    """
    default: Graph = {s: pairs for s, pairs in blocks.items() if s not in claims}
    return "".join(nanopub_pieces(fmt, iri, header, default, ((c, blocks[c]) for c in claims), when, opts,
                                  ordered=False))


class OutOfOrder(Exception):
    """The claims' nanopublications do not come in the order they are written in."""


def nanopub_pieces(fmt: str, iri: str, header: Pairs, default: Graph, claims: Iterable[tuple[str, Pairs]],
                   when: dt.datetime, opts: ExportOptions, *, ordered: bool = True,
                   held: Graph | None = None) -> Iterator[str]:
    """:func:`write_nanopub`'s text in pieces: ``default`` holds the blocks of the default graph.

    With ``ordered``, ``claims`` come in the order their nanopublications are
    written (by graph name for N-Quads, by nanopublication for TriG), and
    the claims ``held`` are merged in; else every piece is made, then sorted.

    Raises:
        OutOfOrder: the claims did not come in order (some pieces may have been given already).
    """
    np = {n: f"<{NP_NS}{n}>" for n in ("Nanopublication", "hasAssertion", "hasProvenance", "hasPublicationInfo")}
    info_pairs = [(nt_iri(DCT.created), literal(when.isoformat(), XSD.dateTime)),
                  (nt_iri(DCT.license), str(ox.NamedNode(opts.license))), (nt_iri(CFKB.export), iri)]
    if opts.exporter:
        info_pairs.append((nt_iri(DCT.creator), literal(opts.exporter)))
    derived, meta = nt_iri(PROV.wasDerivedFrom), (NT_TLP, NT_RANK)
    prefixes = {**PREFIXES, "np": NP_NS}
    short = Shortener(prefixes, limit=50_000)
    skip = len("<" + CLAIM_PREFIX)

    def made(c: str, pairs: Pairs) -> list[tuple[str, str]]:
        """A claim's four graphs: one piece per graph, by its name (N-Quads), or one for all, by the
        nanopublication (TriG)."""
        h = c[skip:-1]
        base = NANOPUB_PREFIX + h
        pub, head, assertion, prov, info = (f"<{base}{x}>" for x in ("", "#head", "#assertion", "#provenance",
                                                                      "#pubinfo"))
        graphs = (
            (head, {pub: [(NT_TYPE, np["Nanopublication"]), (np["hasAssertion"], assertion),
                          (np["hasProvenance"], prov), (np["hasPublicationInfo"], info)]}),
            (assertion, {c: [(p, o) for p, o in pairs if p in _ASSERTION]}),
            (prov, {c: [(p, o) for p, o in pairs if p not in _ASSERTION and p not in meta],
                    assertion: [(derived, c)] + [(NT_ATTRIBUTED, o) for p, o in pairs if p == NT_ATTRIBUTED]}),
            (info, {pub: info_pairs, c: [(p, o) for p, o in pairs if p in meta]}),
        )
        if fmt == "nq":
            return sorted((g, "".join([nt_block(s, graph[s], g) for s in sorted(graph)])) for g, graph in graphs)
        text = []
        for g, graph in graphs:
            body = "\n".join([turtle_block(s, graph[s], short, "    ") for s in sorted(graph) if graph[s]])
            text.append(f"\n{g} {{\n{body}\n}}\n")
        return [(h, "".join(text))]

    if fmt == "nq":
        yield nt_block(iri, header) + "".join([nt_block(s, default[s]) for s in block_order(default)])
    else:
        out = [prefix_lines(prefixes), "\n# This export: who, when, what was asked, under which TLP ceiling.\n",
               "{\n", turtle_block(iri, header, short) + "\n"]
        out += ["\n" + turtle_block(s, default[s], short) + "\n" for s in block_order(default) if default[s]]
        out.append("}\n")
        yield "".join(out)
    if not ordered:
        pieces = [piece for c, pairs in claims for piece in made(c, pairs)]
        pieces.sort()
        yield from (text for _, text in pieces)
        return
    # the claims held: made first, then merged into the ones that come in order
    waiting = sorted(piece for c, pairs in (held or {}).items() for piece in made(c, pairs))
    j = 0
    last: tuple[str, str] | None = None
    for c, pairs in claims:
        for piece in made(c, pairs):
            if last is not None and piece <= last:
                raise OutOfOrder(c)
            last = piece
            while j < len(waiting) and waiting[j] < piece:
                yield waiting[j][1]
                j += 1
            if j < len(waiting) and waiting[j] == piece:
                raise OutOfOrder(c)
            yield piece[1]
    yield from (text for _, text in waiting[j:])
