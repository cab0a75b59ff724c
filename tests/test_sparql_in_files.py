"""cfkb's own SPARQL texts live in files (``cfkb/queries/own/*.rq``), not in Python strings.

Every module of ``cfkb/`` is parsed with :mod:`ast`; every string it holds (a plain string, an
f-string with its placeholders blanked, strings joined with ``+``) that reads as a SPARQL query
or update is reported with its file and line. Docstrings (the first statement of a module,
class or function) are left alone: their examples are documentation. DuckDB's SQL is told apart
by its shape: SQL selects ``FROM`` a table and filters ``WHERE`` without braces, and binds
parameters as ``?`` or ``$1``, never as ``?name``.

A text that must be made by code (the body of an ``INSERT DATA`` written from serialized quads)
is listed in :data:`ALLOWED` with the reason; an entry whose text has gone fails too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cfkb"

# Texts that must be made by code: (file relative to cfkb/, words the text holds) -> why. Keep it
# short: a text that only needs values belongs in a file, its values bound.
ALLOWED: dict[tuple[str, str], str] = {
    ("store/updatetext.py", "DELETE DATA"): "a write's update: its body is the write's quads, serialized",
    ("store/updatetext.py", "INSERT DATA"): "a write's update: its body is the write's quads, serialized",
    ("store/updatetext.py", "DROP SILENT GRAPH"): "SPARQL Update names the graph to drop in the text: no variable can",
    ("store/updatetext.py", "DROP SILENT ALL"): "an update, which takes no bindings: empties a server",
    ("store/updatetext.py", "CLEAR SILENT DEFAULT"): "an update, which takes no bindings: clears the default graph",
    ("store/remote.py", "BASE <"): "the prologue put before a caller's query: the base IRI is the caller's",
}

# What an f-string's replacement field (or a joined non-string) reads as: a term, never a brace,
# so that a value the code puts in a group counts as the group's content.
_HOLE = "<...>"
_VAR = r"[?$][A-Za-z_]\w*"
# A query form, then (anything but a statement's end) a group graph pattern, either after WHERE
# or, where WHERE is left out, straight after the projected variables.
_QUERY = re.compile(
    r"\b(?:SELECT|ASK|CONSTRUCT|DESCRIBE)\b[^;]*?\bWHERE\s*\{"
    rf"|\bSELECT\s+(?:DISTINCT\s+|REDUCED\s+)?(?:\*|(?:{_VAR}|\([^;{{]*?\)\s*)(?:\s+(?:{_VAR}|\([^;{{]*?\)))*)\s*\{{"
    r"|\bASK\s*\{"
    r"|\bCONSTRUCT\s*\{",
    re.IGNORECASE,
)
# An update (alone, or after another's ``;``), or a query opening with its prologue.
_OPENING = re.compile(
    r"(?:^|;)\s*(?:#[^\n]*\n\s*)*"
    r"(?:PREFIX\s+[\w.-]*:\s*<|BASE\s*<|INSERT\s+DATA\b|DELETE\s+DATA\b|DELETE\s+WHERE\b"
    r"|INSERT\s*\{|DELETE\s*\{|WITH\s*<|LOAD\s+(?:SILENT\s+)?<|CLEAR\s+(?:SILENT\s+)?(?:GRAPH|DEFAULT|NAMED|ALL)\b"
    r"|DROP\s+(?:SILENT\s+)?(?:GRAPH|DEFAULT|NAMED|ALL)\b)",
    re.IGNORECASE,
)


def is_sparql(text: str) -> bool:
    """Whether a string reads as a SPARQL query or update (not as SQL, not as prose).

    >>> is_sparql("SELECT ?s WHERE { ?s ?p ?o }")
    True
    >>> is_sparql("SELECT count(*) FROM claims WHERE is_claim")
    False
    >>> is_sparql("PREFIX ex: <http://e/> ASK { ex:a ?p ?o }")
    True
    """
    if _OPENING.search(text):
        return True
    match = _QUERY.search(text)
    if match is None:
        return False
    # SQL never groups its WHERE with braces, but a query form inside prose could be followed
    # by one: SPARQL's group holds a variable, an IRI or a prefixed name
    group = text[match.end():]
    return bool(re.search(rf"{_VAR}|<[^<>\s]*>|\b[\w-]*:\w", group))


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the nodes that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                found.add(id(first.value))
    return found


def _text(node: ast.expr) -> str | None:
    """The text of a string expression: a constant, an f-string with its fields blanked, or
    strings joined by ``+``; None for anything else."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else _HOLE
                       for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is not None or right is not None:
            return (left or _HOLE) + (right or _HOLE)
    return None


