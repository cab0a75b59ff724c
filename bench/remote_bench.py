"""Conflicts on the embedded store and on a local ``oxigraph serve``: the same base, timed.

    python bench/remote_bench.py [--claims 10000] [--repeat 3]

Builds the seed base, and the seed plus N generated claims, once each on
disk and once on a server (127.0.0.1, a temp directory), checks both give
the same conflicts, and prints the best of ``--repeat`` warm runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cfkb.io.importer import init_store  # noqa: E402
from cfkb.model.vocabulary import CFID_NS, CFKB, RDF, RDFS, Claim  # noqa: E402
from cfkb.store.core import KnowledgeBase  # noqa: E402
from cfkb.store.remote import RemoteStore  # noqa: E402
from cfkb.workflow.conflicts import find_conflicts  # noqa: E402
from oxiserver import OxigraphServer  # noqa: E402


def _claims(kb: KnowledgeBase, n: int, seed: int = 7) -> list[ox.Quad]:
    """N claims between generated parties from generated outlets; every 20th is denied by another outlet."""
    rng = random.Random(seed)
    # functional predicates left out: that rule is quadratic in claims per subject, which is another bench's topic
    functional = {r["p"].value for r in kb.select("SELECT ?p WHERE { ?p a cfkb:FunctionalPerContext }")}
    predicates = sorted(set(kb.predicates().values()) - functional)
    parties = [f"{CFID_NS}bench/party-{i}" for i in range(max(2, n // 4))]
    outlets = [f"{CFID_NS}bench/outlet-{i}" for i in range(max(2, n // 20))]
    quads = []
    for kind, names in ((CFKB.Party, parties), (CFKB.MediaOutlet, outlets)):
        for i, iri in enumerate(names):
            quads.append(ox.Quad(ox.NamedNode(iri), RDF.type, kind))
            quads.append(ox.Quad(ox.NamedNode(iri), RDFS.label, ox.Literal(f"{kind.value[-5:]} {i}", language="en")))
    day0 = dt.date(2023, 1, 1)
    made = 0
    while made < n:
        claim = Claim(subject=rng.choice(parties), predicate=rng.choice(predicates), object=rng.choice(parties),
                      source=rng.choice(outlets), date=day0 + dt.timedelta(days=rng.randrange(365)))
        quads.extend(claim.quads())
        made += 1
        if made % 20 == 0 and made < n:
            denial = Claim(subject=claim.subject, predicate=claim.predicate, object=claim.object, negated=True,
                           source=rng.choice([o for o in outlets if o != claim.source]),
                           date=claim.date + dt.timedelta(days=1))  # type: ignore[operator]
            quads.extend(denial.quads())
            made += 1
    return quads


def _best(kb: KnowledgeBase, repeat: int) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(repeat + 1):  # the first run warms caches
        start = time.perf_counter()
        found = len(find_conflicts(kb))
        times.append(time.perf_counter() - start)
    return min(times[1:]), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, n in (("seed", 0), (f"seed + {args.claims} generated", args.claims)):
            local, _ = init_store(str(root / f"{n}.store"), analyst="bench")
            server = OxigraphServer(root / f"{n}.server").start()
            try:
                remote = RemoteStore(server.url)
                remote.extend(local.store)
                far = KnowledgeBase(remote, None, location=server.url)
                if n:
                    extra = _claims(local, n)
                    start = time.perf_counter()
                    local.write(extra)
                    t_local = time.perf_counter() - start
                    start = time.perf_counter()
                    far.write(extra)
                    t_far = time.perf_counter() - start
                    nquads = ox.serialize(extra, format=ox.RdfFormat.N_QUADS) or b""
                    print(f"writing {len(extra)} quads: embedded {t_local:.2f}s, remote {t_far:.2f}s"
                          f" ({'one N-Quads POST' if len(nquads) > remote.post_above else 'one INSERT DATA'})")
                ta, na = _best(local, args.repeat)
                tb, nb = _best(far, args.repeat)
                same = [c.to_json() for c in find_conflicts(local)] == [c.to_json() for c in find_conflicts(far)]
                results.append((name, local.claim_count(), na, nb, same, ta, tb))
                local.close()
            finally:
                server.stop()
    print(f"{'base':<28} {'claims':>7} {'conflicts':>9} {'same':>5} {'embedded':>9} {'remote':>9} {'ratio':>6}")
    for name, claims, na, nb, same, ta, tb in results:
        print(f"{name:<28} {claims:>7} {na:>9} {str(same and na == nb):>5} {ta:>8.3f}s {tb:>8.3f}s {tb / ta:>5.1f}x")


if __name__ == "__main__":
    main()
