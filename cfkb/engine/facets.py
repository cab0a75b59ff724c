"""Conflicts filed under facets and counted in SQL, a page at a time.

The dashboard files every conflict under its kind, status, entities, areas,
sources, grading and TLP (each of its claims'), lets filters combine, counts
every facet over what the *other* filters leave, and shows one page, open
first and newest first. Here all of that is a few statements over the
conflict index: its conflicts and the tags it keeps for them, the gradings
and TLP levels among them kept by :mod:`cfkb.engine.marks`; so only a
page's conflicts are ever read whole, and no conflict becomes a Python
object just to be counted.

A conflict's tags, from each of its claims (the clashing pair and the
supporting ones):

``entity``
    the claim's subject and object;
``area``, ``source``
    its area; its speaker and its outlet;
``grading``
    its reliability (the claim's own, else the speaker's, else the outlet's)
    and credibility, as ``B2``, ``?3``, or ``ungraded``;
``tlp``
    its TLP level (``AMBER+STRICT``), or the base's default marking.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from cfkb.engine import marks
from cfkb.engine.common import TEXTS, texts
from cfkb.engine.index import ConflictIndex, open_index
from cfkb.engine.table import connect
from cfkb.store.core import KnowledgeBase

#: The facets a conflict is filed under.
FACETS = ("kind", "status", "entity", "area", "source", "grading", "tlp")
#: Facets with one value per conflict (the others take each of its claims')
_OWN = ("kind", "status")

# Each conflict's tags are kept by the index (``conflict_tags``), so filing is a
# join of the conflicts with the statuses, and each count one GROUP BY over the
# tags: a conflict has one row per (facet, value), except the TLP levels, where
# a claim with no level of its own (NULL) stands for the default.
_FILED = """
CREATE OR REPLACE TEMP TABLE filed_status AS SELECT {texts} AS id, {texts} AS status;
CREATE OR REPLACE TEMP TABLE filed_default AS SELECT ?::VARCHAR AS tlp;
CREATE OR REPLACE TEMP TABLE filed AS
SELECT k.id, r.kind, coalesce(st.status, 'open') AS status, k.newest, k.recorded
FROM conflicts k JOIN rule_kinds r USING (rule) LEFT JOIN filed_status st USING (id)
WHERE k.newest IS NOT NULL;
CREATE OR REPLACE TEMP VIEW filed_tlp AS
SELECT * FROM (SELECT id, coalesce(t.value, d.tlp) AS value FROM {tags} t CROSS JOIN filed_default d
               WHERE t.facet = 'tlp')