def texts(path: Path) -> Iterator[tuple[int, str]]:
    """Every string expression of a module that is not a docstring, outermost first, with its line.

    The parts of an f-string or of a ``+`` join are read as one text, not again each alone.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp)):
            continue
        text = _text(node)
        if text is None:
            continue
        for inner in ast.walk(node):
            if inner is not node:
                skip.add(id(inner))
        yield node.lineno, text


def _words(text: str) -> str:
    return " ".join(text.split()).upper()


def inline_sparql(root: Path) -> list[str]:
    """``file:line: start of text`` for each SPARQL text held in a string under ``root``, unless allowed."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        for line, text in sorted(texts(path)):
            if not is_sparql(text):
                continue
            if any(name == file and words in _words(text) for file, words in ALLOWED):
                continue
            start = " ".join(text.split())[:60]
            found.append(f"cfkb/{name}:{line}: {start}")
    return found


def test_no_sparql_text_in_python() -> None:
    found = inline_sparql(PACKAGE)
    assert not found, "SPARQL texts in Python strings (move each to cfkb/queries/own/<name>.rq):\n" + "\n".join(found)


def test_every_allowance_is_used() -> None:
    """An allowance whose text has gone is taken off the list."""
    for file, words in ALLOWED:
        texts_there = [text for _, text in texts(PACKAGE / file)]
        assert any(is_sparql(t) and words in _words(t) for t in texts_there), (
            f"{file}: no {words} text is left: take it off ALLOWED")


@pytest.mark.parametrize("source, line", [
    ('Q = "SELECT ?s WHERE { ?s ?p ?o }"\n', 1),
    ('def f(kb):\n    return kb.select(f"""\n        SELECT ?x {{ ?x a <{kb.t}> }}""")\n', 2),
    ('x = 1\nq = "ASK { " + pattern + " }"\n', 2),
    ('Q = """\nPREFIX cfkb: <https://e/#>\nSELECT * WHERE { ?s cfkb:p ?o }"""\n', 1),
    ('U = "DELETE WHERE { ?s ?p ?o }"\n', 1),
    ('U = f"INSERT {{ ?s ?p {v} }} WHERE {{ ?s ?p ?o }}"\n', 1),
])
def test_an_inline_text_is_found(tmp_path: Path, source: str, line: int) -> None:
    (tmp_path / "m.py").write_text(source, encoding="utf-8")
    found = inline_sparql(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"cfkb/m.py:{line}:"), found


@pytest.mark.parametrize("source", [
    '"""A module. Run ``SELECT ?s WHERE { ?s ?p ?o }``."""\n',
    'def f():\n    """Example: SELECT ?x WHERE { ?x ?p ?o }"""\n',
    'S = "SELECT count(*) FROM claims WHERE is_claim"\n',
    'S = f"SELECT v FROM meta WHERE k = {key!r}"\n',
    'S = "INSERT INTO kinds VALUES (?, ?)"\n',
    'S = "DELETE FROM claims WHERE iri IN (SELECT iri FROM touched)"\n',
    'S = f"SELECT * FROM read_csv(?, columns = {{\'iri\': \'VARCHAR\'}})"\n',
    'S = "select one where { you like } best"\n',
    'H = "Run a named query: cfkb query run claims_about"\n',
])
def test_other_strings_pass(tmp_path: Path, source: str) -> None:
    (tmp_path / "m.py").write_text(source, encoding="utf-8")
    assert inline_sparql(tmp_path) == []
