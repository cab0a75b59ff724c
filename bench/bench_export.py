"""Export of N claims (default 100k): cfkb's Turtle export against pyoxigraph's
and rdflib's own serialisers, in the same run, printed as ratios.

    python bench/bench_export.py [N] [--skip-rdflib]

cfkb's export reads the base, applies the TLP filter, writes the header and
sorts every block; pyoxigraph's serialiser writes the same store's default
graph as it stands; rdflib's serialises a Graph already in memory (loading it
is not timed).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from cfkb.export import ExportOptions, export_base
from cfkb.model import CFID_NS, CFKB, PREFIXES, RDF, RDFS, Claim, tlp_term
from cfkb.store import KnowledgeBase

_PREDICATES = ("memberOf", "runsAs", "participatesIn", "supports", "leads", "allianceWith")


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


def _time(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), "100000"))
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.create(Path(tmp) / "bench.store")
        gazetteer, claims = _synthetic_claims(n)
        kb.store.bulk_extend(gazetteer + [q for c in claims for q in c.quads()])
        kb.store.optimize()
        triples = len(kb.store) - sum(1 for _ in kb.store.quads_for_pattern(None, None, None, kb_ontology()))
        print(f"{n} claims, {triples} triples in the base")
        when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        cfkb_t, result = _time(lambda: export_base(kb, ExportOptions(format="turtle", ceiling="AMBER", when=when)))
        cfkb_nt, _ = _time(lambda: export_base(kb, ExportOptions(format="nt", ceiling="AMBER", when=when)))
        ox_t, _ = _time(lambda: kb.store.dump(format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph(),
                                              prefixes=dict(PREFIXES)))
        print(f"cfkb export turtle:       {cfkb_t:6.2f} s  ({result.claims} claims out, {result.withheld} withheld)")  # type: ignore[attr-defined]
        print(f"cfkb export n-triples:    {cfkb_nt:6.2f} s")
        print(f"pyoxigraph Turtle dump:   {ox_t:6.2f} s")
        print(f"ratio cfkb / pyoxigraph:  {cfkb_t / ox_t:6.2f}x")
        # the same, with the base in memory: what is left is the writers themselves
        mem = KnowledgeBase(ox.Store(), None)
        mem.store.load(kb.store.dump(format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
        mem_t, _ = _time(lambda: export_base(mem, ExportOptions(format="turtle", ceiling="AMBER", when=when)))
        mem_ox, _ = _time(lambda: mem.store.dump(format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph(),
                                                 prefixes=dict(PREFIXES)))
        print(f"in memory: cfkb export turtle {mem_t:6.2f} s, pyoxigraph Turtle dump {mem_ox:6.2f} s,"
              f" ratio {mem_t / mem_ox:5.2f}x")
        if "--skip-rdflib" not in argv:
            import rdflib

            g = rdflib.Graph()
            g.parse(data=kb.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()), format="nt")
            for p, ns in PREFIXES.items():
                g.bind(p, ns)
            rdf_t, _ = _time(lambda: g.serialize(format="turtle"))
            print(f"rdflib Turtle serialise:  {rdf_t:6.2f} s")
            print(f"ratio cfkb / rdflib:      {cfkb_t / rdf_t:6.2f}x  (rdflib takes {rdf_t / cfkb_t:.1f}x as long)")
        kb.close()


def kb_ontology() -> ox.NamedNode:
    from cfkb.model import ONTOLOGY_GRAPH

    return ONTOLOGY_GRAPH


if __name__ == "__main__":
    main(sys.argv[1:])
