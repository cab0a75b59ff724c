"""Import throughput at scale: cfkb's import against the raw parsers, in one run.

Builds a synthetic gazetteer and N distinct claims (default 100 000), writes
them as a claim table (CSV, names as an analyst writes them) and as Turtle,
then times, on this machine and in this process:

* pyoxigraph's raw Turtle parser (``list(pyoxigraph.parse(...))``),
* rdflib's Turtle parser (``Graph.parse``),
* ``cfkb import`` of the Turtle file into a fresh on-disk store holding the
  gazetteer, split into *plan* (parse, resolve, SHACL check; nothing
  written) and *commit* (``KnowledgeBase.write_many``: the journalled bulk
  load for a batch this big),
* the same for the CSV table.

and prints the ratios. Targets (issue 5): Turtle import within 2x of the raw
parser; CSV: 100k claims in 10 s.

Usage: python -m bench.bench_import [--claims N] [--rdflib-fraction F] [--floor] [--json]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from cfkb.io.importer import InputFile, commit, import_files
from cfkb.io.importplan import plan_import
from cfkb.model.vocabulary import CFID_NS, CFKB_NS, Claim
from cfkb.store.core import KnowledgeBase
from cfkb.store.guard import using

_CLASSES = {"Person": 300, "Party": 150, "ElectoralList": 60, "Election": 4, "Province": 18, "MediaOutlet": 25,
            "Document": 40}
_PREDICATES = {  # predicate -> (subject classes, object classes), as the ontology's domain and range allow
    "memberOf": (("Person", "Party", "ElectoralList"), ("Party", "ElectoralList")),
    "runsAs": (("Party", "ElectoralList"), ("ElectoralList",)),
    "participatesIn": (("Person", "Party"), ("Election",)),
    "supports": (("Person", "Party"), ("ElectoralList",)),
    "leads": (("Person",), ("Party", "ElectoralList")),
    "contests": (("ElectoralList",), ("Election",)),
}
_SYLLABLES = ["al", "ba", "dar", "fa", "ha", "ja", "ka", "la", "ma", "na", "qa", "ra", "sa", "ta", "wa", "za", "di",
              "mu", "ri", "su", "hus", "sein", "ab", "bas", "kir", "kuk", "nin", "eve"]


def _gazetteer(rng: random.Random) -> tuple[dict[str, list[tuple[str, str]]], bytes]:
    """Entities by class as (IRI, label), and the gazetteer as Turtle."""
    entities: dict[str, list[tuple[str, str]]] = {}
    lines = ["@prefix cfkb: <https://w3id.org/cfkb/ns#> .", "@prefix cfid: <https://w3id.org/cfkb/id/> .",
             "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .", ""]
    for cls, n in _CLASSES.items():
        entities[cls] = []
        for i in range(n):
            words = [("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))).capitalize()
                     for _ in range(2)]
            label = f"{cls} {' '.join(words)} {i}"
            local = f"{cls.lower()}-{i}"
            entities[cls].append((CFID_NS + local, label))
            lines.append(f'cfid:{local} a cfkb:{cls} ; rdfs:label "{label}"@en .')
    return entities, ("\n".join(lines) + "\n").encode("utf-8")


def _synthetic_rows(n: int, seed: int = 5) -> tuple[bytes, list[dict[str, str]], list[Claim]]:
    """A gazetteer (Turtle), ``n`` distinct table rows naming entities by label, and the same claims."""
    rng = random.Random(seed)
    entities, gazetteer = _gazetteer(rng)
    rows: list[dict[str, str]] = []
    claims: list[Claim] = []
    start = dt.date(2020, 1, 1)
    seen: set[str] = set()
    while len(rows) < n:
        predicate = rng.choice(sorted(_PREDICATES))
        subject_classes, object_classes = _PREDICATES[predicate]
        s_iri, s_label = rng.choice(entities[rng.choice(subject_classes)])
        o_iri, o_label = rng.choice(entities[rng.choice(object_classes)])
        src_iri, src_label = rng.choice(entities["MediaOutlet"])
        area_iri, area_label = rng.choice(entities["Province"])
        el_iri, el_label = rng.choice(entities["Election"])
        doc_iri, doc_label = rng.choice(entities["Document"])
        day = start + dt.timedelta(days=rng.randrange(1500))
        negated = rng.random() < 0.2
        claim = Claim(subject=s_iri, predicate=CFKB_NS + predicate, object=o_iri, source=src_iri, negated=negated,
                      area=area_iri, election=el_iri, date=day, quote=f"quote number {len(rows)}", quote_lang="en",
                      cited_in=doc_iri, reliability=rng.choice("ABCDEF"), credibility=rng.randint(1, 6),
                      tlp="CLEAR")
        if claim.iri in seen:
            continue
        seen.add(claim.iri)
        claims.append(claim)
        rows.append({"subject": s_label, "predicate": predicate, "object": o_label, "source": src_label,
                     "negated": "true" if negated else "", "area": area_label, "election": el_label,
                     "date": day.isoformat(), "quote": claim.quote or "", "quote_lang": "en", "cited_in": doc_label,
                     "reliability": claim.reliability or "", "credibility": str(claim.credibility), "tlp": "CLEAR"})
    return gazetteer, rows, claims


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def _turtle(claims: list[Claim]) -> bytes:
    return ox.serialize([q.triple for c in claims for q in c.quads()], format=ox.RdfFormat.TURTLE,
                        prefixes={"cfkb": CFKB_NS, "cfid": CFID_NS, "xsd": "http://www.w3.org/2001/XMLSchema#"})


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _cpu() -> float:
    """CPU seconds of this process so far, every thread counted (the loaders' Rust threads too).

    On a machine shared with other jobs, wall-clock times swing by half from
    run to run; CPU time is what the work costs, whoever else is running.
    """
    t = os.times()
    return t.user + t.system


def _import(workdir: Path, gazetteer: bytes, f: InputFile) -> dict[str, float]:
    path = workdir / f"store-{f.name}"
    kb = KnowledgeBase.create(path)
    import_files(kb, [InputFile("gazetteer.ttl", gazetteer)], analyst="bench")
    # 100k claims are 1.5M triples: above the default per-file bound, as for any trusted bulk load
    cpu = _cpu()
    with using(quads=100_000_000, file_bytes=1 << 34):
        plan_s, plan = _timed(lambda: plan_import(kb, [f]))
    plan_cpu, cpu = _cpu() - cpu, _cpu()
    commit_s, report = _timed(lambda: commit(kb, plan, analyst="bench"))
    commit_cpu = _cpu() - cpu
    assert len(report.claims_added) == len(plan.claims), "every synthetic claim is new"
    kb.close()
    shutil.rmtree(path)
    return {"plan": plan_s, "commit": commit_s, "total": plan_s + commit_s,
            "plan_cpu": plan_cpu, "commit_cpu": commit_cpu, "total_cpu": plan_cpu + commit_cpu}


def _loader_floor(workdir: Path, gazetteer: bytes, claims: list[Claim]) -> dict[str, float]:
    """What the commit cannot go below: the claims' N-Quads text, made and bulk-loaded on its own."""
    from cfkb.model.vocabulary import ClaimText

    path = workdir / "store-floor"
    kb = KnowledgeBase.create(path)
    import_files(kb, [InputFile("gazetteer.ttl", gazetteer)], analyst="bench")
    text_s, data = _timed(lambda: "".join(ClaimText().lines(c, c.iri) for c in claims).encode("utf-8"))
    cpu = _cpu()
    load_s, _ = _timed(lambda: kb.store.bulk_load(data, format=ox.RdfFormat.N_QUADS, lenient=True))
    load_cpu = _cpu() - cpu
    kb.close()
    shutil.rmtree(path)
    return {"claim_text": text_s, "bulk_load": load_s, "bulk_load_cpu": load_cpu, "quads": data.count(b"\n")}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--rdflib-fraction", type=float, default=1.0,
                    help="parse this fraction of the Turtle with rdflib and scale the time up (default: all)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--floor", action="store_true",
                    help="also time the claims' N-Quads text bulk-loaded on its own (the commit's floor)")
    args = ap.parse_args(argv)

    gazetteer, rows, claims = _synthetic_rows(args.claims)
    csv_data, ttl_data = _csv(rows), _turtle(claims)
    triples = sum(1 for _ in ox.parse(ttl_data, format=ox.RdfFormat.TURTLE))
    print(f"{args.claims} claims: {triples} triples, Turtle {len(ttl_data) / 1e6:.1f} MB, "
          f"CSV {len(csv_data) / 1e6:.1f} MB", file=sys.stderr)

    cpu = _cpu()
    raw_s, _ = _timed(lambda: list(ox.parse(ttl_data, format=ox.RdfFormat.TURTLE)))
    raw_cpu = _cpu() - cpu
    import rdflib

    cut = ttl_data
    if args.rdflib_fraction < 1.0:
        cut = ttl_data[: int(len(ttl_data) * args.rdflib_fraction)].rsplit(b" .\n", 1)[0] + b" .\n"
    cpu = _cpu()
    rdflib_part, _ = _timed(lambda: rdflib.Graph().parse(data=cut, format="turtle"))
    rdflib_s = rdflib_part * len(ttl_data) / len(cut)
    rdflib_cpu = (_cpu() - cpu) * len(ttl_data) / len(cut)
    with tempfile.TemporaryDirectory(prefix="cfkb-bench-") as tmp:
        ttl = _import(Path(tmp), gazetteer, InputFile("claims.ttl", ttl_data))
        table = _import(Path(tmp), gazetteer, InputFile("claims.csv", csv_data))
        floor = _loader_floor(Path(tmp), gazetteer, claims) if args.floor else None

    figures = {
        "claims": args.claims, "triples": triples,
        "pyoxigraph_parse_s": raw_s, "rdflib_parse_s": rdflib_s, "rdflib_fraction": args.rdflib_fraction,
        "pyoxigraph_parse_cpu": raw_cpu, "rdflib_parse_cpu": rdflib_cpu,
        "turtle_import": ttl, "csv_import": table, "loader_floor": floor,
        "ratio_turtle_import_to_raw_parse": ttl["total"] / raw_s,
        "ratio_turtle_plan_to_raw_parse": ttl["plan"] / raw_s,
        "ratio_rdflib_to_raw_parse": rdflib_s / raw_s,
        "ratio_turtle_import_to_rdflib_parse": ttl["total"] / rdflib_s,
        "csv_claims_per_s": args.claims / table["total"],
    }
    print(f"pyoxigraph raw Turtle parse   {raw_s:8.2f} s  ({triples / raw_s / 1e6:.2f} M triples/s)")
    print(f"rdflib Turtle parse           {rdflib_s:8.2f} s  ({figures['ratio_rdflib_to_raw_parse']:.1f}x raw)"
          + (f"  [scaled from {args.rdflib_fraction:.0%}]" if args.rdflib_fraction < 1 else ""))
    for name, t in (("cfkb import Turtle", ttl), ("cfkb import CSV", table)):
        print(f"{name:<29} {t['total']:8.2f} s  = plan {t['plan']:.2f} s + commit {t['plan'] and t['commit']:.2f} s"
              f"  ({t['total'] / raw_s:.1f}x raw parse, {args.claims / t['total']:.0f} claims/s)")
    if floor:
        print(f"floor: the claims' N-Quads text made in {floor['claim_text']:.2f} s, bulk-loaded alone in"
              f" {floor['bulk_load']:.2f} s, CPU {floor['bulk_load_cpu']:.2f} s ({floor['quads']} quads,"
              f" {floor['bulk_load'] / raw_s:.1f}x raw parse)")
    print(f"CPU seconds: raw parse {raw_cpu:.2f}, rdflib {rdflib_cpu:.2f}; Turtle import {ttl['total_cpu']:.2f}"
          f" (plan {ttl['plan_cpu']:.2f} + commit {ttl['commit_cpu']:.2f}, {ttl['total_cpu'] / raw_cpu:.1f}x raw);"
          f" CSV import {table['total_cpu']:.2f} (plan {table['plan_cpu']:.2f} + commit {table['commit_cpu']:.2f})")
    print(f"ratios: Turtle import / raw parse = {figures['ratio_turtle_import_to_raw_parse']:.2f}"
          f" (plan only {figures['ratio_turtle_plan_to_raw_parse']:.2f}; target <= 2);"
          f" Turtle import / rdflib parse = {figures['ratio_turtle_import_to_rdflib_parse']:.2f};"
          f" CSV {args.claims} claims in {table['total']:.1f} s (target 10 s)")
    if args.json:
        print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
