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

from cfkb.conflicts import KINDS, STATUSES, Conflict

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


def recorded(c: Conflict, times: Mapping[str, str]) -> str:
    """When the latest of a conflict's claims was recorded ("" when none says)."""
    return max((times.get(v.iri, "") for v in c.claims), default="")


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


def values(c: Conflict, default_tlp: str | None) -> dict[str, set[str]]:
    """What a conflict is filed under, facet by facet (IRIs for entities, areas and sources)."""
    out: dict[str, set[str]] = {"kind": {c.kind}, "status": {c.status}, "entity": set(), "area": set(),
                                "source": set(), "grading": set(), "tlp": set()}
    for v in c.claims:
        out["entity"].update((v.subject.iri, v.object.iri))
        if v.area:
            out["area"].add(v.area.iri)
        out["source"].update(r.iri for r in (v.speaker, v.outlet) if r)
        out["grading"].add(f"{v.reliability or '?'}{v.credibility or '?'}"
                           if v.reliability or v.credibility else "ungraded")
        level = v.tlp or default_tlp
        if level:
            out["tlp"].add(level)
    return out


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


def view(everything: list[Conflict], filters: Mapping[str, str], page: int, page_size: int,
         default_tlp: str | None, label: Callable[[str], str], times: Mapping[str, str] | None = None,
         seen: dt.datetime | None = None) -> View:
    """The conflicts the filters leave, open first and newest first (by statement date, then
    by when recorded, ``times``), the ``page``-th ``page_size`` of them, and every facet with
    its counts. With ``seen`` (the analyst's last visit), the conflicts recorded since are
    new; the filter ``new`` keeps only those.
    """
    times = times or {}
    new: set[str] = set()
    if seen is not None:
        for c in everything:
            when = parse_time(recorded(c, times))
            if when is not None and when > seen:
                new.add(c.id)
    if filters.get("new"):
        everything = [c for c in everything if c.id in new]
    filed = [(c, values(c, default_tlp)) for c in everything]
    active = {k: v for k, v in filters.items() if k in FACETS and v}
    kept = {k: v for k, v in filters.items() if k not in FACETS and v}  # the view: not a filter

    def passes(tags: dict[str, set[str]], skip: str | None = None) -> bool:
        return all(v in tags[k] for k, v in active.items() if k != skip)

    facets = []
    for name, heading in FACETS.items():
        counts: Counter[str] = Counter()
        for _, tags in filed:
            if passes(tags, skip=name):
                counts.update(tags[name])
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
            FacetValue(v, _text(name, v, label), counts[v], address({**active, **kept}, **{name: v}), v == chosen)
            for v in listed], address({**active, **kept}, **{name: None}), chosen, max(more, 0)))
    found = [c for c, tags in filed if passes(tags)]
    section_of = {s: i for i, (_, _, statuses) in enumerate(SECTIONS) for s in statuses}
    found.sort(key=lambda c: c.id)
    found.sort(key=lambda c: (newest(c), recorded(c, times)), reverse=True)
    found.sort(key=lambda c: section_of.get(c.status, 9))
    pages = max(1, -(-len(found) // page_size))
    start = (page - 1) * page_size
    totals = {key: sum(1 for c in found if c.status in statuses) for key, _, statuses in SECTIONS}
    return View(found[start:start + page_size], len(found), facets, page, pages, start + 1, totals, new)


def _text(facet: str, value: str, label: Callable[[str], str]) -> str:
    if facet in ("entity", "area", "source"):
        return label(value)
    if facet == "tlp":
        return "TLP:" + value
    return value