WHERE value IS NOT NULL AND value <> ''
"""


@dataclass
class Filing:
    """What the filters leave: how many, each facet's counts, and one page's IDs in order."""

    found: int
    #: facet -> value -> conflicts, over what the other filters leave
    counts: dict[str, Counter[str]]
    #: this page's conflict IDs, in order
    ids: list[str]
    #: conflicts per section (over every page)
    totals: dict[int, int]
    #: IDs of the conflicts that are new (see :func:`file`), on any page
    new: set[str] = field(default_factory=set)
    #: conflicts per section with no filter
    overall: dict[int, int] = field(default_factory=dict)


def _filed_index(kb: KnowledgeBase) -> tuple[ConflictIndex, str]:
    """The conflict index, and the name of its table of tags with the
    grades and markings current for ``kb``.

    Stale marks are made again in the file where it can be written;
    otherwise they are read from the graph into a table of this connection.
    """
    index = open_index(kb)
    stamp = marks.stamp_of(kb)
    if marks.stamped(index.con) == stamp:
        return index, "conflict_tags"
    where = index.table.where
    if where != ":memory:":
        index.close()
        with contextlib.suppress(duckdb.Error):
            con = connect(where)
            try:
                con.execute("BEGIN")
                marks.fill(con, kb)
                con.execute("COMMIT")
            finally:
                con.close()
        index = open_index(kb)
        if marks.stamped(index.con) == stamp:
            return index, "conflict_tags"
    return index, marks.filed_apart(index.con, kb)


def file(kb: KnowledgeBase, statuses: Mapping[str, str], default_tlp: str | None,
         filters: Mapping[str, str], *, offset: int, limit: int, sections: Sequence[Sequence[str]],
         is_new: Callable[[str], bool] | None = None, only_new: bool = False,
         then: Callable[[ConflictIndex, list[str]], None] | None = None) -> Filing:
    """File the base's conflicts and count them.

    ``statuses`` are the conflicts' statuses (ID -> status; absent: open),
    ``default_tlp`` the level of a claim with no marking of its own,
    ``filters`` facet -> value (every one must hold), ``sections`` the
    statuses of each section in the listing's order. ``is_new`` tells from
    a conflict's latest recording time whether it is new; with
    ``only_new``, the others are left out before anything is counted.
    The listing: by section, then newest first (statement date, then
    recording time), then by ID. ``then`` is given the open index and the
    page's IDs, to read the page's conflicts before it is closed (each
    opening of the file costs some 25 ms).
    """
    index, tags = _filed_index(kb)
    with index:
        con = index.con
        text = _FILED.format(tags=tags, texts=TEXTS).split(";")
        con.execute(text[0], [texts(statuses), texts(statuses.values())])
        con.execute(text[1], [default_tlp])
        for statement in text[2:]:
            con.execute(statement)
        new: set[str] = set()
        if is_new is not None:
            new = {cid for cid, recorded in con.execute("SELECT id, recorded FROM filed").fetchall()
                   if is_new(recorded)}
        active = {k: v for k, v in filters.items() if k in FACETS and v}
        con.execute(f"CREATE OR REPLACE TEMP TABLE filed_new AS SELECT {TEXTS} AS id", [texts(sorted(new))])

        def passing(skip: str | None) -> tuple[str, list[str]]:
            """A condition on ``id`` that every filter but ``skip``'s holds, and its values."""
            where, values = ["true"], []
            if only_new:
                where.append("id IN (SELECT id FROM filed_new)")
            for name, value in active.items():
                if name != skip:
                    where.append(f"id IN (SELECT id FROM filed WHERE {name} = ?)" if name in _OWN else
                                 "id IN (SELECT id FROM filed_tlp WHERE value = ?)" if name == "tlp" else
                                 f"id IN (SELECT id FROM {tags} WHERE facet = '{name}' AND value = ?)")
                    values.append(value)
            return " AND ".join(where), values

        def count(name: str, where: str, values: list[str]) -> Counter[str]:
            if name in _OWN:
                text = f"SELECT {name}, count(*) FROM filed WHERE {where} GROUP BY ALL"
            elif name == "tlp":
                text = f"SELECT value, count(DISTINCT id) FROM filed_tlp WHERE {where} GROUP BY ALL"
            else:
                text = f"SELECT value, count(*) FROM {tags} WHERE facet = '{name}' AND {where} GROUP BY ALL"
            return Counter(dict(con.execute(text, values).fetchall()))

        counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
        where, values = passing(None)
        # a conflict of the filing has each tag once (one of the index, and only with its conflict)
        every = (f"SELECT facet, value, count(*) FROM {tags} WHERE facet <> 'tlp' AND {where} GROUP BY ALL"
                 f" UNION ALL SELECT 'tlp', value, count(DISTINCT id) FROM filed_tlp WHERE {where} GROUP BY ALL")
        for name, value, n in con.execute(every, [*values, *values]).fetchall():
            if name not in active:
                counts[name][value] = n
        for name in FACETS:
            if name in active:
                counts[name] = count(name, *passing(name))
            elif name in _OWN:
                counts[name] = count(name, where, values)
        order = " ".join(f"WHEN status IN (SELECT {TEXTS}) THEN {i}" for i in range(len(sections)))
        section = f"CASE {order} ELSE {len(sections)} END" if sections else "0"
        listed = [texts(s) for s in sections]
        totals = dict(con.execute(f"SELECT {section} AS section, count(*) FROM filed WHERE {where} GROUP BY ALL",
                                  [*listed, *values]).fetchall())
        overall = dict(con.execute(f"SELECT {section} AS section, count(*) FROM filed GROUP BY ALL",
                                   listed).fetchall())
        ids = [r[0] for r in con.execute(
            f"SELECT id FROM filed WHERE {where} ORDER BY {section}, newest DESC, recorded DESC, id"
            f" LIMIT ? OFFSET ?", [*values, *listed, limit, offset]).fetchall()]
        if then is not None:
            then(index, ids)
    return Filing(sum(totals.values()), counts, ids, {i: totals.get(i, 0) for i in range(len(sections))}, new,
                  {i: overall.get(i, 0) for i in range(len(sections) + 1)})

