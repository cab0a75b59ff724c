"""No reach outside the base, and bounded inputs: the checks every parse and query passes.

One module holds the rules, so that parsing (:mod:`cfkb.rdfio`, :mod:`cfkb.tables`)
and query execution (:meth:`cfkb.store.KnowledgeBase.query`, the CLI and the
server) refuse the same things the same way:

* SPARQL that would reach outside the base (``SERVICE``, ``LOAD``, ``FROM``,
  ``FROM NAMED``) or change it (any update) is refused before it runs;
* markup whose parsers expand entities or read other files (XML, DOCTYPE,
  RDF/XML, TriX) is refused before parsing;
* JSON-LD that names a remote context or ``@import`` is refused before the
  JSON-LD parser sees it (contexts are never fetched);
* files, values and triple counts are bounded by :class:`Limits`.

pyoxigraph's parsers never dereference ``@base``, ``@prefix`` or any other
IRI, so Turtle, TriG, N-Triples and N-Quads need no more than the limits.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace

import pyoxigraph as ox

from cfkb.errors import ParseError, QueryRefusedError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds on one imported file.

    The defaults suit claim tables and partner exports; raise them for a
    known, trusted bulk load (``cfkb import --max-file-mb ... --max-value-kb ...``).
    """

    #: the largest file read, in bytes
    file_bytes: int = 512 * MIB
    #: the longest literal or IRI, in characters
    value_chars: int = 1_000_000
    #: the most triples (quads) one RDF file may hold
    quads: int = 1_000_000
    #: the deepest nesting of JSON-LD objects and arrays, and of YAML collections
    depth: int = 64


DEFAULT_LIMITS = Limits()
_LIMITS: contextvars.ContextVar[Limits] = contextvars.ContextVar("cfkb_limits", default=DEFAULT_LIMITS)


def limits() -> Limits:
    """The limits in force (the defaults unless :func:`using` says otherwise)."""
    return _LIMITS.get()


@contextlib.contextmanager
def using(**changes: int) -> Iterator[Limits]:
    """Run a block with some limits changed.

    >>> with using(value_chars=10) as lim:
    ...     lim.value_chars, limits().value_chars
    (10, 10)
    >>> limits().value_chars
    1000000
    """
    new = replace(limits(), **changes)
    token = _LIMITS.set(new)
    try:
        yield new
    finally:
        _LIMITS.reset(token)


# -- files ---------------------------------------------------------------------

def check_size(path: str, size: int) -> None:
    """Refuse a file larger than the limit, before it is read into memory.

    Raises:
        ParseError: the file is too large.
    """
    lim = limits().file_bytes
    if size > lim:
        raise ParseError(path, None, None, f"the file is {size / MIB:.1f} MiB, more than the limit of"
                         f" {lim / MIB:g} MiB; split it, or raise the limit with --max-file-mb")


def refuse_markup(path: str, text: str) -> None:
    """Refuse XML, RDF/XML, TriX and anything with a DOCTYPE, whatever the file is called.

    Their parsers expand entities and can be made to read other files; cfkb
    does not parse them at all.

    >>> refuse_markup("a.ttl", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')
    Traceback (most recent call last):
    ...
    cfkb.errors.ParseError: a.ttl:1:1: XML/DOCTYPE content is not accepted (RDF/XML and TriX are refused); send Turtle, TriG, N-Triples, N-Quads or JSON-LD
    """
    head = text.lstrip()[:4096].lower()
    if head.startswith(("<?xml", "<rdf:rdf", "<trix")) or "<!doctype" in head or "<!entity" in head:
        raise ParseError(path, 1, 1, "XML/DOCTYPE content is not accepted (RDF/XML and TriX are refused);"
                         " send Turtle, TriG, N-Triples, N-Quads or JSON-LD")


