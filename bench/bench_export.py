"""Export of N claims (default 100k), every format, next to pyoxigraph's and
rdflib's own serialisers measured in the same run, printed as ratios.

    python bench/bench_export.py [--claims N | --store PATH] [--ceiling AMBER]
        [--formats turtle,trig,jsonld,nt,nq,trig+nanopub,nq+nanopub]
        [--rdflib-fraction 0.1] [--repeat 1] [--stages] [--json]

cfkb's export reads the base, applies the TLP filter, writes the header,
groups and sorts every block and writes the file (``-o`` writes the same
text). The baselines serialise the same data as it stands, with no
filtering, grouping or sorting:

* pyoxigraph's Turtle dump of the on-disk store's default graph (the floor
  of anything that reads the base through pyoxigraph), and its N-Triples
  dump (what the export reads);
* pyoxigraph's Turtle dump of an in-memory store holding the same quads
  (loading it is not timed);
* rdflib's Turtle serialiser on a Graph holding a fraction of the triples
  (parsing is not timed), scaled up to the whole.

``--store`` reuses a base (e.g. one made by ``python -m bench.generate``
and imported; work on a copy); otherwise a synthetic base of ``--claims``
claims is built in a temporary directory. ``--stages`` also times the
export's steps for Turtle. With ``--repeat`` each figure is the best of
that many runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from cfkb.io.export import ExportOptions, export_base
from cfkb.model.vocabulary import CFID_NS, CFKB, ONTOLOGY_GRAPH, PREFIXES, RDF, RDFS, Claim, tlp_term
from cfkb.store.core import KnowledgeBase

_PREDICATES = ("memberOf", "runsAs", "participatesIn", "supports", "leads", "allianceWith")
FORMATS = ("turtle", "trig", "jsonld", "nt", "nq", "trig+nanopub", "nq+nanopub")
WHEN = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _synthetic_claims(n: int, *, entities: int = 300, seed: int = 7) -> tuple[list[ox.Quad], list[Claim]]:
    """n claims over a few hundred entities, every level but RED, with quotes and grading."""
    rnd = random.Random(seed)
    names = [f"entity-{i}" for i in range(entities)]
    gazetteer: list[ox.Quad] = []
    for i, name in enumerate(names):
        node = ox.NamedNode(CFID_NS + name)
        cls = "MediaOutlet" if i < 40 else "Person" if i < 120 else "Organization"
        gazetteer += [ox.Quad(node, RDF.type, CFKB.term(cls)),
                      ox.Quad(node, RDFS.label, ox.Literal(f"Entity {i}", language="en")),
                      ox.Quad(node, CFKB.tlp, tlp_term("CLEAR"))]
    levels = ("CLEAR", "CLEAR", "GREEN", "AMBER", None)
    claims = []
    for i in range(n):
        claims.append(Claim(
            subject=CFID_NS + rnd.choice(names[40:]), predicate=CFKB.term(rnd.choice(_PREDICATES)).value,
            object=CFID_NS + rnd.choice(names[40:]), source=CFID_NS + rnd.choice(names[:40]),
            negated=rnd.random() < 0.2, speaker=CFID_NS + rnd.choice(names[40:120]),
            date=dt.date(2023, 1, 1) + dt.timedelta(days=rnd.randrange(365)),
            quote=f"statement {i}: the list will run in the province", quote_lang="en",
            cited_in=CFID_NS + names[0], reliability=rnd.choice("ABC"), credibility=rnd.randint(1, 6),
            tlp=rnd.choice(levels),
        ))
    return gazetteer, claims


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _export(kb: KnowledgeBase, fmt: str, ceiling: str, target: Path) -> tuple[int, int, int]:
    """One export as the CLI does it: the text, then the file written."""
    name, _, profile = fmt.partition("+")
    result = export_base(kb, ExportOptions(format=name, profile=profile or None, ceiling=ceiling, when=WHEN,
                                           exporter="bench"))
    data = result.text.encode("utf-8")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return result.claims, result.withheld, len(data)


def _stages(kb: KnowledgeBase, ceiling: str, workdir: Path) -> dict[str, float]:
    """The Turtle export's steps, each timed on its own (the sum runs a little
    over the whole, which shares its garbage-collector pause)."""
    import gc

    from cfkb.io import export as ex
    from cfkb.io import exportheader
    from cfkb.io.exportgraph import read_base
    from cfkb.io.exportselect import select
    from cfkb.io.exportwrite import block_order
    from cfkb.io.tlp import default_level, release

    out: dict[str, float] = {}
    opts = ExportOptions(format="turtle", ceiling=ceiling, when=WHEN)
    gc.disable()
    try:
        t = time.perf_counter()
        data = kb.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
        out["read: pyoxigraph N-Triples dump"] = time.perf_counter() - t
        del data
        t = time.perf_counter()
        graph, bnodes = read_base(kb.store)
        out["read: dump + lines to (predicate, object) pairs per subject"] = time.perf_counter() - t
        t = time.perf_counter()
        rel = release(graph, ceiling, default_level(kb))
        out["TLP release (claims, entities)"] = time.perf_counter() - t
        t = time.perf_counter()
        sel = select(kb, graph, rel, opts, bnodes=bnodes)
        out["select + filter terms + group per subject"] = time.perf_counter() - t
        t = time.perf_counter()
        iri, header = exportheader.header(opts, ceiling=rel.ceiling, default=rel.default,
                                          withheld=rel.withheld_claims, claims=len(sel.claims), when=WHEN,
                                          filters=exportheader.filters_of(kb, opts))
        block_order(sel.blocks)
        out["header + sort subjects"] = time.perf_counter() - t
        t = time.perf_counter()
        text = ex.write("turtle", sel.blocks, header=(iri, header))
        out["write Turtle (sort lines, prefixes)"] = time.perf_counter() - t
        t = time.perf_counter()
        with tempfile.NamedTemporaryFile(dir=workdir) as f:
            f.write(text.encode("utf-8"))
        out["encode + write the file"] = time.perf_counter() - t
    finally:
        gc.enable()
    return out


def main(argv: list[str]) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--store", help="an existing base to export (read only; work on a copy)")
    ap.add_argument("--ceiling", default="AMBER", help="TLP ceiling of the exports (default AMBER)")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--rdflib-fraction", type=float, default=0.1,
                    help="share of the triples rdflib serialises, scaled up (default 0.1; 0 skips rdflib)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--stages", action="store_true", help="time the Turtle export's steps")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.store:
            kb = KnowledgeBase.open(args.store)
        else:
            kb = KnowledgeBase.create(Path(tmp) / "bench.store")
            gazetteer, claims = _synthetic_claims(args.claims)
            kb.store.bulk_extend(gazetteer + [q for c in claims for q in c.quads()])
            kb.store.optimize()
        ontology = sum(1 for _ in kb.store.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH))
        print(f"{kb.claim_count()} claims, {len(kb.store) - ontology} quads in the base (ontology aside);"
              f" ceiling {args.ceiling}")
        rounds = args.repeat

        def ox_disk() -> bytes:
            return kb.store.dump(format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph(), prefixes=dict(PREFIXES))

        disk, _ = _best(ox_disk, rounds)
        disk_nt, nt = _best(lambda: kb.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()),
                            rounds)
        figures["pyoxigraph Turtle dump, on disk"] = disk
        figures["pyoxigraph N-Triples dump, on disk"] = disk_nt
        for fmt in args.formats.split(","):
            elapsed, (out, withheld, size) = _best(
                functools.partial(_export, kb, fmt, args.ceiling, Path(tmp) / "out"), rounds)
            figures[f"cfkb export {fmt}"] = elapsed
            figures[f"cfkb export {fmt} bytes"] = size
            print(f"cfkb export {fmt:13s} {elapsed:7.2f} s  {elapsed / disk:5.2f}x the on-disk dump"
                  f"  ({out} claims out, {withheld} withheld, {size / 1e6:.0f} MB)", flush=True)
        mem = ox.Store()
        mem.load(nt, format=ox.RdfFormat.N_TRIPLES)
        in_memory, _ = _best(functools.partial(mem.dump, format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph(),
                                               prefixes=dict(PREFIXES)), rounds)
        figures["pyoxigraph Turtle dump, in memory"] = in_memory
        del mem
        print(f"pyoxigraph Turtle dump, on disk    {disk:7.2f} s")
        print(f"pyoxigraph N-Triples dump, on disk {disk_nt:7.2f} s  (what the export reads)")
        print(f"pyoxigraph Turtle dump, in memory  {in_memory:7.2f} s")
        turtle = figures.get("cfkb export turtle")
        if turtle:
            print(f"cfkb Turtle / on-disk dump {turtle / disk:5.2f}x, / in-memory dump {turtle / in_memory:5.2f}x")
        if args.rdflib_fraction > 0:
            import rdflib

            lines = nt.split(b"\n")
            share = lines[:max(1, int(len(lines) * args.rdflib_fraction))]
            g = rdflib.Graph()
            g.parse(data=b"\n".join(share) + b"\n", format="nt")
            for p, ns in PREFIXES.items():
                g.bind(p, ns)
            part, _ = _best(lambda: g.serialize(format="turtle"), rounds)
            scaled = part * len(lines) / len(share)
            figures["rdflib Turtle serialise (scaled)"] = scaled
            print(f"rdflib Turtle serialise            {scaled:7.2f} s  ({part:.2f} s for {len(share)} triples,"
                  f" scaled)")
            if turtle:
                print(f"rdflib / cfkb Turtle {scaled / turtle:5.2f}x")
        if args.stages:
            print("Turtle export, step by step:")
            for name, seconds in _stages(kb, args.ceiling, Path(tmp)).items():
                figures[f"stage: {name}"] = seconds
                print(f"  {name:60s} {seconds:6.2f} s")
        kb.close()
    if args.json:
        print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
