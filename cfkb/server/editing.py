"""What the query editor shows around a query: the named query's text without its planner
notes, syntax errors as one line with the place they point at, and the vocabulary the
editor completes.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from cfkb.model.vocabulary import CFKB_NS, PREFIXES
from cfkb.resources import ontology_path
from cfkb.workflow import queries

_POSITION = re.compile(r"error at (\d+):(\d+):\s*(.*)", re.DOTALL)
#: one alternative the parser lists: a quoted token, a keyword, or a character class
_ALTERNATIVE = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|[A-Za-z][\w ]*')
_TOKEN = re.compile(r"""[^\s{}()\[\],;.]+|[{}()\[\],;.]""")
_PREFIXED = re.compile(r"([A-Za-z][\w.-]*)?:[\w.%\\-]*$")


def shown_text(named: queries.NamedQuery) -> str:
    """A named query as the editor shows it: the opening summary and parameter lines,
    then the query without the comment lines that explain it to the planner's readers.

    >>> q = queries.NamedQuery.parse("x", "# Sum.\\nSELECT * WHERE {\\n  # why this order\\n  ?s ?p ?o\\n}\\n")
    >>> print(shown_text(q))
    # Sum.
    SELECT * WHERE {
      ?s ?p ?o
    }
    <BLANKLINE>
    """
    lines = named.text.splitlines(keepends=True)
    head = 0
    while head < len(lines) and lines[head].startswith("#"):
        head += 1
    body = [line for line in lines[head:] if not line.lstrip().startswith("#")]
    return "".join(lines[:head] + body)


def text_to_run(named: queries.NamedQuery | None, text: str) -> str:
    """The text to run for what the editor sent: the named query itself when the
    editor sent it back unchanged (so that its page plan applies), else the text."""
    if named is not None and _same(text, shown_text(named)):
        return named.text
    return text


def _same(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


@dataclass(frozen=True)
class SyntaxProblem:
    """A syntax error located in the query text: 1-based line, 0-based columns [start, end)."""

    message: str
    line: int
    start: int
    end: int
    source_line: str

    @property
    def before(self) -> str:
        return self.source_line[: self.start]

    @property
    def marked(self) -> str:
        return self.source_line[self.start:self.end]

    @property
    def after(self) -> str:
        return self.source_line[self.end:]


def _expected(rest: str) -> str:
    """The parser's list of what it expected, without character classes, at most six."""
    rest = rest.strip()
    if rest.startswith("expected one of"):
        items = [m.group(0).strip() for m in _ALTERNATIVE.finditer(rest[len("expected one of"):])]
        items = [i for i in items if not i.startswith("[") and i != "Prefix not found"]
        if not items:
            return ""
        shown = ", ".join(items[:6]) + (", …" if len(items) > 6 else "")
        return f"expected one of {shown}"
    if rest.startswith("expected"):
        return rest.split("\n", 1)[0]
    return rest.split("\n", 1)[0][:200]


def locate(message: str, text: str) -> SyntaxProblem | None:
    """A parser's error message read against the query text it was about.

    The parser names the place where it gave up, which is often just past the token
    at fault (an unknown prefix is found at the end of the name): the token marked is
    the one at that place, or the one before it when the place is blank or the end.

    >>> p = locate("SPARQL syntax error: error at 1:29: expected one of Prefix not found, ['%']",
    ...            "SELECT ?x WHERE { ?x foo:bar ?y }")
    >>> p.message[:38], p.marked
    ('line 1, column 22: unknown prefix foo:', 'foo:bar')
    >>> locate("no position here", "ASK {}") is None
    True
    """
    m = _POSITION.search(message)
    if m is None:
        return None
    line_no, column, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    lines = text.replace("\r\n", "\n").split("\n")
    if not 1 <= line_no <= len(lines):
        return None
    if not "".join(lines[line_no - 1:]).strip():
        # stopped past the end: point at the end of the last line that says something
        while line_no > 1 and not lines[line_no - 1].strip():
            line_no -= 1
        column = len(lines[line_no - 1].rstrip()) + 1
    source = lines[line_no - 1]
    at = min(max(column - 1, 0), len(source))
    tokens = [(t.start(), t.end()) for t in _TOKEN.finditer(source)]
    span = next(((s, e) for s, e in tokens if s <= at < e), None)
    if span is None or "Prefix not found" in rest:
        span = next(((s, e) for s, e in reversed(tokens) if s < at), None) or span
    if span is None:  # an empty line: mark where the parser stopped
        span = (at, at)
    start, end = span
    token = source[start:end]
    expected = _expected(rest)
    at_end = at >= len(source.rstrip()) and not "".join(lines[line_no:]).strip()
    keyword = expected[len("expected "):] if re.fullmatch(r"expected [A-Z]+", expected) else ""
    previous = next(((s, e) for s, e in reversed(tokens) if e <= at), None)
    if keyword and previous and source[previous[0]:previous[1]].isalpha():
        word = source[previous[0]:previous[1]]
        if word.upper() != keyword and difflib.get_close_matches(word.upper(), [keyword], cutoff=0.6):
            # a misspelt keyword: the parser read it as something else and stopped after it
            return SyntaxProblem(f"line {line_no}, column {previous[0] + 1}: {word!r} is not a keyword;"
                                 f" did you mean {keyword}?", line_no, previous[0], previous[1], source)
    if "Prefix not found" in rest:
        pm = _PREFIXED.search(source[:end])
        prefix = (pm.group(1) or "") if pm else token.split(":", 1)[0]
        known = ", ".join(p + ":" for p in PREFIXES)
        what = (f"unknown prefix {prefix}: (declare it with PREFIX {prefix}: <…>, or use one of {known})")
    else:
        found = "the query ends too early" if at_end or not token else f"unexpected {token!r}"
        what = found + (f"; {expected}" if expected else "")
    return SyntaxProblem(f"line {line_no}, column {start + 1}: {what}", line_no, start, end, source)


@functools.cache
def vocabulary() -> tuple[str, ...]:
    """The ``cfkb:`` terms of the ontology (classes and properties), for completion."""
    import pyoxigraph as ox


    terms: set[str] = set()
    with open(ontology_path(), "rb") as f:
        for t in ox.parse(f, format=ox.RdfFormat.TURTLE):
            for node in (t.subject, t.object):
                if isinstance(node, ox.NamedNode) and node.value.startswith(CFKB_NS):
                    local = node.value[len(CFKB_NS):]
                    if local and "/" not in local and "#" not in local:
                        terms.add("cfkb:" + local)
    return tuple(sorted(terms))
