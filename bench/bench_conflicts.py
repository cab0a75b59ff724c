"""Conflict-engine benchmark: cfkb against pySHACL, rdflib and a plain query.

For each size, generated claims (``bench.generate``) are bulk-loaded into an
on-disk store in a temporary directory; then each engine runs in its own
child process (so its peak memory, ``VmHWM`` from ``/proc/self/status``,
covers Rust allocations too), once to warm up and then best of ``--repeat``:

- ``pyshacl``: the reference, pySHACL running the shapes (only up to
  ``--pyshacl-max`` claims: it runs one query per focus node);
- ``rdflib``: rdflib's SPARQL engine running cfkb's compiled queries;
- ``plain``: one pyoxigraph query, the UNION of every rule, as a naive
  implementation would write it;
- ``cfkb``: :func:`cfkb.workflow.conflicts.engine_keys` (conflict keys, a full run) and
  :func:`cfkb.workflow.conflicts.find_conflicts` (end to end, claims side by side;
  the warm-up run stores the rules' answers, so the timed runs read them);
- ``incremental``: :func:`cfkb.workflow.conflicts.conflicts_for_claims` for one claim.

Every engine's (rule, claims) set is checked against the generator's ground
truth. Example::

    python -m bench.bench_conflicts --sizes 1000,10000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("pyshacl", "rdflib", "plain", "cfkb", "find_conflicts", "incremental")


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _plain_query() -> str:
    from cfkb.workflow.conflicts import compile_rule, load_rules

    parts = []
    for rule in load_rules():
        body = compile_rule(rule)
        where = body.index("{")
        parts.append(f"{{ {body[where:]} BIND(<{rule.iri}> AS ?rule) }}")
    return "SELECT ?rule ?this ?value WHERE {\n" + "\nUNION\n".join(parts) + "\n}"


def _run_engine(engine: str, store: str, repeat: int) -> dict:
    """In the child: run one engine, return its keys, best time and peak memory."""
    import pyoxigraph as ox

    from cfkb.store.core import KnowledgeBase
    from cfkb.workflow.conflicts import (
        compile_rule,
        conflicts_for_claims,
        engine_keys,
        find_conflicts,
        load_rules,
        reference_keys,
    )

    kb = KnowledgeBase.open(store)
    load_rules()
    extra: dict = {}
    if engine == "pyshacl":
        def run():
            return reference_keys(kb)
    elif engine == "rdflib":
        from cfkb.shacl.validate import to_rdflib

        graph = to_rdflib(kb.quads())
        queries = [(r.iri, compile_rule(r)) for r in load_rules()]

        def run():
            keys = set()
            for iri, q in queries:
                for row in graph.query(q, initNs={"cfkb": "https://w3id.org/cfkb/ns#",
                                                  "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
                                                  "prov": "http://www.w3.org/ns/prov#"}):
                    keys.add((iri, frozenset({str(row.this), str(row.value)})))
            return keys
    elif engine == "plain":
        q = _plain_query()

        def run():
            return {(r["rule"].value, frozenset({r["this"].value, r["value"].value})) for r in kb.select(q)}
    elif engine == "cfkb":
        def run():
            return engine_keys(kb)
    elif engine == "find_conflicts":
        def run():
            found = find_conflicts(kb)
            return {(next(r.iri for r in load_rules() if r.name == c.rule), frozenset(v.iri for v in c.claims[:2]))
                    for c in found}
    elif engine == "incremental":
        # a typical new claim: a denial about a faction that has a few claims
        rows = kb.select("SELECT ?c WHERE { ?c cfkb:negated true ; rdf:predicate cfkb:participatesIn } LIMIT 50")
        picks = [r["c"].value for r in rows]

        def run():
            return {c.id for iri in picks[:1] for c in conflicts_for_claims(kb, [iri])}
        times = []
        for iri in picks[:20]:
            t = time.perf_counter()
            conflicts_for_claims(kb, [iri])
            times.append(time.perf_counter() - t)
        times.sort()
        extra = {"median": times[len(times) // 2], "max": times[-1], "claims": len(times)}
    else:
        raise SystemExit(f"unknown engine {engine}")
    keys = run()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        keys = run()
        best = min(best, time.perf_counter() - t)
    if engine == "incremental":
        keys = set()
    del ox
    return {"engine": engine, "seconds": best, "peak_kib": _peak_kib(), **extra,
            "keys": sorted([k[0], *sorted(k[1])] for k in keys)}


def _child(engine: str, store: str, repeat: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_conflicts", "--child", engine, "--store", store,
           "--repeat", str(repeat)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True,
                             cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "timeout": timeout}
    except subprocess.CalledProcessError as exc:
        return {"engine": engine, "error": exc.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout)


def bench_size(n: int, args: argparse.Namespace) -> list[dict]:
    import pyoxigraph as ox

    from bench.generate import write_nquads
    from cfkb.store.core import KnowledgeBase

    results = []
    with tempfile.TemporaryDirectory(prefix="cfkb-bench-") as tmp:
        data = Path(tmp) / "claims.nq"
        t = time.perf_counter()
        truth = write_nquads(n, args.seed, data)
        gen_s = time.perf_counter() - t
        kb = KnowledgeBase.create(Path(tmp) / "kb")
        t = time.perf_counter()
        kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
        kb.store.optimize()
        load_s = time.perf_counter() - t
        kb.close()
        print(f"# {n} claims: {len(truth)} planted conflicts; generate {gen_s:.1f} s, load {load_s:.1f} s",
              file=sys.stderr)
        expected = sorted([k[0], *sorted(k[1])] for k in truth)
        for engine in args.engines:
            if engine == "pyshacl" and n > args.pyshacl_max:
                continue
            r = _child(engine, str(Path(tmp) / "kb"), args.repeat, args.timeout)
            r["n"] = n
            if "keys" in r:
                r["agrees"] = engine == "incremental" or r.pop("keys") == expected
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "keys"}), file=sys.stderr)
    return results


def table(results: list[dict]) -> str:
    """Markdown table: time and peak memory, and their ratio to cfkb."""
    lines = ["| claims | engine | time (s) | x cfkb time | peak RSS (MiB) | x cfkb memory | same conflicts |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n]
        base = next((r for r in rows if r["engine"] == "cfkb" and "seconds" in r), None)
        for r in rows:
            if "seconds" not in r:
                why = f"did not finish in {r['timeout']:.0f} s" if "timeout" in r else f"error {r.get('error')}"
                lines.append(f"| {n} | {r['engine']} | {why} | | | | |")
                continue
            t, m = r["seconds"], r["peak_kib"] / 1024
            rt = f"{t / base['seconds']:.1f}" if base else ""
            rm = f"{r['peak_kib'] / base['peak_kib']:.1f}" if base else ""
            label = r["engine"]
            if r["engine"] == "incremental":
                label += f" (1 claim, median of {r['claims']}; max {r['max'] * 1000:.0f} ms)"
                t = r["median"]
            lines.append(f"| {n} | {label} | {t:.3f} | {rt} | {m:.0f} | {rm} | "
                         f"{'yes' if r.get('agrees') else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_conflicts", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated claim counts (e.g. add 1000000)")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up; the best counts")
    ap.add_argument("--pyshacl-max", type=int, default=1000, help="largest size pySHACL runs at")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before an engine is given up")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_run_engine(args.child, args.store, args.repeat)))
        return 0
    args.engines = args.engines.split(",")
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        results += bench_size(n, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"\n{os.cpu_count()} CPUs; warm store, best of {args.repeat} after one warm-up run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
