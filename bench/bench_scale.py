"""How cost grows with size: import, conflicts and export, cfkb next to the baselines.

For each size, ``bench.generate`` writes N claims (with their planted
conflicts) as N-Quads; then every step runs in its own child process, so
its peak memory (``VmHWM``, which counts Rust allocations too) is its own
(a process the step starts, as a big import's check, reports its own peak
as ``helper_peak_mib``):

======================  ==========================================================
step                    what runs
======================  ==========================================================
``import``              cfkb: ``import_files`` of the N-Quads file into a new base
                        (parse, resolve, SHACL check, journalled commit)
``load``                plain pyoxigraph: ``Store.bulk_load`` of the same file
``import-csv``          cfkb: ``import_into`` (what ``cfkb import`` runs) of the same
                        number of claims as a CSV claim table (``bench.bench_import``'s
                        synthetic rows) into a base holding their gazetteer: read,
                        resolve, check and spool in chunks, one journalled commit
``import-csv-kept``     the same, into a base that has a claim table and conflict index
                        (made on the gazetteer first): the import keeps them current
``load-csv``            plain pyoxigraph: ``Store.bulk_load`` of the quads that
                        import writes (each claim's, with its batch record), as
                        N-Quads, into a new store
``rdflib-parse``        rdflib: ``Graph.parse`` of the same file (up to
                        ``--rdflib-max`` claims)
``conflicts``           cfkb: ``find_conflicts`` end to end, no claim table or conflict index (a full run)
``conflicts-warm``      cfkb: ``find_conflicts`` again, reading the conflict index
``incremental``         cfkb: ``conflicts_for_claims`` for one claim (median of 20)
``plain``               plain pyoxigraph: the UNION of every rule as one query
``pyshacl``             pySHACL running the shapes (up to ``--pyshacl-max`` claims)
``export``              cfkb: ``export_to`` a Turtle file as it is made (TLP ceiling AMBER: everything)
``dump``                plain pyoxigraph: ``Store.dump`` of the default graph to Turtle
======================  ==========================================================

The conflict and export steps run on a base bulk-loaded from the same file,
so every engine reads the same store. Results go to ``--out`` (JSON lines,
appended, so a long run can be resumed size by size), a markdown table to
stdout, and, with matplotlib installed (``pip install '.[bench]'``), a plot::

    python -m bench.bench_scale --sizes 1000,10000,100000,1000000 --out bench/scale.jsonl
    python -m bench.bench_scale --report bench/scale.jsonl --plot bench/scale.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("import", "load", "import-csv", "import-csv-kept", "load-csv", "rdflib-parse", "conflicts", "conflicts-warm",
         "incremental", "plain", "pyshacl", "export", "dump")
#: which steps are cfkb's and which baseline each is read against
PAIRS = {"import": ("load", "rdflib-parse"), "import-csv": ("load-csv",), "import-csv-kept": ("load-csv",),
         "conflicts": ("plain", "pyshacl"),
         "conflicts-warm": ("plain",),
         "export": ("dump",)}


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _step(step: str, data: Path, store: Path, scratch: Path) -> dict:
    """In the child: run one step once, timed; what it found, for a sanity check."""
    import pyoxigraph as ox

    from cfkb.store.core import KnowledgeBase

    found: object = None
    start = time.perf_counter()
    if step == "import":
        from cfkb.io.importer import InputFile, import_files
        from cfkb.store.guard import using

        kb = KnowledgeBase.create(scratch / "imported")
        with using(quads=1 << 40, file_bytes=1 << 40):
            report = import_files(kb, [InputFile(str(data), data.read_bytes(), "nq")], analyst="bench")
        found = len(report.claims_added)
        kb.close()
    elif step == "load":
        s = ox.Store(str(scratch / "plain"))
        s.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
        s.flush()
        found = len(s)
    elif step in ("import-csv", "import-csv-kept"):
        from cfkb.io.importer import InputFile, import_files, import_into

        kb = KnowledgeBase.create(scratch / "imported")
        import_files(kb, [InputFile("gazetteer.ttl", (data.parent / "gazetteer.ttl").read_bytes())], analyst="bench")
        if step == "import-csv-kept":
            from cfkb.workflow.conflicts import find_conflicts

            find_conflicts(kb)  # a claim table and conflict index that the import then keeps current
        kb.close()
        table = data.parent / "claims.csv"
        start = time.perf_counter()
        report = import_into(scratch / "imported", [InputFile(str(table), table.read_bytes())], analyst="bench")
        found = len(report.claims_added)
        if step == "import-csv-kept":  # the import kept the index current: its stamp is the new generation
            import duckdb

            from cfkb.engine import FILE

            with KnowledgeBase.open(scratch / "imported") as kb, \
                    duckdb.connect(str(scratch / "imported" / FILE), read_only=True) as con:
                kept = con.execute("SELECT v FROM meta WHERE k = 'index_generation'").fetchone()
                found = (found, "index current" if kept and kept[0] == kb.generation() else "index STALE")
    elif step == "load-csv":
        s = ox.Store(str(scratch / "plain"))
        s.bulk_load(path=str(data.parent / "claims-csv.nq"), format=ox.RdfFormat.N_QUADS)
        s.flush()
        found = len(s)
    elif step == "rdflib-parse":
        import rdflib

        g = rdflib.Dataset()
        g.parse(str(data), format="nquads")
        found = len(g)
    elif step in ("conflicts", "conflicts-warm"):
        from cfkb.engine import FILE
        from cfkb.workflow.conflicts import find_conflicts

        kb = KnowledgeBase.open(store)
        if step == "conflicts":
            (store / FILE).unlink(missing_ok=True)  # the claim table and the conflict index
        else:
            find_conflicts(kb)  # makes the claim table and the conflict index if they were not there
            start = time.perf_counter()
        found = len(find_conflicts(kb))
    elif step == "incremental":
        import random

        from cfkb.workflow.conflicts import conflicts_for_claims

        kb = KnowledgeBase.open(store)
        claims = [r["c"].value for r in kb.select("SELECT ?c WHERE { ?c a cfkb:Claim }")]
        picks = random.Random(1).sample(claims, min(20, len(claims)))
        conflicts_for_claims(kb, picks[:1])
        times = []
        for iri in picks:
            t = time.perf_counter()
            conflicts_for_claims(kb, [iri])
            times.append(time.perf_counter() - t)
        times.sort()
        return {"seconds": times[len(times) // 2], "max": times[-1], "peak_mib": _peak_mib()}
    elif step == "plain":
        from bench.bench_conflicts import _plain_query

        kb = KnowledgeBase.open(store)
        found = len({(r["rule"].value, r["this"].value, r["value"].value) for r in kb.select(_plain_query())})
    elif step == "pyshacl":
        from cfkb.workflow.conflicts import reference_keys

        found = len(reference_keys(KnowledgeBase.open(store)))
    elif step == "export":
        from cfkb.io.export import ExportOptions, export_to

        with open(scratch / "export.ttl", "w", encoding="utf-8") as out:
            result = export_to(KnowledgeBase.open(store), out.write, ExportOptions(ceiling="AMBER"))
        found = result.claims
    elif step == "dump":
        s = ox.Store.read_only(str(store / "oxigraph"))
        s.dump(str(scratch / "dump.ttl"), format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph())
        found = True
    else:
        raise SystemExit(f"unknown step {step}")
    out = {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "found": found}
    import resource

    helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if helpers:  # a process the step started (the import's check beside it): its own peak
        out["helper_peak_mib"] = helpers
    return out


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _child(step: str, data: Path, store: Path, timeout: float, max_mib: float) -> dict:
    """Run a step in a child; stopped past ``timeout`` seconds or ``max_mib`` of memory."""
    with tempfile.TemporaryDirectory(prefix="cfkb-scale-", dir=store.parent) as scratch:
        cmd = [sys.executable, "-m", "bench.bench_scale", "--child", step, "--data", str(data),
               "--store", str(store), "--scratch", scratch]
        start = time.perf_counter()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=Path(__file__).resolve().parent.parent)
            while proc.poll() is None:
                elapsed = time.perf_counter() - start
                if elapsed > timeout or _rss_mib(proc.pid) > max_mib:
                    rss = _rss_mib(proc.pid)
                    proc.kill()
                    proc.wait()
                    if elapsed > timeout:
                        return {"timeout": timeout}
                    return {"stopped": f"over {max_mib:.0f} MiB after {elapsed:.0f} s", "rss_mib": rss,
                            "after_s": elapsed}
                time.sleep(0.2)
            if proc.returncode:
                err.seek(0)
                return {"error": (err.read().decode(errors="replace").strip().splitlines() or ["?"])[-1]}
            out.seek(0)
            return json.loads(out.read())


def bench_size(n: int, args: argparse.Namespace) -> None:
    import pyoxigraph as ox

    from bench.generate import write_nquads
    from cfkb.store.core import KnowledgeBase

    work = Path(tempfile.mkdtemp(prefix=f"cfkb-scale-{n}-", dir=args.workdir))
    try:
        data = work / "claims.nq"
        t = time.perf_counter()
        truth = write_nquads(n, args.seed, data)
        generated = time.perf_counter() - t
        kb = KnowledgeBase.create(work / "kb")
        kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
        kb.close()
        if {"import-csv", "import-csv-kept", "load-csv"} & set(args.steps):
            write_table(n, work)
        print(f"# {n} claims: {data.stat().st_size / 2**20:.0f} MiB of N-Quads, {len(truth)} planted conflicts,"
              f" generated in {generated:.0f} s", file=sys.stderr)
        for step in args.steps:
            if (step == "pyshacl" and n > args.pyshacl_max) or (step == "rdflib-parse" and n > args.rdflib_max):
                continue
            r = {"n": n, "step": step, **_child(step, data, work / "kb", args.timeout, args.max_mib)}
            if step in ("conflicts", "conflicts-warm", "plain", "pyshacl") and "found" in r:
                r["agrees"] = r["found"] == len(truth)
            print(json.dumps(r), file=sys.stderr)
            with open(args.out, "a", encoding="utf-8") as out:
                out.write(json.dumps(r) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_table(n: int, work: Path) -> None:
    """``n`` synthetic claims as a CSV table with its gazetteer, and the quads importing it writes."""
    import datetime as dt

    import pyoxigraph as ox

    from bench.bench_import import _csv, _synthetic_rows
    from cfkb.model.vocabulary import CFKB, PROV, XSD, ClaimText

    gazetteer, rows, claims = _synthetic_rows(n)
    (work / "gazetteer.ttl").write_bytes(gazetteer)
    (work / "claims.csv").write_bytes(_csv(rows))
    del rows
    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).isoformat()
    text = ClaimText(tail=[(CFKB.recordedAt, ox.Literal(when, datatype=XSD.dateTime)),
                           (CFKB.recordedBy, ox.Literal("bench")),
                           (PROV.wasGeneratedBy, ox.NamedNode("https://w3id.org/cfkb/id/batch/bench"))])
    with open(work / "claims-csv.nq", "w", encoding="utf-8") as out:
        for i in range(0, len(claims), 10_000):
            out.write("".join(text.lines(c, c.iri) for c in claims[i:i + 10_000]))


def _cell(r: dict | None) -> tuple[str, str]:
    if r is None:
        return "", ""
    if "seconds" not in r:
        if "stopped" in r:
            return f"stopped at {r['rss_mib'] / 1024:.0f} GiB after {r['after_s']:.0f} s", ""
        return (f"> {r['timeout']:.0f}" if "timeout" in r else "error"), ""
    return f"{r['seconds']:.2f}", f"{r['peak_mib']:.0f}"


def table(results: list[dict]) -> str:
    """Markdown: per size and step, seconds and peak MiB, and cfkb's ratio to each baseline."""
    by = {(r["n"], r["step"]): r for r in results}
    sizes = sorted({r["n"] for r in results})
    lines = ["| step | " + " | ".join(f"{n:,} claims: s / MiB" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for step in STEPS:
        if not any((n, step) in by for n in sizes):
            continue
        cells = []
        for n in sizes:
            s, m = _cell(by.get((n, step)))
            cells.append(f"{s} / {m}" if m else s)
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", "| cfkb step / baseline | " + " | ".join(f"{n:,}: time x / memory x" for n in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for ours, bases in PAIRS.items():
        for base in bases:
            cells = []
            for n in sizes:
                a, b = by.get((n, ours)), by.get((n, base))
                ok = a and b and "seconds" in a and "seconds" in b and b["seconds"] > 0
                ratios = (a["seconds"] / b["seconds"], a["peak_mib"] / b["peak_mib"]) if ok else None  # type: ignore[index]
                cells.append(f"{ratios[0]:.2f} / {ratios[1]:.2f}" if ratios else "")
            if any(cells):
                lines.append(f"| {ours} / {base} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 5))
    for step in STEPS:
        rows = sorted((r for r in results if r["step"] == step and "seconds" in r), key=lambda r: r["n"])
        if not rows:
            continue
        style = "-o" if step in PAIRS or step == "incremental" else "--s"
        ns = [r["n"] for r in rows]
        ax_t.plot(ns, [r["seconds"] for r in rows], style, label=step)
        ax_m.plot(ns, [r["peak_mib"] for r in rows], style, label=step)
    for ax, label in ((ax_t, "seconds"), (ax_m, "peak memory (MiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("claims")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_title("time (solid: cfkb, dashed: baselines)")
    ax_m.set_title("peak memory of the step's process")
    ax_m.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--max-mib", type=float, default=8192, help="stop a step whose memory passes this")
    ap.add_argument("--pyshacl-max", type=int, default=1000)
    ap.add_argument("--rdflib-max", type=int, default=100_000)
    ap.add_argument("--workdir", default=None, help="where the temporary stores go (default: the system's)")
    ap.add_argument("--out", type=Path, default=Path("scale.jsonl"))
    ap.add_argument("--report", type=Path, help="only print the table of an earlier run's JSON lines")
    ap.add_argument("--plot", type=Path, help="also draw time and memory against size to this PNG")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_step(args.child, args.data, args.store, args.scratch)))
        return 0
    if not args.report:
        args.steps = args.steps.split(",")
        for n in (int(x) for x in args.sizes.split(",")):
            bench_size(n, args)
    source = args.report or args.out
    results = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(table(results))
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
