"""The conflict index: every conflict the rules find, in the claim table's file.

These tables sit beside ``claims`` in ``claims.duckdb``:

``rule_kinds``
    each rule's kind and its place in the listing order;
``conflict_rows``
    the rules' result rows (``this``, ``value``, and ``contests`` / ``wing``
    where a rule has them): a derived conflict has a row per supporting chain;
``conflicts``
    one row per conflict: its ID (:func:`~cfkb.engine.shapes.conflict_id`,
    computed in SQL), rule, the two clashing claims, the date of the first
    (``this``), and the latest statement date and recording time of all its
    claims ('' where none has one), which the listings sort by;
``conflict_members``
    every claim of every conflict (the clashing pair and the supporting
    claims), which the filters by claim, entity, source and area read, with
    the claim's subject, object, area, speaker, outlet, date and recording
    time, and the grading and TLP it is filed under (kept by
    :mod:`cfkb.engine.marks`);
``conflict_tags``
    what the dashboard files each conflict under (:mod:`cfkb.engine.facets`),
    one row per (ID, facet, value): its claims' entities (subject and
    object), areas and sources (speaker and outlet), and, kept by
    :mod:`cfkb.engine.marks`, their gradings and TLP levels (NULL for a
    claim with no level of its own, which is filed under the base's default);
``marks``
    each subject's grades and marking (:mod:`cfkb.engine.marks`).

The index is stamped, in ``meta``, with the generation it was made for and a
digest of the rule files. :func:`open_index` reads it when both stamps
match; otherwise it is made again from the rules (set-based SQL over the
claim table, or the compiled SPARQL where the SQL forms cannot read the base
exactly), and a rule change is logged as the reason.

Every write keeps it current once the claim table's upkeep has committed
(:func:`cfkb.engine.delta.follow`, run by :func:`cfkb.engine.upkeep.replace_rows`):
a write that only adds statements is a delta over the new rows; any other
write (an entity merge, a change to the areas or the predicate kinds) runs
the rules again over the whole table.

Statuses are not in the index: an assessment does not move the generation,
so they are read from the graph at each listing and joined in (:meth:`ConflictIndex.page`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyoxigraph as ox

from cfkb.engine.common import TEXTS, texts
from cfkb.engine.forms import rules_digest, undoable
from cfkb.engine.marks import file_marks, graded, near
from cfkb.engine.rules import _execute, load_sql, statements
from cfkb.engine.shapes import KINDS, STATUSES, Rule, compile_rule, load_rules
from cfkb.engine.table import ClaimTable, build, connect, open_table
from cfkb.model.vocabulary import BACKGROUND_PREFIX, content_hash
from cfkb.store.core import KnowledgeBase

log = logging.getLogger("cfkb.engine")

#: the stamp of an index a write could not keep current: no generation is this
STALE = "stale"

_CLEAR = ("conflict_rows", "conflicts", "conflict_members", "conflict_entities", "conflict_tags")

# every claim of each conflict in fresh_rows, with the fields its listings read
_FRESH_MEMBERS = f"""
    SELECT DISTINCT f.id, m.claim, x.s, x.o, x.area, x.who, x.outlet, x.date, x.recorded
    FROM fresh f JOIN fresh_rows r USING (rule, this, value),
        LATERAL (SELECT unnest([r.this, r.value, r.contests, r.wing]) AS claim) m
    LEFT JOIN claims x ON x.iri = m.claim
    WHERE m.claim IS NOT NULL AND NOT starts_with(m.claim, '{BACKGROUND_PREFIX}')"""

# the conflicts and members of the rows in fresh_rows, replacing those of the same keys, the
# members filed under their gradings and TLP levels as they are made
_DERIVE = f"""
CREATE TEMP TABLE fresh AS
    SELECT DISTINCT substr(sha256(rule || chr(31) || least(this, value) || chr(31) || greatest(this, value)), 1, 16)
           AS id, rule, this, value
    FROM fresh_rows;
DELETE FROM conflict_rows WHERE (rule, this, value) IN (SELECT rule, this, value FROM fresh);
DELETE FROM conflict_members WHERE id IN (SELECT id FROM fresh);
DELETE FROM conflict_entities WHERE id IN (SELECT id FROM fresh);
DELETE FROM conflict_tags WHERE id IN (SELECT id FROM fresh);
DELETE FROM conflicts WHERE id IN (SELECT id FROM fresh);
INSERT INTO conflict_rows SELECT DISTINCT * FROM fresh_rows;
CREATE TEMP TABLE fresh_members AS {_FRESH_MEMBERS};
INSERT INTO conflict_members SELECT id, claim, s, o, area, who, outlet, date, recorded, grading, tlp
    FROM {graded("fresh_members", near("fresh_members"))};
