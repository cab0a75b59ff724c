"""Server time of the pages that read the conflict index, on a base on disk.

In one process, as a read-only server holds the base (the entity-name index
built before the first request, as ``cfkb serve`` does while it gets
ready), each page's data is made ``--repeat`` times:

- ``dashboard``: the first page of the dashboard (every conflict filed and
  every facet counted in SQL over the index and the marks, the page's 20
  conflicts read whole); ``dashboard, one entity`` the same filtered by the
  busy entity;
- ``entity``: a busy entity's page (its claims, its first conflicts, the
  count of all of them);
- ``conflicts --entity``: the first 50 conflicts about that entity, as
  ``cfkb conflicts --entity X --limit 50`` reads them;
- ``source`` (with ``--source``): a busy outlet's page (its track record
  over all its claims, its first page of claims, its first conflicts, the
  count of all of them);
- ``claims about`` (the baseline): the shipped ``claims_about`` named query
  for the same entity, in plain pyoxigraph.

The pages take turns, one run of each per round, so that a machine shared
with other work weighs on all of them alike. Figures are medians of wall and
CPU time, and ratios to the baseline measured in the same run.
Example (a store made by ``bench.generate`` and ``cfkb import``, or by
``bench/bench_engine.py``'s setup)::

    python -m bench.bench_pages STORE --entity https://w3id.org/cfkb/id/b/busy-0 \
        --source https://w3id.org/cfkb/id/b/outlet-198
"""

from __future__ import annotations

import argparse
import statistics
import time


def _timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_pages", description=__doc__.split("\n\n")[0])
    ap.add_argument("store")
    ap.add_argument("--entity", required=True, help="a busy entity's IRI")
    ap.add_argument("--source", help="a busy outlet's IRI (its source page is timed too)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    import pyoxigraph as ox

    from cfkb.server import data, triage
    from cfkb.store.core import KnowledgeBase
    from cfkb.workflow.conflicts import conflict_page
    from cfkb.workflow.queries import load

    kb = KnowledgeBase.open(args.store)
    kb.entity_index()  # as a server does before its first request
    label = kb.entity_index().label
    about = load("claims_about")

    def dashboard(**filters: str) -> None:
        triage.view(kb, None, filters, 1, 20, label)

    pages = {
        "claims about (baseline)": lambda: list(kb.query(about.text, {"entity": ox.NamedNode(args.entity)})),
        "dashboard": dashboard,
        "dashboard, one entity": lambda: dashboard(entity=args.entity),
        "entity": lambda: data.entity_page(kb, args.entity),
        "conflicts --entity": lambda: conflict_page(kb, entity=args.entity, limit=50),
    }
    if args.source:
        pages["source"] = lambda: data.source_page(kb, args.source)
    for fn in pages.values():  # once untimed: the process's caches, as a server's after its first page
        fn()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in pages}
    for _ in range(args.repeat):
        for name, fn in pages.items():
            runs[name].append(_timed(fn))
    wall = {name: statistics.median(w for w, _ in times) for name, times in runs.items()}
    cpu = {name: statistics.median(c for _, c in times) for name, times in runs.items()}
    base, base_cpu = wall["claims about (baseline)"], cpu["claims about (baseline)"]
    print("| page | median server time (ms) | x baseline | median CPU (ms) | x baseline CPU |")
    print("|---|---:|---:|---:|---:|")
    for name in pages:
        print(f"| {name} | {wall[name] * 1000:.0f} | {wall[name] / base:.2f} | {cpu[name] * 1000:.0f}"
              f" | {cpu[name] / base_cpu:.2f} |")
    kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
