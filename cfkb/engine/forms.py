"""The rules' executable forms as text: the ``shapes/*.sql`` files, read without a database.

Each file holds one statement per rule, each after a line ``-- rule:
LocalName``. The statements are written in the SQL that DuckDB and SQLite
both read (no ``SEMI JOIN``, no ``bool_or``): DuckDB runs them over the
whole claim table (:mod:`cfkb.engine.rules`), SQLite over the few rows near
one new claim (:mod:`cfkb.engine.lookup`). This module only splits the
files, names their rules, and digests them; it loads neither database.

A line that starts ``-- delta:`` is a comment to the whole run. Where a
statement runs for a few wanted statements (a table ``wanted (iri)``
beside ``claims``), the rest of the line is read as SQL
(:func:`for_delta`): a condition that keeps the rule to rows that can
involve a wanted statement (the keys of a wanted claim), so that a new
claim about a busy group is not paired with every other claim of that
group only to be dropped. Tests hold the rows that involve each claim to
be the same with and without these lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from cfkb.errors import InputError
from cfkb.model.vocabulary import content_hash

SHAPES_NS = "https://w3id.org/cfkb/shapes#"
_MARK = re.compile(r"^--\s*rule:\s*(\S+)\s*$", re.MULTILINE)

#: rule IRI -> (file, line, name) of its SQL form, for messages
LINES: dict[str, tuple[Path, int, str]] = {}


class RuleFileError(InputError):
    """A rule's executable form that does not parse, or does not fit its rule."""


def split_rule_file(path: Path) -> dict[str, str]:
    """Rule IRI -> SQL statement, from one ``.sql`` rule file (not checked against a schema).

    Raises:
        RuleFileError: the file cannot be read, names no rule, or a rule has
            no statement (the message names the file and line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"{path}: cannot read this rule file: {exc}") from exc
    marks = list(_MARK.finditer(text))
    if not marks:
        raise RuleFileError(f"{path}:1:1: no '-- rule: Name' line; each statement follows one")
    found: dict[str, str] = {}
    for i, m in enumerate(marks):
        body = text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip()
        body = body.rstrip().rstrip(";").strip()
        line = text.count("\n", 0, m.start()) + 1
        name = m.group(1)
        iri = name if name.startswith(("http://", "https://")) else SHAPES_NS + name
        if not body:
            raise RuleFileError(f"{path}:{line}:1: rule {name} has no statement")
        found[iri] = body
        LINES[iri] = (path, line, name)
    return found


@lru_cache(maxsize=4)
def load_forms(paths: tuple[Path, ...] | None = None) -> dict[str, tuple[Path, str]]:
    """Rule IRI -> (file, SQL) for every rule file (the shipped ones by default)."""
    from cfkb.resources import rule_sql_files

    out: dict[str, tuple[Path, str]] = {}
    for path in paths or tuple(rule_sql_files()):
        for iri, sql in split_rule_file(path).items():
            if iri in out:
                raise RuleFileError(f"{path}: rule {iri} is also in {out[iri][0]}")
            out[iri] = (path, sql)
    return out


def rules_digest(paths: Iterable[Path] | None = None) -> str:
    """A digest of the rule files (the shapes and their SQL forms): other rules, other answers."""
    from cfkb.resources import rule_sql_files, shape_files

    files = sorted(paths) if paths is not None else [*shape_files(), *rule_sql_files()]
    return _digest(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


@lru_cache(maxsize=8)
def _digest(files: tuple[tuple[str, int, int], ...]) -> str:
    return content_hash("index-1", *(Path(name).name + "\n" + Path(name).read_text(encoding="utf-8")
                                     for name, _, _ in files))


def undoable(sql: str) -> bool:
    """Whether a rule's statement has an exception, which a new statement can
    meet and so undo a conflict the rule found before."""
    return "NOT EXISTS" in sql.upper()


_EXCEPTION = re.compile(r"NOT\s+EXISTS\s*\(\s*SELECT\s+.*?\bFROM\s+(\w+)", re.IGNORECASE | re.DOTALL)
_PREDICATE = re.compile(r"\bp\s*=\s*'([^']+)'")
#: tables an exception may read that no claim's write changes in place (a write to them is
#: not a small write: see :func:`cfkb.engine.lookup.keep`)
_SMALL_TABLES = {"area_overlap", "kinds"}


def exception_predicates(forms: Iterable[str]) -> frozenset[str] | None:
    """The claim predicates the rules' exceptions read, from their text: a
    new statement with another predicate cannot undo a conflict. None where
    an exception reads claims without naming their predicate (any new
    statement might undo one).

    An exception is a ``NOT EXISTS (SELECT ... FROM name ...)``; ``name``
    is a table of the rule's own ``WITH`` whose statement picks its claims
    by ``p = '...'``.
    """
    found: set[str] = set()
    for sql in forms:
        for m in _EXCEPTION.finditer(sql):
            name = m.group(1)
            if name in _SMALL_TABLES:
                continue
            body = _with_body(sql, name)
            predicates = _PREDICATE.findall(body) if body is not None else []
            if not predicates:
                return None
            found.update(predicates)
    return frozenset(found)


def _with_body(sql: str, name: str) -> str | None:
    """The statement of ``name AS (...)`` in a ``WITH``, up to its closing parenthesis."""
    m = re.search(rf"\b{re.escape(name)}\s+AS\s+(?:MATERIALIZED\s+)?\(", sql, re.IGNORECASE)
    if m is None:
        return None
    depth, i = 1, m.end()
    while i < len(sql) and depth:
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        i += 1
    return sql[m.end(): i - 1]


_DELTA = re.compile(r"^(\s*)--\s*delta:\s?", re.MULTILINE)


def for_delta(sql: str) -> str:
    """A rule's statement with its ``-- delta:`` lines read as SQL (the module's docs)."""
    return _DELTA.sub(r"\1", sql)