INSERT INTO conflicts
    SELECT f.id, f.rule, f.this, f.value, coalesce(t.date, ''), d.newest, d.recorded
    FROM fresh f LEFT JOIN conflict_members t ON t.id = f.id AND t.claim = f.this
    LEFT JOIN (SELECT id, max(coalesce(date, '')) AS newest, max(coalesce(recorded, '')) AS recorded
               FROM conflict_members WHERE id IN (SELECT id FROM fresh) GROUP BY id) d ON d.id = f.id;
INSERT INTO conflict_entities
    SELECT DISTINCT m.id, e.e FROM fresh f JOIN conflict_members m ON m.id = f.id,
        LATERAL (SELECT unnest([m.s, m.o]) AS e) e
    WHERE e.e IS NOT NULL;
INSERT INTO conflict_tags
    SELECT DISTINCT id, facet, value FROM (
        SELECT m.id, 'entity' AS facet, unnest([m.s, m.o]) AS value FROM conflict_members m
        UNION ALL SELECT m.id, 'area', m.area FROM conflict_members m
        UNION ALL SELECT m.id, 'source', unnest([m.who, m.outlet]) FROM conflict_members m
    ) WHERE id IN (SELECT id FROM fresh) AND value IS NOT NULL AND value <> '';
"""


def _derive(con: duckdb.DuckDBPyConnection) -> None:
    """The conflicts and members of the rows in ``fresh_rows``, filed under their marks."""
    for statement in statements(_DERIVE):
        con.execute(statement)
    file_marks(con, "id IN (SELECT id FROM fresh)")
    con.execute("DROP TABLE temp.fresh_members")
    con.execute("DROP TABLE temp.fresh")
    con.execute("DROP TABLE temp.fresh_rows")


def _meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT k, v FROM meta").fetchall())


def _set_meta(con: duckdb.DuckDBPyConnection, **values: str) -> None:
    con.execute(f"INSERT OR REPLACE INTO meta SELECT {TEXTS}, {TEXTS}", [texts(values), texts(values.values())])


# -- making it -----------------------------------------------------------------

def _sql_forms(rules: Sequence[Rule]) -> dict[str, str]:
    forms = load_sql()
    return {r.iri: forms[r.iri][1] for r in rules if r.iri in forms}


def _fresh_rows(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TEMP TABLE fresh_rows (rule VARCHAR, this VARCHAR, value VARCHAR,"
                " contests VARCHAR, wing VARCHAR)")


def _insert_sql_rows(con: duckdb.DuckDBPyConnection, iri: str, sql: str) -> None:
    _execute(con, iri, f"INSERT INTO fresh_rows BY NAME SELECT '{_quote(iri)}' AS rule, * FROM ({sql})")


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _insert_rows(con: duckdb.DuckDBPyConnection, iri: str, rows: Iterable[Mapping[str, Any]]) -> None:
    values = [(iri, r["this"].value, r["value"].value,
               r["contests"].value if "contests" in r else None, r["wing"].value if "wing" in r else None)
              for r in rows]
    if values:
        con.executemany("INSERT INTO fresh_rows VALUES (?, ?, ?, ?, ?)", values)


def _exact(table: ClaimTable, kb: KnowledgeBase) -> bool:
    """Whether the SQL forms may answer for this base (a regular table of a base not in memory)."""
    return not kb.in_memory and table.regular


def fill(table: ClaimTable, kb: KnowledgeBase, rules: Sequence[Rule], digest: str, *, sql: bool = True) -> None:
    """Make the whole index from the rules, in one transaction, stamped for
    the table's generation; with ``sql`` false, every rule runs as SPARQL."""
    con = table.con
    forms = _sql_forms(rules) if sql and _exact(table, kb) else {}
    con.execute("BEGIN")
    try:
        for name in _CLEAR:
            con.execute(f"DELETE FROM {name}")
        con.execute("DELETE FROM rule_kinds")
        con.executemany("INSERT INTO rule_kinds VALUES (?, ?, ?, ?)",
                        [(r.iri, r.kind, KINDS.index(r.kind) if r.kind in KINDS else 9,
                          undoable(forms.get(r.iri, "NOT EXISTS"))) for r in rules])
        _fresh_rows(con)
        for rule in rules:
            if rule.iri in forms:
                _insert_sql_rows(con, rule.iri, forms[rule.iri])
            else:
                _insert_rows(con, rule.iri, kb.select(compile_rule(rule)))
        _derive(con)
        _set_meta(con, index_generation=table.generation, index_rules=digest,
                  index_sql="1" if len(forms) == len(rules) else "0")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# -- reading it ----------------------------------------------------------------

