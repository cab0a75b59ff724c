"""No reach outside the base, and bounded inputs: the checks every parse and query passes.

One module holds the rules, so that parsing (:mod:`cfkb.io.rdfio`, :mod:`cfkb.io.tables`)
and query execution (:meth:`cfkb.store.core.KnowledgeBase.query`, the CLI and the
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
import sys
import types
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace

import pyoxigraph as ox

from cfkb.errors import ParseError, QueryError, QueryRefusedError
from cfkb.model.vocabulary import PREFIXES
from cfkb.store import sandbox
from cfkb.store.sparqltext import QUERY_FORMS, keywords, nesting

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
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cfkb.errors.ParseError: a.ttl:1:1: XML/DOCTYPE content is not accepted (RDF/XML and TriX are refused); send ...
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
#
# Two checks, in this order, and a query runs only if both pass:
#
# 1. :func:`screen_query`, a token scan: cheap enough for the server's event loop,
#    it finds the query form and refuses the obvious (keywords outside strings,
#    IRIs and comments). A scanner can be led to read code as a comment or a
#    string, so it never decides alone that a query is safe.
# 2. :func:`check_query`, the decision: the nesting depth is bounded, then the
#    text is read by a real SPARQL 1.1 parser (rdflib's grammar) and refused by
#    its algebra: a ``SERVICE`` pattern anywhere, a dataset clause (``FROM``,
#    ``FROM NAMED``), any update. Text the parser cannot read is not run.
#
# Where queries run, :mod:`cfkb.store.sandbox` takes the network away as well, so a
# query the parser misread still reaches nothing.

#: The deepest nesting of brackets (``(``, ``{``, ``[``) a query may have. Real
#: queries stay far below; a hostile one of tens of thousands of levels would
#: exhaust a parser's stack (pyoxigraph's among them) before any other check.
MAX_NESTING = 24
#: The longest query text, in characters.
MAX_QUERY_CHARS = 1_000_000

UPDATE_WORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
OUTSIDE_WORDS = frozenset({"SERVICE", "LOAD", "FROM"})


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


def _refuse_outside(word: str, name: str | None) -> QueryRefusedError:
    hint = "; the default graph is already the whole base" if word == "FROM" else ""
    return QueryRefusedError(f"{word} is not allowed: queries never reach outside the base{hint}", name)


def screen_query(text: str, name: str | None = None) -> None:
    """The quick first look (a token scan): size, nesting, and keywords that reach outside.

    Passing it proves nothing; :func:`check_query` decides.

    Raises:
        QueryRefusedError: too long, nested too deeply, SERVICE/LOAD/FROM or an update.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefusedError(f"the query is {len(text):,} characters long, more than the limit of"
                                f" {MAX_QUERY_CHARS:,}; shorten it", name)
    depth = nesting(text)
    if depth > MAX_NESTING:
        raise QueryRefusedError(f"the query nests brackets {depth} deep, more than the limit of {MAX_NESTING};"
                                " flatten it", name)
    word = _outside_word(text)
    if word is not None:
        raise _refuse_outside(word, name)
    _form(text)


def check_query(text: str, name: str | None = None) -> None:
    """Refuse what would reach outside the base (SERVICE, LOAD, FROM, FROM NAMED) and updates.

    The text is screened (:func:`screen_query`), then parsed as SPARQL 1.1 and
    refused by what the parse holds, so neither a keyword inside a string, an
    IRI or a comment, nor a scanner's misreading of the text, decides.

    Raises:
        QueryRefusedError: the query uses one of them, or is too long or too deep.
        QueryError: the text is not a SPARQL query this check can read.

    >>> check_query('SELECT * WHERE { ?s ?p "SERVICE <http://x>" }')
    >>> check_query('SELECT * WHERE { ?s ?p <http://x#> . SERVICE <http://evil/> { ?a ?b ?c } }')
    Traceback (most recent call last):
    ...
    cfkb.errors.QueryRefusedError: SERVICE is not allowed: queries never reach outside the base
    """
    screen_query(text, name)
    if is_own(text):
        return
    verdict = _algebra_verdict(text)
    if verdict is None:
        return
    kind, detail = verdict
    if kind == "outside":
        raise _refuse_outside(detail, name)
    if kind == "update":
        raise QueryRefusedError(f"{detail} is a SPARQL update; this base answers queries only, never updates",
                                name)
    raise QueryError(detail, name)


# -- cfkb's own queries ----------------------------------------------------------
#
# The parser costs tens of milliseconds a text, which a command that runs a dozen
# of cfkb's own queries would pay every time. Those need no parser: a text that
# is a string constant in cfkb's own code, or that cfkb read from its own package
# files (the named queries, the rules compiled from the shipped shapes), is cfkb's
# own. Text from anywhere else (a user, a file, a request) cannot equal one of
# them unless it is one of them; anything assembled at run time is not a constant
# and gets the parser.

_VOUCHED: set[str] = set()
_CONSTANTS: set[str] = set()
_SCANNED: set[str] = set()


def vouch(text: str) -> str:
    """Mark a text cfkb read from its own package files as its own; returns it."""
    _VOUCHED.add(text)
    return text


