"""One-claim writes to a base on a SPARQL server: the conflict work each costs.

    python -m bench.remote_upkeep URL_OR_STORE [--writes 20]

URL_OR_STORE is a server (or, to compare, a store on disk) holding a base
made from ``bench.generate`` claims with the busy groups (``--busy 0.2``). For each busy group in turn, one new claim (a
new list in a province where the group has one: a functional conflict with
each of those claims) is written through cfkb, as ``cfkb claim add`` commits
it; then timed: the graph write, the upkeep of the local claim table and
conflict index (a delta), and the check (the conflicts involving the new
claim, from the index). Also counts the requests each step sends. Prints the
median and worst of each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from typing import Any

from bench.generate import PROVINCES, iri
from cfkb.engine import remote as remote_upkeep
from cfkb.engine import upkeep as local_upkeep
from cfkb.engine.index import open_index
from cfkb.model.vocabulary import Claim
from cfkb.store.core import KnowledgeBase
from cfkb.store.remotehttp import HttpClient


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", metavar="URL_OR_STORE")
    ap.add_argument("--writes", type=int, default=20)
    ap.add_argument("--day", default="2025-01-01", help="the new claims' date (a new one for each run)")
    args = ap.parse_args(argv)
    spent: dict[str, list[float]] = {"write": [], "upkeep": [], "check": []}
    requests: dict[str, list[int]] = {"upkeep": [], "check": []}
    sent = [0]
    original = HttpClient.post

    def counted(self: HttpClient, *a: Any, **kw: Any) -> Any:
        sent[0] += 1
        return original(self, *a, **kw)

    HttpClient.post = counted  # type: ignore[method-assign]
    follow = remote_upkeep.follow_remote_write
    timing: dict[str, float] = {}

    def timed_follow(*a: Any, **kw: Any) -> None:
        t, n = time.perf_counter(), sent[0]
        try:
            follow(*a, **kw)
        finally:
            timing["upkeep"] = time.perf_counter() - t
            timing["upkeep_requests"] = sent[0] - n

    local_follow = local_upkeep.follow_write

    def timed_local_follow(*a: Any, **kw: Any) -> None:
        t = time.perf_counter()
        try:
            local_follow(*a, **kw)
        finally:
            timing["upkeep"] = time.perf_counter() - t
            timing["upkeep_requests"] = 0

    remote_upkeep.follow_remote_write = timed_follow  # type: ignore[assignment]
    local_upkeep.follow_write = timed_local_follow  # type: ignore[assignment]
    day = dt.date.fromisoformat(args.day)
    with KnowledgeBase.open(args.url, write=True) as kb:
        with open_index(kb) as index:  # current before the first write
            print(f"{index.count()} conflicts, {index.table.count()} claims in the table")
        for i in range(args.writes):
            group = iri(f"busy-{i % 20}")
            claim = Claim(subject=group, predicate="https://w3id.org/cfkb/ns#runsAs",
                          object=f"{group}-list-{PROVINCES[(i + 1) % len(PROVINCES)]}", source=iri("outlet-0"),
                          speaker=None, area=iri(PROVINCES[i % len(PROVINCES)]), election=None,
                          date=day + dt.timedelta(days=i), tlp="CLEAR")
            t = time.perf_counter()
            kb.write(claim.quads())
            spent["write"].append(time.perf_counter() - t - timing["upkeep"])
            spent["upkeep"].append(timing["upkeep"])
            requests["upkeep"].append(int(timing["upkeep_requests"]))
            t, n = time.perf_counter(), sent[0]
            with open_index(kb) as index:
                found = index.page({}, claims=[claim.iri], limit=0)[0]
                current = index.table.generation == kb.generation()
            spent["check"].append(time.perf_counter() - t)
            requests["check"].append(sent[0] - n)
            assert current and found, (current, found)
    for step, times in spent.items():
        ms = sorted(x * 1000 for x in times)
        extra = f", {statistics.median(requests[step]):.0f} request(s)" if step in requests else ""
        print(f"{step:7} median {statistics.median(ms):7.1f} ms, worst {ms[-1]:7.1f} ms{extra}")
    both = sorted((u + c) * 1000 for u, c in zip(spent["upkeep"], spent["check"], strict=True))
    print(f"upkeep + check: median {statistics.median(both):.1f} ms, worst {both[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