#: the conflicts with a claim by a source or in it: speaker, outlet or cited document (bound three times)
_BY_SOURCE = ("SELECT id FROM conflict_members WHERE outlet = ? OR who = ?"
              " OR claim IN (SELECT iri FROM claims WHERE cited = ?)")

@dataclass
class Listed:
    """One conflict as the index lists it."""

    id: str
    rule: str
    this: str
    value: str
    status: str


class ConflictIndex:
    """An open conflict index, current for the base it was opened on."""

    def __init__(self, table: ClaimTable) -> None:
        self.table = table
        self.con = table.con

    def close(self) -> None:
        self.table.close()

    def __enter__(self) -> ConflictIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM conflicts").fetchone()[0])  # type: ignore[index]

    def page(self, statuses: Mapping[str, str], *, kinds: Sequence[str] | None = None, entity: str | None = None,
             source: str | None = None, claims: Sequence[str] | None = None, prefix: str | None = None,
             ids: Sequence[str] | None = None, include_dismissed: bool = True, status: Sequence[str] | None = None,
             limit: int | None = None, offset: int = 0) -> tuple[int, list[Listed]]:
        """The conflicts that pass the filters, in listing order (status, kind,
        date of the later claim, ID), from ``offset``, at most ``limit``; and
        how many pass in all.

        ``statuses`` maps a conflict's ID to its latest status (open where
        absent); ``entity`` keeps conflicts with a claim about it (subject or
        object), ``source`` those with a claim by it or in it (speaker,
        outlet or the document that reported it),
        ``claims`` those with one of these claims in any role, ``prefix``
        those whose ID starts with it, ``ids`` those with these IDs, ``status`` those with one of these statuses.
        """
        where: list[str] = []
        params: list[Any] = []
        if entity:
            where.append("k.id IN (SELECT id FROM conflict_entities WHERE e = ?)")
            params.append(entity)
        if source:
            where.append(f"k.id IN ({_BY_SOURCE})")
            params += [source, source, source]
        if claims is not None:
            where.append(f"k.id IN (SELECT id FROM conflict_members WHERE claim IN (SELECT {TEXTS}))")
            params.append(texts(claims))
        if ids is not None:
            where.append(f"k.id IN (SELECT {TEXTS})")
            params.append(texts(ids))
        if prefix is not None:
            where.append("starts_with(k.id, ?)")
            params.append(prefix)
        if kinds:
            where.append(f"r.kind IN (SELECT {TEXTS})")
            params.append(texts(kinds))
        if not include_dismissed:
            where.append("coalesce(st.status, 'open') <> 'dismissed'")
        if status is not None:
            where.append(f"coalesce(st.status, 'open') IN (SELECT {TEXTS})")
            params.append(texts(status))
        body = f"""
            FROM conflicts k JOIN rule_kinds r USING (rule)
            LEFT JOIN (SELECT {TEXTS} AS id, {TEXTS} AS status) st USING (id)
            {"WHERE " + " AND ".join(where) if where else ""}"""
        head: list[Any] = [texts(statuses), texts(statuses.values()), *params]
        everything = limit is None and offset <= 0  # every row is read: they are the count
        total = 0 if everything else \
            int(self.con.execute(f"SELECT count(*) {body}", head).fetchone()[0])  # type: ignore[index]
        found = self.con.execute(f"""
            SELECT k.id, k.rule, k.this, k.value, coalesce(st.status, 'open') {body}
            ORDER BY coalesce(list_position(?::VARCHAR[], coalesce(st.status, 'open')), 10), r.ord, k.date, k.id
            {"" if everything else "LIMIT ? OFFSET ?"}""",
                                 [*head, list(STATUSES)] if everything else
                                 [*head, list(STATUSES), total if limit is None else max(0, limit),
                                  max(0, offset)]).fetchall()
        return len(found) if everything else total, [Listed(*r) for r in found]

    def rows(self, listed: Sequence[Listed]) -> dict[str, list[dict[str, ox.NamedNode]]]:
        """The rule rows of the listed conflicts, by rule IRI."""
        if not listed:
            return {}
        found = self.con.execute(
            "SELECT r.rule, r.this, r.value, r.contests, r.wing FROM conflict_rows r"
            f" SEMI JOIN (SELECT {TEXTS} AS rule, {TEXTS} AS this, {TEXTS} AS value) w USING (rule, this, value)",
            [texts(x.rule for x in listed), texts(x.this for x in listed), texts(x.value for x in listed)]).fetchall()
        out: dict[str, list[dict[str, ox.NamedNode]]] = {}
        node = ox.NamedNode
        for rule, this, value, contests, wing in found:
            row = {"this": node(this), "value": node(value)}
            if contests is not None:
                row["contests"] = node(contests)
            if wing is not None:
                row["wing"] = node(wing)
            out.setdefault(rule, []).append(row)
        return out

    def by_source(self) -> dict[str, set[str]]:
        """Each speaker and outlet with the IDs of the conflicts it has a claim in."""
        out: dict[str, set[str]] = {}
        for source, cid in self.con.execute(
                "SELECT DISTINCT u.source, m.id FROM conflict_members m JOIN claims x ON x.iri = m.claim,"
                " LATERAL (SELECT unnest([x.outlet, x.who]) AS source) u WHERE u.source IS NOT NULL").fetchall():
            out.setdefault(source, set()).add(cid)
        return out

    def members(self, statuses: Mapping[str, str]) -> list[tuple[Any, ...]]:
        """Every conflict's claims with what the dashboard files them under:
        (ID, kind, status, claim, subject, object, area, speaker, outlet,
        date, recorded), one row per claim of each conflict."""
        return self.con.execute(f"""
            SELECT k.id, r.kind, coalesce(st.status, 'open'), x.iri, x.s, x.o, x.area, x.who, x.outlet,
                   x.date, x.recorded
            FROM conflicts k JOIN rule_kinds r USING (rule)
            LEFT JOIN (SELECT {TEXTS} AS id, {TEXTS} AS status) st USING (id)
            JOIN conflict_members m ON m.id = k.id JOIN claims x ON x.iri = m.claim""",
                                [texts(statuses), texts(statuses.values())]).fetchall()

    def claims_of(self, *, entity: str | None = None, source: str | None = None) -> set[str]:
        """Every claim of every conflict about ``entity`` (or with a claim by or in ``source``)."""
        value: list[str | None]
        if entity is not None:
            ids, value = "SELECT id FROM conflict_entities WHERE e = ?", [entity]
        else:
            ids = _BY_SOURCE
            value = [source, source, source]
        return {r[0] for r in self.con.execute(
            f"SELECT DISTINCT claim FROM conflict_members WHERE id IN ({ids})", value).fetchall()}

    def clashing(self) -> set[str]:
        """Every claim on either side of a conflict (not the supporting ones)."""
        found = self.con.execute("SELECT this FROM conflicts UNION SELECT value FROM conflicts").fetchall()
        return {r[0] for r in found}

    def conflict_keys(self) -> set[tuple[str, frozenset[str]]]:
        """(rule, claims) of every conflict in the index."""
        return {(rule, frozenset({this, value}))
                for rule, this, value in self.con.execute("SELECT rule, this, value FROM conflicts").fetchall()}


