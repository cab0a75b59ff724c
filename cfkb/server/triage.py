"""The dashboard's view of the conflicts: facets that combine, newest first, a page at a time.

Facets work as datasette's do: each filter narrows the conflicts, and each facet's
counts are taken over the conflicts that every *other* filter leaves, so a count is
what its link shows, and picking another value of the same facet replaces the one
picked before.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from cfkb.store.core import KnowledgeBase
from cfkb.workflow.conflicts import KINDS, STATUSES, Conflict, file_conflicts

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
    #: every conflict, filtered or not; and the open ones among them
    everything: int = 0
    everything_open: int = 0


def view(kb: KnowledgeBase, default_tlp: str | None, filters: Mapping[str, str], page: int, page_size: int,
         label: Callable[[str], str], seen: dt.datetime | None = None) -> View:
    """The conflicts the filters leave, open first and newest first (by statement date, then
    by when recorded), the IDs of the ``page``-th ``page_size`` of them, and every facet with
    its counts, filed and counted by the conflict index (:func:`file_conflicts`). With
    ``seen`` (the analyst's last visit), the conflicts recorded since are new; the filter
    ``new`` keeps only those. Only the page's conflicts are read whole.
    """

    def is_new(recorded: str) -> bool:
        when = parse_time(recorded)
        return seen is not None and when is not None and when > seen

    filing, shown = file_conflicts(kb, default_tlp, filters, offset=(page - 1) * page_size, limit=page_size,
                            sections=[statuses for _, _, statuses in SECTIONS],
                            is_new=is_new if seen is not None else None, only_new=bool(filters.get("new")))
    active = {k: v for k, v in filters.items() if k in FACETS and v}
    kept = {k: v for k, v in filters.items() if k not in FACETS and v}  # the view: not a filter
    facets = []
    for name, heading in FACETS.items():
        counts = filing.counts[name]
        chosen = active.get(name)
        if name in FIXED:
            listed = list(FIXED[name])
            more = 0
        else:
            # the most frequent, ties by name: only the values that can make the list are named
            least = min(heapq.nlargest(TOP, counts.values()), default=0)
            ranked = sorted((v for v, n in counts.items() if n >= least),
                            key=lambda v: (-counts[v], _text(name, v, label).casefold()))
            listed = ranked[:TOP]
            if chosen and chosen not in listed:
                listed.append(chosen)
            more = len(counts) - len(listed[:TOP])
        facets.append(Facet(name, heading, [
            FacetValue(v, _text(name, v, label), counts[v], address({**active, **kept}, 1, **{name: v}), v == chosen)
            for v in listed], address({**active, **kept}, 1, **{name: None}), chosen, max(more, 0)))
    pages = max(1, -(-filing.found // page_size))
    totals = {key: filing.totals[i] for i, (key, _, _) in enumerate(SECTIONS)}
    return View(shown, filing.found, facets, page, pages, (page - 1) * page_size + 1, totals, filing.new, filing.ids,
                 sum(filing.overall.values()), filing.overall[0])


def _text(facet: str, value: str, label: Callable[[str], str]) -> str:
    if facet in ("entity", "area", "source"):
        return label(value)
    if facet == "tlp":
        return "TLP:" + value
    return value