def check_jsonld(path: str, text: str, known_contexts: Collection[str] = ()) -> object:
    """Refuse remote contexts, ``@import`` and deep nesting before the JSON-LD parser runs.

    ``known_contexts`` are context IRIs the caller answers from a local copy
    (never fetched). Returns the parsed JSON document.

    Raises:
        ParseError: the JSON does not parse, is nested too deeply, or names
            a context that would have to be fetched.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(path, exc.lineno, exc.colno, f"JSON syntax error: {exc.msg}; fix the syntax and import"
                         " again") from exc
    except RecursionError:
        raise ParseError(path, None, None, f"JSON nested deeper than {limits().depth} levels; flatten it") from None
    max_depth = limits().depth
    # iterative, so a hostile document cannot exhaust the Python stack
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise ParseError(path, None, None, f"JSON-LD nested deeper than {max_depth} levels; flatten it")
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@import" or (key == "@context" and _remote(value, known_contexts)):
                    raise ParseError(path, None, None, "remote JSON-LD contexts and @import are not fetched;"
                                     " inline the context")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return doc


def _remote(context: object, known: Collection[str]) -> bool:
    if isinstance(context, str):
        return context not in known
    if isinstance(context, list):
        return any(_remote(c, known) for c in context)
    return False


def check_rdf_text(path: str, text: str, fmt: str, known_contexts: Collection[str] = ()) -> None:
    """Every check an RDF text passes before a parser sees it.

    ``known_contexts``: JSON-LD context IRIs the caller answers from a local copy.

    Raises:
        ParseError: markup, a remote JSON-LD context, or too deep.
    """
    refuse_markup(path, text)
    if fmt == "jsonld":
        check_jsonld(path, text, known_contexts)


def bounded(path: str, quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """The quads of a parse, stopping at the first that breaks a limit.

    Checked while parsing, so an enormous file fails early rather than
    after it has all been held in memory.

    Raises:
        ParseError: too many triples, or a literal or IRI too long.
    """
    lim = limits()
    n = 0
    it = iter(quads)
    literal, named = ox.Literal, ox.NamedNode
    max_chars = lim.value_chars
    while True:
        try:
            # in slices: a Python generator step per quad costs more than the parse
            chunk = list(itertools.islice(it, 4096))
        except MemoryError:
            # pyoxigraph's parsers stop at a token of 16 MiB
            raise ParseError(path, None, None, f"a single term (literal or IRI) is longer than the parser's"
                             f" buffer of 16 MiB; the limit for values is {lim.value_chars:,} characters") from None
        if not chunk:
            return
        n += len(chunk)
        if n > lim.quads:
            raise ParseError(path, None, None, f"more than {lim.quads:,} triples in one file; split it")
        for q in chunk:
            for term in (q.subject, q.object):
                if isinstance(term, (literal, named)) and len(term.value) > max_chars:
                    what = "a literal" if isinstance(term, literal) else "an IRI"
                    raise ParseError(path, None, None, f"{what} of {len(term.value):,} characters is longer than"
                                     f" the limit of {max_chars:,}; raise it with --max-value-kb if it is meant")
        yield from chunk


# -- queries -------------------------------------------------------------------

# SPARQL tokens that can hide keywords: strings (long forms first), IRIs,
# comments, variables and prefixed names. Whatever is left is scanned for
# keywords, so `<http://x#>`, `"SERVICE"` or `?service` never trip it, and a
# `#` inside an IRI never hides the rest of a line.
_TOKEN = re.compile("|".join((
    r'(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""',
    r"'''(?:[^'\\]|\\.|'(?!''))*'''",
    r'"(?:[^"\\\n\r]|\\.)*"',
    r"'(?:[^'\\\n\r]|\\.)*')",
    r'(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)',
    r"(?P<comment>#[^\n\r]*)",
    r"(?P<var>[?$]\w+)",
    r"(?P<pname>(?:[^\W\d][\w.-]*)?:[\w.:%\\-]*)",
    r"(?P<word>[^\W\d]\w*)",
)))
# SPARQL 1.1 section 19.2: \u and \U escapes may stand anywhere in a query.
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_WORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
OUTSIDE_WORDS = frozenset({"SERVICE", "LOAD", "FROM"})


def keywords(text: str) -> list[str]:
    """The bare keywords of a SPARQL text, upper-cased, in order.

    Strings, IRIs, comments, variables and prefixed names are skipped.

    >>> keywords('SELECT ?service WHERE { ?s ex:load "FROM" ; <http://x#> ?o } # SERVICE')
    ['SELECT', 'WHERE']
    """
    text = _CODEPOINT.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    return [m.group("word").upper() for m in _TOKEN.finditer(text) if m.lastgroup == "word"]


def query_form(text: str) -> str | None:
    """``SELECT``, ``CONSTRUCT``, ``DESCRIBE`` or ``ASK``; None when unclear.

    Raises:
        QueryRefusedError: the text is a SPARQL update.

    >>> query_form("PREFIX ex: <http://example.org/> CONSTRUCT WHERE { ?s ?p ?o }")
    'CONSTRUCT'
    """
    return _form(text)


@functools.lru_cache(maxsize=512)
def _form(text: str) -> str | None:
    for word in keywords(text):
        if word in ("PREFIX", "BASE"):
            continue
        if word in QUERY_FORMS:
            return word
        if word in UPDATE_WORDS:
            raise QueryRefusedError(f"{word} is a SPARQL update; this base answers queries only, never updates")
        return None
    return None


def check_query(text: str, name: str | None = None) -> None:
    """Refuse what would reach outside the base (SERVICE, LOAD, FROM, FROM NAMED) and updates.

    Checked on the query's tokens before it runs, so a keyword inside a
    string, an IRI or a comment is not mistaken for one.

    Raises:
        QueryRefusedError: the query uses one of them.

    >>> check_query('SELECT * WHERE { ?s ?p "SERVICE <http://x>" }')
    >>> check_query('SELECT * WHERE { ?s ?p <http://x#> . SERVICE <http://evil/> { ?a ?b ?c } }')
    Traceback (most recent call last):
    ...
    cfkb.errors.QueryRefusedError: SERVICE is not allowed: queries never reach outside the base
    """
    word = _outside_word(text)
    if word is not None:
        hint = "; the default graph is already the whole base" if word == "FROM" else ""
        raise QueryRefusedError(f"{word} is not allowed: queries never reach outside the base{hint}", name)
    _form(text)


@functools.lru_cache(maxsize=512)
def _outside_word(text: str) -> str | None:
    for word in keywords(text):
        if word in OUTSIDE_WORDS:
            return word
    return None
