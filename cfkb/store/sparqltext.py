"""SPARQL text as tokens: the one scanner cfkb has.

:mod:`cfkb.store.guard` reads keywords and bracket depth from it to screen queries;
:func:`bind_values` finds where a query's top-level ``WHERE`` group opens, to
bind values there (queries sent to a server, and bindings the planner should see);
:func:`bind_many` and :func:`filter_in` put several terms for one variable there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

import pyoxigraph as ox

from cfkb.errors import QueryError
from cfkb.store.backend import Term

# SPARQL tokens that can hide keywords: strings (long forms first), IRIs,
# comments, variables and prefixed names. Whatever is left is scanned for
# keywords, so `<http://x#>`, `"SERVICE"` or `?service` never trip it, a `#`
# inside an IRI never hides the rest of a line, and neither does an escaped
# one in a prefixed name (`ex:a\#b`, SPARQL's PN_LOCAL_ESC).
_TOKEN = re.compile("|".join((
    r'(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""',
    r"'''(?:[^'\\]|\\.|'(?!''))*'''",
    r'"(?:[^"\\\n\r]|\\.)*"',
    r"'(?:[^'\\\n\r]|\\.)*')",
    r'(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)',
    r"(?P<comment>#[^\n\r]*)",
    r"(?P<var>[?$]\w+)",
    r"(?P<pname>(?:[^\W\d][\w.-]*)?:(?:[\w.:%-]|\\.)*)",
    r"(?P<word>[^\W\d]\w*)",
    r"(?P<open>[({\[])",
    r"(?P<close>[)}\]])",
)))
# SPARQL 1.1 section 19.2: \u and \U escapes may stand anywhere in a query.
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")


def tokens(text: str) -> Iterator[re.Match[str]]:
    """The tokens of a SPARQL text that matter to cfkb, in order, at their offsets in ``text``.

    Each match's ``lastgroup`` is its kind: ``string``, ``iri``, ``comment``,
    ``var``, ``pname``, ``word``, ``open`` or ``close``; other characters
    (operators, punctuation, numbers' digits) are skipped.

    >>> [(m.lastgroup, m.group()) for m in tokens('ASK { ?s ex:p "}" }')]
    [('word', 'ASK'), ('open', '{'), ('var', '?s'), ('pname', 'ex:p'), ('string', '"}"'), ('close', '}')]
    """
    return _TOKEN.finditer(text)


def unescaped(text: str) -> str:
    r"""The text with its ``\u`` and ``\U`` escapes replaced by the characters they stand for.

    >>> unescaped(r"\u0053ERVICE")
    'SERVICE'
    """
    return _CODEPOINT.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def keywords(text: str) -> list[str]:
    """The bare keywords of a SPARQL text, upper-cased, in order.

    Strings, IRIs, comments, variables and prefixed names are skipped.

    >>> keywords('SELECT ?service WHERE { ?s ex:load "FROM" ; <http://x#> ?o } # SERVICE')
    ['SELECT', 'WHERE']
    >>> keywords('SELECT * WHERE { ?s ?p ex:x\\\\#y . SERVICE <http://e/> {} }')
    ['SELECT', 'WHERE', 'SERVICE']
    """
    return [m.group("word").upper() for m in tokens(unescaped(text)) if m.lastgroup == "word"]


def nesting(text: str) -> int:
    """The deepest nesting of brackets outside strings, IRIs and comments.

    >>> nesting('SELECT * WHERE { FILTER((1 + 2) > 0) "((((" }')
    3
    """
    depth = deepest = 0
    for m in tokens(unescaped(text)):
        if m.lastgroup == "open":
            depth += 1
            deepest = max(deepest, depth)
        elif m.lastgroup == "close":
            depth = max(0, depth - 1)
    return deepest


def where_group(query: str) -> int | None:
    """The offset just after the ``{`` opening the query's top-level WHERE group.

    None when there is none to open (``CONSTRUCT WHERE {...}``, ``DESCRIBE <x>``).

    >>> q = "SELECT ?x WHERE { ?x ?p ?o }"
    >>> q[:where_group(q)]
    'SELECT ?x WHERE {'
    >>> where_group("CONSTRUCT WHERE { ?s ?p ?o }") is None
    True
    """
    form: str | None = None
    braces = parens = 0
    after_where = template_done = False
    for m in tokens(query):
        kind, text = m.lastgroup, m.group()
        if kind == "word" and braces == 0 and parens == 0:
            upper = text.upper()
            if form is None and upper in QUERY_FORMS:
                form = upper
            elif form is not None and upper == "WHERE":
                if form == "CONSTRUCT" and not template_done:
                    return None  # the short form: its template is its pattern
                after_where = True
        elif text == "(":
            parens += 1
        elif text == ")":
            parens -= 1
        elif text == "{":
            if braces == 0 and parens == 0 and form is not None and (after_where or form != "CONSTRUCT"):
                return m.end()
            braces += 1
        elif text == "}":
            braces -= 1
            if braces == 0 and form == "CONSTRUCT":
                template_done = True
    return None


def bind_values(query: str, substitutions: Mapping[ox.Variable, Term]) -> str:
    """The query with values bound to variables by a ``VALUES`` block.

    Terms are written by pyoxigraph (escaped N-Triples syntax), so a value is
    always one term, whatever it holds.

    >>> bind_values("SELECT ?x WHERE { ?x ?p ?o }", {ox.Variable("o"): ox.Literal('a" } UNION { ?x')})
    'SELECT ?x WHERE { VALUES (?o) { ("a\\\\" } UNION { ?x") } ?x ?p ?o }'

    Raises:
        QueryError: a value is a blank node, or not an RDF term.
    """
    names = [str(var) for var in substitutions]
    values = [_term_text(var, term) for var, term in substitutions.items()]
    return _opening(query, f"VALUES ({' '.join(names)}) {{ ({' '.join(values)}) }}")


def bind_many(query: str, variable: ox.Variable, terms: Iterable[Term]) -> str:
    """The query with ``variable`` bound to each of several terms (one solution
    each) by a ``VALUES`` block opening its WHERE group, the terms written by
    pyoxigraph, as :func:`bind_values` does for one value of each variable.

    >>> bind_many("SELECT ?x WHERE { ?x ?p ?o }", ox.Variable("x"), [ox.NamedNode("http://e/a"), ox.Literal("b")])
    'SELECT ?x WHERE { VALUES ?x { <http://e/a> "b" } ?x ?p ?o }'

    Raises:
        QueryError: a value is a blank node, or not an RDF term.
    """
    values = [_term_text(variable, term) for term in terms]
    return _opening(query, f"VALUES {variable} {{ {' '.join(values)} }}")


def filter_in(query: str, variable: ox.Variable, terms: Iterable[Term]) -> str:
    """The query keeping only solutions where ``variable`` is one of several terms, by a
    ``FILTER(... IN (...))`` opening its WHERE group, the terms written by pyoxigraph.

    A filter applies to its whole group wherever it stands in it; unlike a
    second ``VALUES`` block, Oxigraph does not plan it as a scan of each term.

    >>> filter_in("SELECT ?x WHERE { ?x ?p ?o }", ox.Variable("p"), [ox.NamedNode("http://e/a")])
    'SELECT ?x WHERE { FILTER(?p IN (<http://e/a>)) ?x ?p ?o }'

    Raises:
        QueryError: a value is a blank node, or not an RDF term.
    """
    values = [_term_text(variable, term) for term in terms]
    return _opening(query, f"FILTER({variable} IN ({', '.join(values)}))")


def _term_text(variable: ox.Variable, term: Term) -> str:
    """A value for ``variable`` as pyoxigraph writes it (escaped N-Triples), or QueryError."""
    if isinstance(term, ox.BlankNode):
        raise QueryError(f"?{variable.value}: a blank node cannot be bound in a query sent to a server")
    if not isinstance(term, (ox.NamedNode, ox.Literal, ox.Triple)):
        raise QueryError(f"?{variable.value}: {term!r} is not an RDF term")
    return str(term)


def _opening(query: str, block: str) -> str:
    """The query with ``block`` opening its WHERE group (or after it, where it has none)."""
    at = where_group(query)
    if at is None:
        return f"{query}\n{block}\n"
    return f"{query[:at]} {block}{query[at:]}"
