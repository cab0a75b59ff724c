"""Conflict rules as SQL over the claim table.

Each rule's executable form sits beside its SHACL form: ``shapes/direct.sql``
beside ``shapes/direct.ttl``, and so on. A file holds one statement per rule,
each after a line ``-- rule: LocalName`` (the constraint's name in the
shapes namespace). A statement selects the rule's variables as columns:
``this`` and ``value``, and ``contests`` / ``wing`` where the rule has them;
its rows are the compiled SPARQL's rows (:func:`cfkb.workflow.conflicts.compile_rule`),
as a set. The SHACL-SPARQL stays the declared semantics; tests hold the two
to the same answers.

The tables the statements read are those of :mod:`cfkb.engine.table`:
``claims``, ``kinds`` and ``area_overlap``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyoxigraph as ox

from cfkb.engine.common import TEXTS, texts
from cfkb.engine.forms import LINES, RuleFileError, load_forms, split_rule_file
from cfkb.engine.shapes import Rule, compile_rule, incremental_rows
from cfkb.engine.table import CREATE, ClaimTable, open_table
from cfkb.store.core import KnowledgeBase

COLUMNS = ("this", "value", "contests", "wing")


def parse_rule_file(path: Path, *, check: bool = True) -> dict[str, str]:
    """Rule IRI -> SQL statement, from one ``.sql`` rule file
    (:func:`cfkb.engine.forms.split_rule_file`).

    With ``check``, each statement is also prepared against the table's
    schema (an empty in-memory DuckDB), so a statement that does not parse,
    or selects other columns, is reported before anything runs.

    Raises:
        RuleFileError: the file cannot be read, names no rule, or a statement
            does not parse or selects other columns (the message names the
            file, line and rule).
    """
    found = split_rule_file(path)
    if check:
        con = duckdb.connect()
        try:
            con.execute(CREATE)
            for iri, body in found.items():
                cur = _execute(con, iri, f"SELECT * FROM ({body}) AS rule LIMIT 0")
                columns = [d[0] for d in cur.description]
                if columns[:2] != ["this", "value"] or any(c not in COLUMNS for c in columns):
                    where, line, name = LINES[iri]
                    raise RuleFileError(f"{where}:{line}:1: rule {name} selects {', '.join(columns)}; it must"
                                        " select this, value and only contests or wing besides")
        finally:
            con.close()
    return found


def _execute(con: duckdb.DuckDBPyConnection, iri: str, sql: str) -> Any:
    """Run a rule's statement; a statement DuckDB refuses is an error naming its file and line."""
    try:
        return con.execute(sql)
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
        where, line, name = LINES.get(iri, (Path("shapes"), 1, iri))
        first = " ".join(str(exc).split())
        raise RuleFileError(f"{where}:{line}:1: rule {name} does not parse as SQL: {first}") from exc


def load_sql(paths: tuple[Path, ...] | None = None) -> dict[str, tuple[Path, str]]:
    """Rule IRI -> (file, SQL) for every rule file (the shipped ones by default);
    statements are checked as they first run (see _execute); tests check them all up front."""
    return load_forms(paths)


