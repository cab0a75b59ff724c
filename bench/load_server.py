"""Load check for `cfkb serve`: concurrent clients running the named queries.

Builds a base of synthetic claims on top of the seed corpus (or reuses one
with --store), starts `cfkb serve` on 127.0.0.1, and lets --clients
concurrent clients run the named queries for --duration seconds, each
request through the same worker pool, time limit and row cap as any
other. Reports requests/s, p50/p99 latency and errors, overall and per
query.

    python bench/load_server.py                                  # quick: 5k claims, 10 clients, 5 s
    python bench/load_server.py --claims 100000 --clients 50 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox

from cfkb.importer import init_store
from cfkb.model import CFID_NS, CFKB, RDF, RDFS, Claim

ELECTION = CFID_NS + "iraq-provincial-elections-2023"
AREAS = ["baghdad", "basra", "dhi-qar", "maysan", "muthanna", "qadisiyah", "najaf", "karbala", "babil", "wasit",
         "diyala", "kirkuk", "salah-al-din", "nineveh", "anbar", "baghdad-and-the-south", "kirkuk-and-salah-al-din"]


def _synthetic_claims(n: int, seed: int) -> tuple[list[ox.Quad], list[Claim], dict[str, list[str]]]:
    """Entities (with labels) and ``n`` claims about them, reproducible from ``seed``.

    Returns the entity quads, the claims and the entity IRIs by kind.
    """
    rng = random.Random(seed)
    kinds = {"faction": (CFKB.Party, max(50, n // 50)), "list": (CFKB.ElectoralList, max(10, n // 300)),
             "person": (CFKB.Person, max(20, n // 200)), "outlet": (CFKB.MediaOutlet, max(5, n // 1000))}
    quads: list[ox.Quad] = []
    iris: dict[str, list[str]] = {}
    for kind, (cls, count) in kinds.items():
        iris[kind] = []
        for i in range(count):
            iri = f"{CFID_NS}synth-{kind}-{i}"
            iris[kind].append(iri)
            node = ox.NamedNode(iri)
            quads.append(ox.Quad(node, RDF.type, cls))
            quads.append(ox.Quad(node, RDFS.label, ox.Literal(f"Synthetic {kind} {i}", language="en")))
    predicates = [("runsAs", "list", 5), ("memberOf", "list", 3), ("participatesIn", "election", 2),
                  ("supports", "list", 1), ("leads", "faction", 1)]
    weighted = [(p, o) for p, o, w in predicates for _ in range(w)]
    start = dt.date(2023, 1, 1)
    claims = []
    seen = set()
    while len(claims) < n:
        pred, obj_kind = rng.choice(weighted)
        subject = rng.choice(iris["person"] if pred == "leads" else iris["faction"])
        obj = ELECTION if obj_kind == "election" else rng.choice(iris[obj_kind])
        speaker = rng.choice(iris["person"]) if rng.random() < 0.6 else None
        claim = Claim(
            subject=subject, predicate=CFKB.term(pred).value, object=obj, source=rng.choice(iris["outlet"]),
            negated=rng.random() < 0.1,
            area=CFID_NS + rng.choice(AREAS) if pred == "runsAs" or rng.random() < 0.3 else None,
            election=ELECTION, speaker=speaker, date=start + dt.timedelta(days=rng.randrange(365)),
            quote=f"synthetic statement {len(claims)}", quote_lang="en", tlp="CLEAR",
            reliability=rng.choice("ABCDEF"), credibility=rng.randint(1, 6),
        )
        if claim.iri not in seen:
            seen.add(claim.iri)
            claims.append(claim)
    return quads, claims, iris


def build_store(path: Path, n: int, seed: int) -> dict[str, list[str]]:
    kb, _ = init_store(str(path), analyst="bench")
    try:
        quads, claims, iris = _synthetic_claims(n, seed)
        quads.extend(q for c in claims for q in c.quads())
        kb.store.bulk_extend(quads)
        kb.store.optimize()
    finally:
        kb.close()
    return iris


def _requests(iris: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str]]:
    """One (name, path) per named query, with fresh parameters."""
    def curie(iri: str) -> str:
        return "cfid:" + iri[len(CFID_NS):]

    faction, lst = rng.choice(iris["faction"]), rng.choice(iris["list"])
    named = {
        "claims_about": {"entity": curie(faction)},
        "said_by": {"source": curie(rng.choice(iris["outlet"] + iris["person"]))},
        "who_said": {"subject": curie(faction), "object": curie(lst)},
        "claims_as_of": {"asOf": f"2023-01-{rng.randint(1, 28):02d}"},
        "entities": {}, "lists_per_area": {}, "sources": {},
    }
    out = []
    for name, params in named.items():
        query = [("name", name), ("format", "json")] + [(f"p.{k}", v) for k, v in params.items()]
        out.append((name, "/query?" + urlencode(query)))
    return out


async def _client(base: str, iris: dict[str, list[str]], until: float, seed: int, only: set[str] | None,
                  results: dict[str, list[float]], errors: dict[str, list[str]]) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < until:
            for name, path in _requests(iris, rng):
                if only and name not in only:
                    continue
                if time.monotonic() >= until:
                    return
                start = time.perf_counter()
                try:
                    r = await client.get(path)
                    ok = r.status_code == 200
                    why = f"HTTP {r.status_code}: {r.text[:120]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                took = time.perf_counter() - start
                (results if ok else errors)[name].append(took if ok else why)  # type: ignore[arg-type]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000 if ordered else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=5000, help="synthetic claims to add to the seed (default 5000)")
    ap.add_argument("--clients", type=int, default=10, help="concurrent clients (default 10)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of load (default 5)")
    ap.add_argument("--workers", type=int, default=None, help="server query workers (default: the server's)")
    ap.add_argument("--row-limit", type=int, default=10_000, help="server row cap (default 10000)")
    ap.add_argument("--query-timeout", type=float, default=10.0, help="server time limit (default 10 s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", type=Path, help="build (or reuse, if it exists) the base here instead of a temp dir")
    ap.add_argument("--queries", help="comma-separated named queries to run (default: all of them)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)

    tmp = None
    if args.store is None:
        tmp = Path(tempfile.mkdtemp(prefix="cfkb-load-"))
        store = tmp / "kb.store"
    else:
        store = args.store
    meta = store.parent / (store.name + ".bench.json")
    try:
        if store.exists() and meta.exists():
            iris = json.loads(meta.read_text())
            print(f"reusing {store}", file=sys.stderr)
        else:
            t = time.perf_counter()
            iris = build_store(store, args.claims, args.seed)
            meta.write_text(json.dumps(iris))
            print(f"built {store}: {args.claims} synthetic claims in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        port = _free_port()
        cmd = [sys.executable, "-m", "cfkb", "--store", str(store), "serve", "--port", str(port),
               "--row-limit", str(args.row_limit), "--query-timeout", str(args.query_timeout)]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/sparql?query=ASK%7B%7D", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            results: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, list[str]] = defaultdict(list)
            start = time.monotonic()
            until = start + args.duration

            async def run() -> None:
                only = set(args.queries.split(",")) if args.queries else None
                await asyncio.gather(*(_client(base, iris, until, args.seed + i, only, results, errors)
                                       for i in range(args.clients)))

            asyncio.run(run())
            elapsed = time.monotonic() - start
        finally:
            server.terminate()
            server.wait(30)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    every = [x for v in results.values() for x in v]
    n_err = sum(len(v) for v in errors.values())
    report = {
        "claims": args.claims, "clients": args.clients, "duration_s": round(elapsed, 1),
        "requests": len(every) + n_err, "requests_per_s": round((len(every) + n_err) / elapsed, 1),
        "p50_ms": round(_pct(every, 50), 1), "p99_ms": round(_pct(every, 99), 1), "errors": n_err,
        "queries": {name: {"requests": len(results[name]) + len(errors[name]),
                           "p50_ms": round(_pct(results[name], 50), 1), "p99_ms": round(_pct(results[name], 99), 1),
                           "errors": len(errors[name])}
                    for name in sorted(set(results) | set(errors))},
        "first_errors": [e for v in errors.values() for e in v][:5],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['clients']} clients, {report['duration_s']} s, {report['claims']} synthetic claims:"
              f" {report['requests']} requests, {report['requests_per_s']} req/s,"
              f" p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, {report['errors']} errors")
        for name, q in report["queries"].items():
            print(f"  {name:<15} {q['requests']:>6} req  p50 {q['p50_ms']:>8} ms  p99 {q['p99_ms']:>8} ms"
                  f"  errors {q['errors']}")
        for e in report["first_errors"]:
            print("  error:", e)
    return 0 if n_err == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
