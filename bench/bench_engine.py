"""The conflict engine on its claim table, against a plain query and today's SPARQL engine.

For each size, generated claims (``bench.generate``, with ``--busy`` of them
about 20 busy groups that run as one list per province, said again and again
by many outlets) are bulk-loaded into an on-disk store. Then, each in its own
child process (so the process wall and the peak memory, ``VmHWM``, are the
whole of it):

- ``build``: the claim table made from the graph (what a missing or stale
  table costs, once);
- ``sql``: a cold full run on the table: open the base and its table, run
  every rule's SQL form, collect the (rule, claims) keys;
- ``index``: the conflict index made from a current claim table (what a
  rule change costs: every rule's SQL form, the conflicts and their members
  written to the table's file);
- ``plain``: one plain pyoxigraph query over the same claims, reading each
  claim's rule fields (subject, predicate, object, negated, speaker, date);
- ``sparql``: today's engine, every rule's compiled SPARQL
  (:func:`cfkb.workflow.conflicts.engine_keys`);
- ``incremental``: a new list for each busy group in turn, one write each:
  the write's upkeep (the conflicts of the new claim, found in the table's
  key-lookup copy, :mod:`cfkb.engine.lookup`), the worst case over them; then
  the first reader's hand-over of the held writes to the index, and each
  claim's conflicts as the index files them (:func:`cfkb.workflow.conflicts.conflicts_for_claims`),
  which must be the number the write's upkeep gave;
- ``incremental-duckdb``: the same with every write kept by DuckDB's upkeep
  (the claim table and the index at once): the baseline of ``incremental``;
- ``batch``: 10k new claims in one write: the claim table's upkeep.

Times are reported as ratios to ``sql`` in the same run; every engine's keys
are checked against the generator's ground truth. Example::

    python -m bench.bench_engine --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("build", "sql", "index", "plain", "sparql", "incremental", "incremental-duckdb", "batch")
ROOT = Path(__file__).resolve().parent.parent

PLAIN = """SELECT ?c ?s ?p ?o ?n ?who ?d WHERE {
    ?c a cfkb:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; cfkb:negated ?n ;
       prov:wasAttributedTo ?who ; cfkb:statedOn ?d }"""


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _keys(rows: dict) -> list:
    return sorted([iri, *sorted(pair)] for iri, pair in
                  {(iri, frozenset({r["this"].value, r["value"].value})) for iri, found in rows.items() for r in found})


def _run(engine: str, store: str, seed: int, busy: float) -> dict:
    """In the child: one engine, timed from the start of the work."""
    t0 = time.perf_counter()
    out: dict = {"engine": engine}
    if engine == "build":
        from cfkb.engine.table import open_table
        from cfkb.store.core import KnowledgeBase

        with KnowledgeBase.open(store) as kb, open_table(kb) as table:
            out["claims"] = table.count()
    elif engine == "sql":
        from cfkb.engine.rules import sql_rows
        from cfkb.engine.table import open_table
        from cfkb.store.core import KnowledgeBase
        from cfkb.workflow.conflicts import load_rules

        with KnowledgeBase.open(store) as kb, open_table(kb) as table:
            assert table.regular
            out["keys"] = _keys(sql_rows(table, [r.iri for r in load_rules()]))
    elif engine == "index":
        import duckdb

        from cfkb.engine.index import open_index
        from cfkb.engine.table import open_table, table_path
        from cfkb.store.core import KnowledgeBase

        with KnowledgeBase.open(store) as kb:
            open_table(kb).close()
            con = duckdb.connect(str(table_path(kb)))
            con.execute("UPDATE meta SET v = 'stale' WHERE k = 'index_generation'")
            con.close()
            t0 = time.perf_counter()  # the index alone, from a current claim table
            with open_index(kb) as index:
                out["keys"] = sorted([k[0], *sorted(k[1])] for k in index.conflict_keys())
    elif engine == "plain":
        from cfkb.store.core import KnowledgeBase

        with KnowledgeBase.open(store) as kb:
            out["rows"] = sum(1 for _ in kb.query(PLAIN))
    elif engine == "sparql":
        from cfkb.store.core import KnowledgeBase
        from cfkb.workflow.conflicts import engine_keys

        with KnowledgeBase.open(store) as kb:
            out["keys"] = sorted([k[0], *sorted(k[1])] for k in engine_keys(kb))
    elif engine in ("incremental", "incremental-duckdb"):
        import datetime as dt

        import cfkb.engine
        from bench.generate import BUSY_GROUPS, PROVINCES, iri
        from cfkb.engine import lookup
        from cfkb.engine.common import filed_for
        from cfkb.engine.index import open_index
        from cfkb.model.vocabulary import Claim
        from cfkb.store import generations
        from cfkb.store.core import KnowledgeBase
        from cfkb.workflow.conflicts import conflicts_for_claims, load_rules, rows_involving

        if engine == "incremental-duckdb":  # the same writes, each kept by DuckDB's upkeep
            lookup.WRITE_LIMIT = 0
        upkeep: list[float] = []

        def timed(*args, **kw):
            t = time.perf_counter()
            cfkb.engine._follow(*args, **kw)
            upkeep.append(time.perf_counter() - t)

        generations._WRITE_FOLLOWERS[:] = [timed if f is cfkb.engine._follow else f
                                           for f in generations._WRITE_FOLLOWERS]
        times: list[float] = []
        rule_times: list[float] = []
        writes: list[float] = []
        filed: list[int | None] = []
        claims: list[str] = []
        rules = load_rules()
        with KnowledgeBase.open(store, write=True) as kb:
            open_index(kb).close()  # the table and the index exist: each write below keeps them current
            for g in range(BUSY_GROUPS if busy else 0):
                group = iri(f"busy-{g}")
                # a new list in a province where the group has one already: a functional conflict
                claim = Claim(subject=group, predicate="https://w3id.org/cfkb/ns#runsAs",
                              object=f"{group}-list-new-{engine}", source=iri("outlet-0"), speaker=None,
                              area=iri(PROVINCES[g % len(PROVINCES)]), election=None,
                              date=dt.date(2024, 1, 1), tlp="CLEAR")
                t = time.perf_counter()
                kb.write(claim.quads())
                writes.append(time.perf_counter() - t - upkeep[-1])
                filed.append(filed_for(kb.generation(), [claim.iri]))
                claims.append(claim.iri)
            t = time.perf_counter()
            open_index(kb).close()  # the first reader: hands any held writes to DuckDB
            out["handover"] = time.perf_counter() - t
            for claim_iri, count in zip(claims, filed, strict=True):
                t = time.perf_counter()
                rows = rows_involving(kb, rules, [claim_iri])
                rule_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                found = conflicts_for_claims(kb, [claim_iri])
                times.append(time.perf_counter() - t)
                out.setdefault("conflicts", []).append(len(found))
                assert len({(i, r["this"].value, r["value"].value) for i, rs in rows.items() for r in rs}) == len(found)
                assert count == len(found), (count, len(found))  # what the write's upkeep filed
        out.update(max=max(times), median=sorted(times)[len(times) // 2], upkeep_max=max(upkeep),
                   upkeep_median=sorted(upkeep)[len(upkeep) // 2], graph_write_median=sorted(writes)[len(writes) // 2],
                   rules_max=max(rule_times), rules_median=sorted(rule_times)[len(rule_times) // 2],
                   upkeep_all=upkeep)
    elif engine == "batch":
        from bench.generate import generate
        from cfkb.engine import upkeep as upkeep_module
        from cfkb.store.core import KnowledgeBase

        upkeep: list[float] = []
        follow = upkeep_module.follow_write

        def timed(*args, **kw):
            t = time.perf_counter()
            follow(*args, **kw)
            upkeep.append(time.perf_counter() - t)

        upkeep_module.follow_write = timed
        from cfkb.engine.index import open_index

        ds = generate(10_000, seed=seed + 1000)
        quads = [q for c in ds.claims for q in c.quads()]
        with KnowledgeBase.open(store, write=True) as kb:
            open_index(kb).close()
            t = time.perf_counter()
            kb.write_many(quads)
            out["write"] = time.perf_counter() - t
        out["upkeep"] = sum(upkeep)
    out["seconds"] = time.perf_counter() - t0
    out["peak_mib"] = _peak_mib()
    return out


def _child(engine: str, store: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_engine", "--child", engine, "--store", store,
           "--seed", str(args.seed), "--busy", str(args.busy)]
    t = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=True, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"engine": engine, "timeout": args.timeout}
    except subprocess.CalledProcessError as exc:
        return {"engine": engine, "error": exc.stderr.strip().splitlines()[-1:]}
    result = json.loads(done.stdout)
    result["wall"] = time.perf_counter() - t
    return result


def bench_size(n: int, args: argparse.Namespace) -> list[dict]:
    import pyoxigraph as ox

    from bench.generate import write_nquads
    from cfkb.store.core import KnowledgeBase

    results = []
    with tempfile.TemporaryDirectory(prefix="cfkb-bench-engine-") as tmp:
        data = Path(tmp) / "claims.nq"
        truth = write_nquads(n, args.seed, data, busy=args.busy)
        kb = KnowledgeBase.create(Path(tmp) / "kb")
        kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
        kb.store.optimize()
        kb.write([])  # nothing: the generation stays the one the ontology set
        kb.close()
        expected = sorted([k[0], *sorted(k[1])] for k in truth)
        print(f"# {n} claims ({args.busy:.0%} about busy groups): {len(truth)} planted conflicts", file=sys.stderr)
        for engine in args.engines:
            r = _child(engine, str(Path(tmp) / "kb"), args)
            r["n"] = n
            if "keys" in r:
                r["agrees"] = r.pop("keys") == expected
            results.append(r)
            print(json.dumps(r), file=sys.stderr)
    return results


def table(results: list[dict]) -> str:
    lines = ["| claims | engine | work (s) | process wall (s) | x sql wall | peak RSS (MiB) | same conflicts |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n]
        base = next((r for r in rows if r["engine"] == "sql" and "wall" in r), None)
        for r in rows:
            if "wall" not in r:
                why = f"no answer in {r['timeout']:.0f} s" if "timeout" in r else f"error {r.get('error')}"
                lines.append(f"| {n} | {r['engine']} | {why} | | | | |")
                continue
            label, work = r["engine"], f"{r['seconds']:.2f}"
            if r["engine"].startswith("incremental"):
                label += (f" (1 new claim per busy group, worst / median: rules {r['rules_max'] * 1000:.0f} /"
                          f" {r['rules_median'] * 1000:.0f} ms, with the claim views {r['max'] * 1000:.0f} /"
                          f" {r['median'] * 1000:.0f} ms; upkeep of the write, worst / median"
                          f" {r['upkeep_max'] * 1000:.1f} / {r['upkeep_median'] * 1000:.1f} ms, against the"
                          f" graph write itself, median {r['graph_write_median'] * 1000:.0f} ms; the next reader's"
                          f" hand-over of the writes to the index {r['handover'] * 1000:.0f} ms)")
            if r["engine"] == "batch":
                label += f" (10k new claims: write {r['write']:.2f} s, table and index upkeep {r['upkeep']:.2f} s)"
            ratio = f"{r['wall'] / base['wall']:.1f}" if base else ""
            same = "" if "agrees" not in r else ("yes" if r["agrees"] else "NO")
            lines.append(f"| {n} | {label} | {work} | {r['wall']:.2f} | {ratio} | {r['peak_mib']:.0f} | {same} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--busy", type=float, default=0.2, help="share of the claims about the busy groups")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds each engine may take")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_run(args.child, args.store, args.seed, args.busy)))
        return 0
    args.engines = args.engines.split(",")
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        results += bench_size(n, args)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
