"""The nanopublication profile: each claim of an export as its own nanopublication (TriG or N-Quads).

A claim's assertion graph holds what was said, its provenance graph who said
it, where and when, its publication info the marking, rank and the export;
the header and the entities stay in the default graph.
"""

from __future__ import annotations

import datetime as dt

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
    np = {n: f"<{NP_NS}{n}>" for n in ("Nanopublication", "hasAssertion", "hasProvenance", "hasPublicationInfo")}
    info_pairs = [(nt_iri(DCT.created), literal(when.isoformat(), XSD.dateTime)),
                  (nt_iri(DCT.license), str(ox.NamedNode(opts.license))), (nt_iri(CFKB.export), iri)]
    if opts.exporter:
        info_pairs.append((nt_iri(DCT.creator), literal(opts.exporter)))
    derived, meta = nt_iri(PROV.wasDerivedFrom), (NT_TLP, NT_RANK)
    default: Graph = {s: pairs for s, pairs in blocks.items() if s not in claims}
    prefixes = {**PREFIXES, "np": NP_NS}
    short = Shortener(prefixes)
    skip = len("<" + CLAIM_PREFIX)
    # Each claim's four graphs are written as soon as they are made; the
    # pieces are sorted at the end by graph name (N-Quads) or by
    # nanopublication, then head, assertion, provenance, pubinfo (TriG).
    pieces: list[tuple[str, str]] = []
    for c in claims:
        h = c[skip:-1]
        base = NANOPUB_PREFIX + h
        pub, head, assertion, prov, info = (f"<{base}{x}>" for x in ("", "#head", "#assertion", "#provenance",
                                                                      "#pubinfo"))
        pairs = blocks[c]
        graphs = (
            (head, {pub: [(NT_TYPE, np["Nanopublication"]), (np["hasAssertion"], assertion),
                          (np["hasProvenance"], prov), (np["hasPublicationInfo"], info)]}),
            (assertion, {c: [(p, o) for p, o in pairs if p in _ASSERTION]}),
            (prov, {c: [(p, o) for p, o in pairs if p not in _ASSERTION and p not in meta],
                    assertion: [(derived, c)] + [(NT_ATTRIBUTED, o) for p, o in pairs if p == NT_ATTRIBUTED]}),
            (info, {pub: info_pairs, c: [(p, o) for p, o in pairs if p in meta]}),
        )
        if fmt == "nq":
            pieces += [(g, "".join([nt_block(s, graph[s], g) for s in sorted(graph)])) for g, graph in graphs]
        else:
            text = []
            for g, graph in graphs:
                body = "\n".join([turtle_block(s, graph[s], short, "    ") for s in sorted(graph) if graph[s]])
                text.append(f"\n{g} {{\n{body}\n}}\n")
            pieces.append((h, "".join(text)))
    pieces.sort()
    if fmt == "nq":
        return (nt_block(iri, header) + "".join([nt_block(s, default[s]) for s in block_order(default)])
                + "".join([text for _, text in pieces]))
    out = [prefix_lines(prefixes), "\n# This export: who, when, what was asked, under which TLP ceiling.\n",
           "{\n", turtle_block(iri, header, short) + "\n"]
    out += ["\n" + turtle_block(s, default[s], short) + "\n" for s in block_order(default) if default[s]]
    out.append("}\n")
    out += [text for _, text in pieces]
    return "".join(out)