def sql_rows(table: ClaimTable, rule_iris: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each rule's rows (variable -> :class:`pyoxigraph.NamedNode`, unbound
    left out), run over the claim table.

    Raises:
        RuleFileError: a rule has no executable form.
    """
    forms = load_sql()
    out: dict[str, list[dict[str, Any]]] = {}
    node = ox.NamedNode
    for iri in rule_iris:
        if iri not in forms:
            raise RuleFileError(f"rule {iri} has no executable form in shapes/*.sql; add one beside its shape")
        cur = _execute(table.con, iri, forms[iri][1])
        names = [d[0] for d in cur.description]
        seen: set[tuple[Any, ...]] = set()
        rows = []
        while batch := cur.fetchmany(50_000):
            for values in batch:
                if values in seen:
                    continue
                seen.add(values)
                rows.append({n: node(v) for n, v in zip(names, values, strict=True) if v is not None})
        out[iri] = rows
    return out


def sql_keys(table: ClaimTable) -> set[tuple[str, frozenset[str]]]:
    """(rule, claims) of every conflict the SQL forms find."""
    keys = set()
    forms = load_sql()
    for iri in forms:
        for this, value in _execute(table.con, iri, f"SELECT DISTINCT this, value FROM ({forms[iri][1]})").fetchall():
            keys.add((iri, frozenset({this, value})))
    return keys


def statements(sql: str) -> list[str]:
    """The statements of a script of several, split at their semicolons (none of cfkb's holds one in a string)."""
    return [x.strip() for x in sql.split(";") if x.strip()]


# temporary tables shadow the stored ones of the same name while the rules run
_NEIGHBOURHOOD = f"""
CREATE TEMP TABLE wanted (iri VARCHAR);
INSERT INTO wanted SELECT {TEXTS};
CREATE TEMP TABLE n1 AS
    SELECT DISTINCT e FROM (SELECT unnest([s, o]) AS e FROM main.claims SEMI JOIN wanted USING (iri))
    WHERE e IS NOT NULL;
CREATE TEMP TABLE n2 AS
    SELECT e FROM n1
    UNION SELECT o FROM main.claims WHERE s IN (SELECT e FROM n1) AND o IS NOT NULL
    UNION SELECT s FROM main.claims WHERE o IN (SELECT e FROM n1) AND s IS NOT NULL;
CREATE TEMP TABLE claims AS
    SELECT * FROM main.claims WHERE s IN (SELECT e FROM n2) OR o IN (SELECT e FROM n1);
"""
_TEMP = ("wanted", "n1", "n2", "claims")


@contextmanager
def neighbourhood(con: duckdb.DuckDBPyConnection, claim_iris: list[str]) -> Iterator[None]:
    """While open, ``claims`` on ``con`` reads only the statements a rule can
    join to one of ``claim_iris`` (a temporary table shadows the stored one).

    With ``n1`` the claims' subjects and objects, and ``n2`` those and the
    other end of every statement about one of them, these are the statements
    whose subject is in ``n2`` or whose object is in ``n1``. Every rule joins
    a claim to others through a shared subject, or through one statement's
    object being another's subject (a list and what it contests), and its
    exceptions read the statements about the objects it pairs: so the
    statements of every conflict that involves one of the claims, and of its
    exceptions, are among these. Statements that only share an object with
    something further away (every claim about one election) are not: on a
    base with busy entities that is most of the base.
    """
    try:
        for statement in statements(_NEIGHBOURHOOD):
            con.execute(statement, [texts(claim_iris)] if "?" in statement else None)
        yield
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def sql_rows_involving(table: ClaimTable, rule_iris: list[str],
                       claim_iris: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each rule's rows for every conflict that involves one of ``claim_iris``
    (in any role), all rows of each such conflict.

    The rules run over the :func:`neighbourhood` of the claims, so a new
    claim about a busy entity is checked against that entity's statements,
    not the whole base.

    Raises:
        RuleFileError: a rule has no executable form.
    """
    forms = load_sql()
    for iri in rule_iris:
        if iri not in forms:
            raise RuleFileError(f"rule {iri} has no executable form in shapes/*.sql; add one beside its shape")
    wanted = set(claim_iris)
    out: dict[str, list[dict[str, Any]]] = {}
    with neighbourhood(table.con, claim_iris):
        for iri in rule_iris:
            cur = _execute(table.con, iri, forms[iri][1])
            names = [d[0] for d in cur.description]
            rows = {tuple(r) for r in cur.fetchall()}
            pairs = {(r[0], r[1]) for r in rows if wanted.intersection(v for v in r if v is not None)}
            out[iri] = [{n: ox.NamedNode(v) for n, v in zip(names, r, strict=True) if v is not None}
                        for r in rows if (r[0], r[1]) in pairs]
    return out


# -- the rules on a base ------------------------------------------------------

def full_rows(kb: KnowledgeBase, rules: Sequence[Rule]) -> dict[str, list[dict[str, Any]]]:
    """Every rule's result rows over the whole base, by rule IRI.

    A base on disk or on a server answers from its claim table
    (:mod:`cfkb.engine`): each rule's SQL form, set-based, with the same rows
    as the compiled SPARQL. An in-memory base, a table the SQL forms cannot
    read exactly (:attr:`~cfkb.engine.table.ClaimTable.regular`), and a rule
    with no SQL form run the compiled SPARQL.
    """
    answers: dict[str, list[dict[str, Any]]] = {}
    if not kb.in_memory:
        forms = load_sql()
        with open_table(kb) as table:
            if table.regular:
                answers = sql_rows(table, [r.iri for r in rules if r.iri in forms])
    for rule in rules:
        if rule.iri not in answers:
            answers[rule.iri] = kb.select(compile_rule(rule))
    return answers


def rows_involving(kb: KnowledgeBase, rules: Sequence[Rule],
                   claim_iris: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each rule's rows for every conflict that involves one of ``claim_iris``.

    A base on disk or on a server answers from its claim table
    (:func:`cfkb.engine.rules.sql_rows_involving`); an in-memory base, a
    table the SQL forms cannot read exactly, and a rule with no SQL form
    take the compiled SPARQL with the claims bound (:func:`incremental_rows`).
    """
    wanted = sorted({str(i) for i in claim_iris})
    answers: dict[str, list[dict[str, Any]]] = {}
    if wanted and not kb.in_memory:
        forms = load_sql()
        with open_table(kb) as table:
            if table.regular:
                answers = sql_rows_involving(table, [r.iri for r in rules if r.iri in forms], wanted)
    for rule in rules:
        if rule.iri not in answers:
            answers[rule.iri] = incremental_rows(kb, compile_rule(rule), wanted)
    return answers