def is_own(text: str) -> bool:
    """Whether ``text`` is one of cfkb's own queries (see above)."""
    if text in _VOUCHED or text in _CONSTANTS:
        return True
    fresh = [name for name in list(sys.modules) if (name == "cfkb" or name.startswith("cfkb."))
             and name not in _SCANNED]
    if not fresh:
        return False
    for name in fresh:
        _SCANNED.add(name)
        module = sys.modules.get(name)
        for code in _code_objects(module):
            _CONSTANTS.update(c for c in code.co_consts if isinstance(c, str) and "{" in c)
    return text in _CONSTANTS


def _code_objects(module: object) -> Iterator[types.CodeType]:
    """Every code object of a module's functions and classes, nested ones included."""
    stack: list[object] = list(vars(module).values()) if module is not None else []
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types.CodeType):
            yield item
            stack.extend(c for c in item.co_consts if isinstance(c, types.CodeType))
        elif isinstance(item, (types.FunctionType, types.MethodType)):
            stack.append(getattr(item, "__code__", None) or getattr(getattr(item, "__func__", None), "__code__", None))
        elif isinstance(item, (staticmethod, classmethod, property, functools.partial)):
            stack.extend(x for x in (getattr(item, "__func__", None), getattr(item, "fget", None)) if x is not None)
        elif isinstance(item, functools._lru_cache_wrapper):
            stack.append(item.__wrapped__)
        elif isinstance(item, type) and getattr(item, "__module__", "").startswith("cfkb"):
            stack.extend(vars(item).values())
        elif isinstance(item, str) and "{" in item:
            _CONSTANTS.add(item)  # a module-level constant
        elif isinstance(item, tuple) and all(isinstance(x, str) for x in item):
            _CONSTANTS.update(x for x in item if "{" in x)  # a module-level tuple of them


@functools.lru_cache(maxsize=512)
def _outside_word(text: str) -> str | None:
    for word in keywords(text):
        if word in OUTSIDE_WORDS:
            return word
    return None


_UPDATE_NAMES = {"Load": "LOAD", "Clear": "CLEAR", "Drop": "DROP", "Create": "CREATE", "Add": "ADD",
                 "Move": "MOVE", "Copy": "COPY", "InsertData": "INSERT", "DeleteData": "DELETE",
                 "DeleteWhere": "DELETE", "Modify": "INSERT"}


@functools.lru_cache(maxsize=1024)
def _algebra_verdict(text: str) -> tuple[str, str] | None:
    """None for a query that may run; else (``outside`` | ``update`` | ``syntax``, detail).

    The parser runs on a thread of its own: it raises and keeps exceptions as it
    backtracks, and their tracebacks would otherwise hold the caller's frames (with
    whatever query answers they hold) in reference cycles, freed later by whichever
    thread collects them, where pyoxigraph refuses to free its answers.
    """

    return sandbox.run_offline(_parse_verdict, text)


def _parse_verdict(text: str) -> tuple[str, str] | None:
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    try:
        tree = parseQuery(text)
    except RecursionError:
        return ("syntax", f"the query nests too deeply to be read (more than {MAX_NESTING} levels is refused);"
                          " flatten it")
    except ParseBaseException as exc:
        try:
            update = parseUpdate(text)
        except (ParseBaseException, RecursionError):
            return ("syntax", _unreadable(text, exc))
        requests = update.get("request") or []
        first = requests[0].name if requests else ""
        return ("update", _UPDATE_NAMES.get(first, "UPDATE"))
    found = _forbidden(tree)
    return ("outside", found) if found else None


def _forbidden(tree: object) -> str | None:
    """``SERVICE`` or ``FROM`` if the parse holds a service pattern or a dataset clause."""
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                return "SERVICE"
            if node.name == "DatasetClause":
                return "FROM"
            stack.extend(node.values())
        elif isinstance(node, (ParseResults, list, tuple)):
            stack.extend(node)
    return None


def _unreadable(text: str, exc: object) -> str:
    """Why a text the parser could not read is not run: Oxigraph's own syntax error when
    it has one (its messages are the clearer), else the parser's, said as a refusal.

    Oxigraph reads the text on an empty in-memory store, on a thread with no network
    (:func:`cfkb.store.sandbox.run_offline`), and its answer is never read.
    """

    def oxigraph_error() -> str | None:
        try:
            # with the prefixes every query may use, as where it runs: else the first cfkb:
            # name would be the error reported, wherever the real one is
            answer = ox.Store().query(text, prefixes=dict(PREFIXES))
        except SyntaxError as err:
            return str(err)
        except Exception:  # noqa: BLE001 - it parsed; whatever else failed is not a syntax error
            return None
        del answer
        return None

    error = sandbox.run_offline(oxigraph_error)
    if error is not None:
        return f"SPARQL syntax error: {error}"
    return (_syntax_message(text, exc) + "; cfkb runs only queries its SPARQL 1.1 check can read"
            " (an escaped character in a prefixed name, such as ex:a\\#b, is not read: write the full"
            " IRI instead)")


def _syntax_message(text: str, exc: object) -> str:
    """One line: where the parser stopped (line, column, the text there) and what it wanted."""
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "col", None)
    msg = str(getattr(exc, "msg", "") or exc)
    msg = re.sub(r"\s+", " ", msg).strip()
    if len(msg) > 200:
        msg = msg[:200] + "\u2026"
    where = f" at line {line}, column {col}" if line and col else ""
    found = ""
    loc = getattr(exc, "loc", None)
    if isinstance(loc, int) and 0 <= loc < len(text):
        near = re.sub(r"\s+", " ", text[loc:loc + 24]).strip()
        if near:
            found = f" (near {near!r})"
    return f"SPARQL syntax error{where}{found}: {msg}"