def open_index(kb: KnowledgeBase, rules: Sequence[Rule] | None = None) -> ConflictIndex:
    """The base's conflict index, current for ``kb`` as it is now.

    Read from the claim table's file when its stamps are the base's
    generation and the rule files' digest; otherwise made again from the
    rules and stored (or, where the file cannot be written, kept in memory).
    ``rules`` other than the shipped ones make a private index in memory.
    """
    digest = rules_digest()
    if rules is not None:
        table = build(kb)
        fill(table, kb, rules, content_hash("custom", *(f"{r.iri}\n{r.select}" for r in rules)), sql=False)
        return ConflictIndex(table)
    table = open_table(kb)
    meta = _meta(table.con)
    if meta.get("index_generation") == table.generation and meta.get("index_rules") == digest:
        return ConflictIndex(table)
    if meta.get("index_rules") not in (None, "", digest):
        log.warning("conflict index made again: the rules changed")
    where = table.where
    if where == ":memory:":
        fill(table, kb, load_rules(), digest)
        return ConflictIndex(table)
    table.close()
    try:
        con = connect(where)
    except duckdb.Error:
        con = None  # held by another process: a private index in memory
    if con is not None:
        writable = ClaimTable(con, table.generation, where)
        try:
            if _meta(con).get("generation") == table.generation:
                fill(writable, kb, load_rules(), digest)
        except duckdb.Error:
            pass
        finally:
            writable.close()
        table = open_table(kb)
        meta = _meta(table.con)
        if meta.get("index_generation") == table.generation and meta.get("index_rules") == digest:
            return ConflictIndex(table)
        table.close()
    table = build(kb)
    fill(table, kb, load_rules(), digest)
    return ConflictIndex(table)
