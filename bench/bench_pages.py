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
- ``claims about`` (the baseline): the shipped ``claims_about`` named query
  for the same entity, in plain pyoxigraph.

Figures are medians, and ratios to the baseline measured in the same run.
Example (a store made by ``bench.generate`` and ``cfkb import``, or by
``bench/bench_engine.py``'s setup)::

    python -m bench.bench_pages STORE --entity https://w3id.org/cfkb/id/b/busy-0
"""

from __future__ import annotations

import argparse
import statistics
import time


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_pages", description=__doc__.split("\n\n")[0])
    ap.add_argument("store")
    ap.add_argument("--entity", required=True, help="a busy entity's IRI")
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
    results = {name: _median(fn, args.repeat) for name, fn in pages.items()}
    base = results["claims about (baseline)"]
    print("| page | median server time (ms) | x baseline |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1000:.0f} | {seconds / base:.1f} |")
    kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
