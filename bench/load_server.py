"""Load check for `cfkb serve`: concurrent clients running the named queries.

Builds a base of synthetic claims on top of the seed corpus (or reuses one
with --store), starts `cfkb serve` on 127.0.0.1, and lets --clients
concurrent clients run the named queries for --duration seconds, each
request through the same worker pool, time limit and row cap as any
other. Reports requests/s, p50/p99 latency and errors, overall and per
query, next to a baseline measured first in the same run: each query text
run in-process by plain pyoxigraph. ``--rounds 2`` loads the same server
twice: the first round starts with an empty answer cache.

    python bench/load_server.py                                  # quick: 5k claims, 10 clients, 5 s
    python bench/load_server.py --claims 100000 --clients 50 --duration 30
    python bench/load_server.py --store /tmp/b100k-copy --clients 50 --duration 30 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox

from cfkb.io.importer import init_store
from cfkb.model.vocabulary import CFID_NS, CFKB, PREFIXES, RDF, RDFS, Claim
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.queries import library

XSD_DATE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")

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


def iris_in_store(path: Path) -> dict[str, list[str]]:
    """The entity IRIs by kind of a base this script did not build (e.g. one from ``bench.generate``)."""
    kinds = {"faction": ("Party", "ArmedGroup"), "list": ("ElectoralList",), "person": ("Person",),
             "outlet": ("MediaOutlet",)}
    kb = KnowledgeBase.open(path)
    try:
        out = {}
        for kind, classes in kinds.items():
            out[kind] = sorted(iri for cls in classes for iri in (
                r["e"].value for r in kb.select(f"SELECT ?e WHERE {{ ?e a cfkb:{cls} }}")))
        return out
    finally:
        kb.close()


def _params(iris: dict[str, list[str]], rng: random.Random) -> dict[str, dict[str, str]]:
    """Fresh parameter values for every named query (entity IRIs, dates as text)."""
    faction, lst = rng.choice(iris["faction"]), rng.choice(iris["list"])
    return {
        "claims_about": {"entity": faction},
        "said_by": {"source": rng.choice(iris["outlet"] + iris["person"])},
        "who_said": {"subject": faction, "object": lst},
        "claims_as_of": {"asOf": f"2023-01-{rng.randint(1, 28):02d}"},
        "entities": {}, "lists_per_area": {}, "sources": {},
    }


def _requests(iris: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str]]:
    """One (name, path) per named query, with fresh parameters."""
    def curie(iri: str) -> str:
        local = iri[len(CFID_NS):]
        return "cfid:" + local if iri.startswith(CFID_NS) and "/" not in local else iri

    out = []
    for name, params in _params(iris, rng).items():
        query = [("name", name), ("format", "json")] + [(f"p.{k}", curie(v)) for k, v in params.items()]
        out.append((name, "/query?" + urlencode(query)))
    return out


def plain_baseline(store: Path, iris: dict[str, list[str]], seed: int, calls: int,
                   only: set[str] | None) -> dict[str, dict[str, float]]:
    """Each named query text run by plain pyoxigraph in this process: latency per call and rows.

    The same texts and parameter draws as the clients', bound through ``substitutions``,
    on the store opened read-only; every row is read, none is serialised.
    """
    texts = {name: q.text for name, q in library().items()}
    ox_store = ox.Store.read_only(str(store / "oxigraph"))
    rng = random.Random(seed)
    out: dict[str, dict[str, float]] = {}
    times: dict[str, list[float]] = defaultdict(list)
    rows: dict[str, list[int]] = defaultdict(list)
    for _ in range(calls):
        for name, params in _params(iris, rng).items():
            if only and name not in only:
                continue
            subs = {ox.Variable(k): (ox.Literal(v, datatype=XSD_DATE) if k == "asOf" else ox.NamedNode(v))
                    for k, v in params.items()}
            start = time.perf_counter()
            result = ox_store.query(texts[name], prefixes=dict(PREFIXES), use_default_graph_as_union=True,
                                    substitutions=subs or None)
            n = sum(1 for _ in result)
            times[name].append(time.perf_counter() - start)
            rows[name].append(n)
    for name in times:
        out[name] = {"calls": len(times[name]), "p50_ms": round(_pct(times[name], 50), 1),
                     "max_ms": round(max(times[name]) * 1000, 1), "rows_max": max(rows[name])}
    return out


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive GET client on asyncio streams.

    It spends a fraction of httpx's CPU per request, which matters when the
    load generator shares the machine's cores with the server it measures.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            try:
                self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode("ascii"))
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
                continue  # the server closed an idle keep-alive connection: open a new one
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await self.reader.readexactly(length)
            if close:
                self.close()
            return status, body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _together(*clients: Coroutine[Any, Any, None]) -> None:
    await asyncio.gather(*clients)


async def _client(base: str, iris: dict[str, list[str]], until: float, seed: int, only: set[str] | None,
                  results: dict[str, list[float]], errors: dict[str, list[str]], kind: str = "raw") -> None:
    rng = random.Random(seed)
    host, port = base.rsplit("//", 1)[1].rsplit(":", 1)
    raw = _RawConnection(host, int(port)) if kind == "raw" else None
    # httpx only when asked for: the raw client needs none
    async with (httpx.AsyncClient(base_url=base, timeout=60) if raw is None else contextlib.nullcontext()) as client:
        while time.monotonic() < until:
            for name, path in _requests(iris, rng):
                if only and name not in only:
                    continue
                if time.monotonic() >= until:
                    if raw is not None:
                        raw.close()
                    return
                start = time.perf_counter()
                try:
                    if raw is not None:
                        status, body = await asyncio.wait_for(raw.get(path), 60)
                    else:
                        r = await client.get(path)
                        status, body = r.status_code, r.content
                    ok = status == 200
                    why = f"HTTP {status}: {body[:120].decode('utf-8', 'replace')}"
                except (httpx.HTTPError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                    if raw is not None:
                        raw.close()
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                took = time.perf_counter() - start
                (results if ok else errors)[name].append(took if ok else why)  # type: ignore[arg-type]


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its live children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000 if ordered else 0.0


def _report(results: dict[str, list[float]], errors: dict[str, list[str]], elapsed: float) -> dict[str, Any]:
    every = [x for v in results.values() for x in v]
    n_err = sum(len(v) for v in errors.values())
    return {
        "duration_s": round(elapsed, 1),
        "requests": len(every) + n_err, "requests_per_s": round((len(every) + n_err) / elapsed, 1),
        "p50_ms": round(_pct(every, 50), 1), "p99_ms": round(_pct(every, 99), 1), "errors": n_err,
        "queries": {name: {"requests": len(results[name]) + len(errors[name]),
                           "p50_ms": round(_pct(results[name], 50), 1), "p99_ms": round(_pct(results[name], 99), 1),
                           "errors": len(errors[name])}
                    for name in sorted(set(results) | set(errors))},
        "first_errors": [e for v in errors.values() for e in v][:5],
    }


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
    ap.add_argument("--baseline-calls", type=int, default=5, metavar="N",
                    help="first run each named query N times in-process with plain pyoxigraph (0: skip)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="load rounds of --duration against the same server: the first starts with an empty"
                         " answer cache, later ones find it filled (default 1)")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="HTTP client of the load: a minimal keep-alive client on asyncio streams (default),"
                         " or httpx, which costs several times more CPU per request on the shared cores")
    ap.add_argument("--cache-mb", type=int, default=None, help="server answer cache (default: the server's)")
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
        elif store.exists():
            iris = iris_in_store(store)
            print(f"reusing {store} (entities read from the base)", file=sys.stderr)
        else:
            t = time.perf_counter()
            iris = build_store(store, args.claims, args.seed)
            meta.write_text(json.dumps(iris))
            print(f"built {store}: {args.claims} synthetic claims in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        with KnowledgeBase.open(store) as kb:
            claims = kb.claim_count()
        only = set(args.queries.split(",")) if args.queries else None
        baseline = plain_baseline(store, iris, args.seed, args.baseline_calls, only) if args.baseline_calls else {}
        port = _free_port()
        cmd = [sys.executable, "-m", "cfkb", "--store", str(store), "serve", "--port", str(port),
               "--row-limit", str(args.row_limit), "--query-timeout", str(args.query_timeout)]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if args.cache_mb is not None:
            cmd += ["--cache-mb", str(args.cache_mb)]
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
            rounds = []
            for _ in range(args.rounds):
                results: dict[str, list[float]] = defaultdict(list)
                errors: dict[str, list[str]] = defaultdict(list)
                server_cpu = _cpu_seconds(server.pid)
                own = resource.getrusage(resource.RUSAGE_SELF)
                start = time.monotonic()
                until = start + args.duration

                asyncio.run(_together(*(_client(base, iris, until, args.seed + i, only, results, errors, args.client)
                                        for i in range(args.clients))))
                report = _report(results, errors, time.monotonic() - start)
                after = resource.getrusage(resource.RUSAGE_SELF)
                client_cpu = (after.ru_utime + after.ru_stime) - (own.ru_utime + own.ru_stime)
                n = max(1, report["requests"])
                report["server_cpu_ms_per_request"] = round((_cpu_seconds(server.pid) - server_cpu) * 1000 / n, 2)
                report["client_cpu_ms_per_request"] = round(client_cpu * 1000 / n, 2)
                rounds.append(report)
        finally:
            server.terminate()
            server.wait(30)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    report = {"claims": claims, "clients": args.clients, "client": args.client, "plain_pyoxigraph": baseline,
              "rounds": rounds}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for i, r in enumerate(rounds, 1):
            print(f"round {i}: {args.clients} clients, {r['duration_s']} s, {claims} claims:"
                  f" {r['requests']} requests, {r['requests_per_s']} req/s,"
                  f" p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, {r['errors']} errors;"
                  f" CPU per request: server {r['server_cpu_ms_per_request']} ms,"
                  f" load generator {r['client_cpu_ms_per_request']} ms")
            for name, q in r["queries"].items():
                plain = baseline.get(name)
                extra = (f"  | plain pyoxigraph p50 {plain['p50_ms']:>7} ms max {plain['max_ms']:>7} ms"
                         f" rows<={plain['rows_max']}") if plain else ""
                print(f"  {name:<15} {q['requests']:>6} req  p50 {q['p50_ms']:>8} ms  p99 {q['p99_ms']:>8} ms"
                      f"  errors {q['errors']}{extra}")
            for e in r["first_errors"]:
                print("  error:", e)
    n_err = sum(r["errors"] for r in rounds)
    return 0 if n_err == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
