"""The dashboard's view of the conflicts: facets that combine, newest first, a page at a time.

Facets work as datasette's do: each filter narrows the conflicts, and each facet's
counts are taken over the conflicts that every *other* filter leaves, so a count is
what its link shows, and picking another value of the same facet replaces the one
picked before.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from cfkb.workflow.conflicts import KINDS, STATUSES, Conflict, Filed

#: The facets in the order of the address's parameters, with their headings.
FACETS = {"kind": "Kind", "status": "Status", "entity": "Entity", "area": "Area", "source": "Source",
          "grading": "Grading", "tlp": "TLP"}
#: Facets that list every value always; the others list their most frequent ones.
FIXED = {"kind": KINDS, "status": STATUSES}
#: How many values a facet that is not fixed lists.
TOP = 8
OPEN = ("open", "disputed")
SECTIONS = (("open", "Open", OPEN), ("resolved", "Resolved", ("resolved",)),
            ("dismissed", "Dismissed", ("dismissed",)))


def newest(c: Conflict) -> str:
    """The latest statement date among a conflict's claims ("" when none is dated)."""
    return max((v.date or "" for v in c.claims), default="")


def parse_time(text: str | None) -> dt.datetime | None:
    """An ISO date-time, as UTC when it names no zone; None when it is not one.

    >>> parse_time("2026-12-03T08:05:00Z").isoformat()
    '2026-12-03T08:05:00+00:00'
    >>> parse_time("yesterday") is None
    True
    """
    try:
        when = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def address(filters: Mapping[str, str], page: int = 1, **changes: str | None) -> str:
    """The dashboard's address for these filters (with ``changes``: a value, or None to drop it).

    >>> address({"kind": "derived"}, 2)
    '/?kind=derived&page=2'
    >>> address({"kind": "derived", "status": "open"}, status=None)
    '/?kind=derived'
    """
    merged = {**filters, **changes}
    pairs = [(k, merged[k]) for k in (*FACETS, "new", "view") if merged.get(k)]
    if page > 1:
        pairs.append(("page", str(page)))
    query = urlencode(pairs)
    return "/" + (f"?{query}" if query else "")


@dataclass
class FacetValue:
    value: str
    text: str
    count: int
    href: str
    active: bool


@dataclass
class Facet:
    name: str
    heading: str
    values: list[FacetValue]
    #: the address without this facet's filter
    clear: str
    active: str | None
    #: values not listed (a facet that is not fixed lists its most frequent ones)
    more: int = 0


@dataclass
class View:
    conflicts: list[Conflict]  # this page's
    found: int  # all the filters leave
    facets: list[Facet]
    page: int
    pages: int
    first: int  # 1-based number of the page's first conflict
    totals: dict[str, int] = field(default_factory=dict)  # per section, over every page
    #: IDs of the conflicts with a claim recorded after the analyst's last visit, on any page
    new: set[str] = field(default_factory=set)
    #: IDs of this page's conflicts, in order
    ids: list[str] = field(default_factory=list)


def view(filed: list[Filed], filters: Mapping[str, str], page: int, page_size: int,
         label: Callable[[str], str], seen: dt.datetime | None = None) -> View:
    """The conflicts the filters leave, open first and newest first (by statement date, then
    by when recorded), the IDs of the ``page``-th ``page_size`` of them, and every facet with
    its counts. With ``seen`` (the analyst's last visit), the conflicts recorded since are
    new; the filter ``new`` keeps only those. The page's conflicts are for the caller to
    read (:attr:`View.ids`): only they are read whole.
    """
    new: set[str] = set()
    if seen is not None:
        for f in filed:
            when = parse_time(f.recorded)
            if when is not None and when > seen:
                new.add(f.id)
    if filters.get("new"):
        filed = [f for f in filed if f.id in new]
    active = {k: v for k, v in filters.items() if k in FACETS and v}
    kept = {k: v for k, v in filters.items() if k not in FACETS and v}  # the view: not a filter

    def passes(tags: dict[str, set[str]], skip: str | None = None) -> bool:
        return all(v in tags[k] for k, v in active.items() if k != skip)

    facets = []
    for name, heading in FACETS.items():
        counts: Counter[str] = Counter()
        for f in filed:
            if passes(f.tags, skip=name):
                counts.update(f.tags[name])
        chosen = active.get(name)
        if name in FIXED:
            listed = list(FIXED[name])
            more = 0
        else:
            ranked = sorted(counts, key=lambda v: (-counts[v], _text(name, v, label).casefold()))
            listed = ranked[:TOP]
            if chosen and chosen not in listed:
                listed.append(chosen)
            more = len(ranked) - len(listed[:TOP])
        facets.append(Facet(name, heading, [
            FacetValue(v, _text(name, v, label), counts[v], address({**active, **kept}, 1, **{name: v}), v == chosen)
            for v in listed], address({**active, **kept}, 1, **{name: None}), chosen, max(more, 0)))
    found = [f for f in filed if passes(f.tags)]
    section_of = {s: i for i, (_, _, statuses) in enumerate(SECTIONS) for s in statuses}
    found.sort(key=lambda f: f.id)
    found.sort(key=lambda f: (f.newest, f.recorded), reverse=True)
    found.sort(key=lambda f: section_of.get(f.status, 9))
    pages = max(1, -(-len(found) // page_size))
    start = (page - 1) * page_size
    totals = {key: sum(1 for f in found if f.status in statuses) for key, _, statuses in SECTIONS}
    return View([], len(found), facets, page, pages, start + 1, totals, new,
                [f.id for f in found[start:start + page_size]])


def _text(facet: str, value: str, label: Callable[[str], str]) -> str:
    if facet in ("entity", "area", "source"):
        return label(value)
    if facet == "tlp":
        return "TLP:" + value
    return value
