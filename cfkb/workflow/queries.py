"""The library of named SPARQL queries, and binding parameters to them.

Each ``queries/<name>.rq`` opens with comment lines: a one-line summary, then
one ``# param NAME: TYPE -- help`` line per parameter (TYPE is ``entity``,
``date``, ``string`` or ``iri``). Parameters are bound through pyoxigraph's
``substitutions`` (SPARQL SEP-0007), never pasted into the text, so a value
holding quotes, braces or ``UNION`` stays a value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from cfkb.errors import InputError, QueryError
from cfkb.model.spelling import expand_curie
from cfkb.resources import queries_dir
from cfkb.store import sandbox
from cfkb.store.files import read_regular
from cfkb.store.guard import query_form, screen_query, vouch
from cfkb.store.sparqltext import keywords

if TYPE_CHECKING:
    from cfkb.store.core import KnowledgeBase

__all__ = ["PARAM_TYPES", "NamedQuery", "Param", "bind", "check_safe", "keywords", "library", "load", "query_form",
           "run"]

PARAM_TYPES = ("entity", "date", "string", "iri")
_PARAM = re.compile(r"^#\s*param\s+(\w+)\s*:\s*(\w+)\s*(?:--\s*(.*))?$")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    help: str = ""


@dataclass(frozen=True)
class NamedQuery:
    """A query from the library (or a file), with its declared parameters."""

    name: str
    text: str
    summary: str = ""
    params: tuple[Param, ...] = field(default=())
    #: an optional plan for one page of the answer (``<name>.page.rq``): see :meth:`page`
    page_text: str | None = None

    def page(self, end: int) -> str | None:
        """The text that answers the first ``end`` rows of this query, or None if it has none.

        Those rows are the same, in the same order, as the first ``end`` of the whole
        answer when the page text returns ``end`` rows; when it returns fewer, run
        :attr:`text` instead (see :func:`cfkb.server.jobs.run_job`). ``end`` is an
        integer the caller computes; it becomes the text's ``LIMIT``.
        """
        if self.page_text is None:
            return None
        text = self.page_text.replace("{page_end}", str(int(end)))
        return vouch(text) if self.text in _own_texts() else text

    @classmethod
    def parse(cls, name: str, text: str) -> NamedQuery:
        summary, params = "", []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            m = _PARAM.match(line)
            if m:
                if m.group(2) not in PARAM_TYPES:
                    raise QueryError(f"parameter {m.group(1)} has unknown type {m.group(2)!r}", name)
                params.append(Param(m.group(1), m.group(2), m.group(3) or ""))
            elif not summary:
                summary = line.lstrip("# ").strip()
        return cls(name, text, summary, tuple(params))


def _own_texts() -> set[str]:
    return {q.text for _, q in _shipped()}


def library() -> dict[str, NamedQuery]:
    """Every named query shipped with cfkb, by name (a fresh dict; the queries are immutable)."""
    return dict(_shipped())


@functools.cache
def _shipped() -> tuple[tuple[str, NamedQuery], ...]:
    # package data, read once per process: the server looks a query up on every request
    out = []
    for path in sorted(queries_dir().glob("*.rq")):
        if "." in path.stem:
            continue  # <name>.page.rq: the page plan of <name>
        query = NamedQuery.parse(path.stem, path.read_text(encoding="utf-8"))
        vouch(query.text)  # the package's own file (see cfkb.store.guard.is_own)
        paged = path.with_name(path.stem + ".page.rq")
        if paged.is_file():
            query = dataclasses.replace(query, page_text=paged.read_text(encoding="utf-8"))
        out.append((path.stem, query))
    return tuple(out)


#: The longest query file read (the server takes query texts up to 256 KiB).
QUERY_FILE_BYTES = 1024 * 1024


def load(spec: str) -> NamedQuery:
    """A named query, or a ``.rq`` file by path."""
    lib = library()
    if spec in lib:
        return lib[spec]
    path = Path(spec)
    if spec.endswith((".rq", ".sparql")) or path.is_file():
        data = read_regular(path, QUERY_FILE_BYTES, what="query file", hint="a query is never that long")
        try:
            return NamedQuery.parse(path.stem, data.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"cannot read query file {spec}: it is not UTF-8 text") from None
    raise QueryError(f"no named query {spec!r}; 'cfkb query --list' shows them")


def check_safe(text: str, name: str | None = None) -> None:
    """The quick first look at a query from outside (see :func:`cfkb.store.guard.screen_query`).

    Cheap enough for the server's event loop; the parser's decision
    (:func:`cfkb.store.guard.check_query`) comes where the query runs, in
    :meth:`cfkb.store.core.KnowledgeBase.query`, on a worker or a thread with no network.

    Raises:
        QueryRefusedError: the query uses SERVICE, LOAD, FROM (NAMED), is an update,
            or is too long or nested too deeply.
    """
    screen_query(text, name)


def bind(query: NamedQuery, values: dict[str, str],
         resolve: Callable[[str], str]) -> dict[str, ox.NamedNode | ox.Literal]:
    """Typed terms for the parameter values given as text; ``resolve`` gives the
    IRI an entity's name means (:meth:`cfkb.store.core.KnowledgeBase.resolve_entity`).

    Raises:
        QueryError: a parameter is unknown or missing, or a value is malformed.
        UnknownNameError / AmbiguousNameError: an entity name does not resolve.
    """
    declared = {p.name: p for p in query.params}
    for name in values:
        if name not in declared and declared:
            raise QueryError(f"unknown parameter {name!r}; it takes " + ", ".join(declared), query.name)
    bound: dict[str, ox.NamedNode | ox.Literal] = {}
    for name, text in values.items():
        kind = declared[name].type if name in declared else "string"
        if kind == "entity":
            bound[name] = ox.NamedNode(resolve(text))
        elif kind == "iri":
            iri = expand_curie(text)
            try:
                bound[name] = ox.NamedNode(iri or "")
            except ValueError:
                iri = None
            if iri is None:
                raise QueryError(f"parameter {name}: {text!r} is not an IRI or CURIE", query.name)
        elif kind == "date":
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                raise QueryError(f"parameter {name}: {text!r} is not a date (YYYY-MM-DD)", query.name) from None
            bound[name] = ox.Literal(day.isoformat(), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date"))
        else:
            bound[name] = ox.Literal(text)
    missing = [p.name for p in query.params if p.name not in bound]
    if missing:
        raise QueryError("missing parameter(s) " + ", ".join(missing) + "; pass --param NAME=VALUE", query.name)
    return bound


#: A query's whole answer, read to the end: a SELECT's solutions (re-read from
#: SPARQL JSON), a CONSTRUCT's or DESCRIBE's triples, or an ASK's truth.
Answer = ox.QuerySolutions | list[ox.Triple] | bool


def run(kb: KnowledgeBase, text: str, bindings: dict[str, ox.NamedNode | ox.Literal] | None = None,
        name: str | None = None) -> Answer:
    """Run a query from outside (a user's text or file) and read its answer to the end
    (:func:`run_page`, every row)."""
    return run_page(kb, text, bindings, name)[0]


def run_page(kb: KnowledgeBase, text: str, bindings: dict[str, ox.NamedNode | ox.Literal] | None = None,
             name: str | None = None, *, limit: int | None = None, offset: int = 0) -> tuple[Answer, int | None]:
    """Run a query from outside (a user's text or file); its answer from row
    ``offset`` (a SELECT's solutions, a CONSTRUCT's triples), at most ``limit``,
    and how many there are in all (None for an ASK, and for a whole SELECT).

    On a local base the query is evaluated on a thread with no network
    (:func:`cfkb.store.sandbox.run_offline`), so that nothing a query says can reach
    another machine, whatever the parser made of it. A shared server's base is
    queried over the network; its own server evaluates the query.

    Raises:
        QueryRefusedError: SERVICE, FROM, an update, too long or too deep.
        QueryError: the query does not parse or cannot be evaluated.
    """

    def evaluate() -> tuple[str, bytes | bool]:
        # pyoxigraph's answers belong to the thread that made them: only bytes leave it
        result = kb.query(text, bindings, name=name)
        try:
            if isinstance(result, ox.QueryBoolean):
                return "ask", bool(result)
            if isinstance(result, ox.QueryTriples):
                return "graph", bytes(ox.serialize(result, format=ox.RdfFormat.N_TRIPLES) or b"")
            return "select", bytes(result.serialize(format=ox.QueryResultsFormat.JSON) or b"")
        finally:
            del result

    if not isinstance(kb.store, ox.Store):  # a shared server's base: its server evaluates
        form, body = evaluate()
    else:
        form, body = sandbox.run_offline(evaluate)
    if isinstance(body, bool):
        return body, None
    return page_of(form, body, limit=limit, offset=offset)


def page_of(form: str, body: bytes, *, limit: int | None = None, offset: int = 0,
            graph_format: ox.RdfFormat = ox.RdfFormat.N_TRIPLES) -> tuple[Answer, int | None]:
    """A page of a query's answer as the evaluation wrote it (``select``: SPARQL
    JSON, ``graph``: ``graph_format``), and how many rows or triples it has in all
    (a SELECT's are counted only for a page)."""
    end = None if limit is None else offset + limit
    if form == "graph":
        triples = [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(body, format=graph_format)]
        return triples[offset:end], len(triples)
    total: int | None = None  # not counted when the whole answer is asked for
    if limit is not None or offset:
        results = json.loads(body)
        rows = results["results"]["bindings"]
        total = len(rows)
        results["results"]["bindings"] = rows[offset:end]
        body = json.dumps(results).encode("utf-8")
    solutions = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    assert isinstance(solutions, ox.QuerySolutions)
    return solutions, total
