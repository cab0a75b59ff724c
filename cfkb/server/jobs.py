"""A query as it crosses to a worker and back: the job, its outcome, terms and errors as plain data.

:func:`run_job` answers a :class:`QueryJob` on a store, bounded in rows; the
answer and any error travel as plain values, so a worker process can send them.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from cfkb.errors import (
    CfkbError,
    InputError,
    NotFoundError,
    QueryError,
    QueryRefusedError,
    StoreError,
)
from cfkb.io.output import safe_results
from cfkb.model.vocabulary import PREFIXES
from cfkb.store.core import KnowledgeBase

#: Result formats of SELECT and ASK, by short name.
RESULT_FORMATS: dict[str, ox.QueryResultsFormat] = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
#: Formats of CONSTRUCT and DESCRIBE results, by short name.
GRAPH_FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
}
#: Put in ``head.link`` of truncated JSON and XML results.
TRUNCATED_LINK = "https://w3id.org/cfkb/ns#ResultsTruncated"

#: A term as plain data, to cross a process boundary: (kind, value, language, datatype).
TermSpec = tuple[str, str, str | None, str | None]


def term_spec(term: ox.NamedNode | ox.Literal | ox.BlankNode) -> TermSpec:
    """A term as plain data (see :func:`term_from_spec`)."""
    if isinstance(term, ox.NamedNode):
        return ("iri", term.value, None, None)
    if isinstance(term, ox.BlankNode):
        return ("bnode", term.value, None, None)
    return ("literal", term.value, term.language, None if term.language else term.datatype.value)


def term_from_spec(spec: TermSpec) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """The term back from :func:`term_spec`.

    >>> term_from_spec(term_spec(ox.Literal("حقوق", language="ar")))
    <Literal value=حقوق language=ar>
    """
    kind, value, language, datatype = spec
    if kind == "iri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if language:
        return ox.Literal(value, language=language)
    return ox.Literal(value, datatype=ox.NamedNode(datatype) if datatype else None)


@dataclass(frozen=True)
class QueryJob:
    """One query to run: text, bound values, the wanted format and the row cap.

    ``offset`` skips that many rows (or triples) of the answer first, so a page of it is
    ``offset`` then at most ``row_limit`` rows; the query text is never changed for it.
    ``whole``, when given, is the query a page text stands for (see
    :meth:`cfkb.workflow.queries.NamedQuery.page`): if the page text answers fewer rows than the
    page asks for, ``whole`` runs instead, so the page is always the whole answer's.
    """

    text: str
    format: str
    row_limit: int
    bindings: tuple[tuple[str, TermSpec], ...] = ()
    offset: int = 0
    whole: str = ""

    @classmethod
    def make(cls, text: str, fmt: str, row_limit: int,
             bindings: Mapping[str, ox.NamedNode | ox.Literal] | None = None, offset: int = 0,
             whole: str = "") -> QueryJob:
        return cls(text, fmt, row_limit, tuple((k, term_spec(v)) for k, v in (bindings or {}).items()), offset,
                   whole)


@dataclass(frozen=True)
class QueryOutcome:
    """A query's serialised answer."""

    form: str  # "select", "ask" or "graph"
    format: str
    body: bytes
    rows: int
    truncated: bool
    elapsed: float


def _json_term(term: Any) -> dict[str, Any]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    raise TypeError(f"unexpected term {term!r}")


def run_job(kb: KnowledgeBase, job: QueryJob) -> QueryOutcome:
    """Run one query on ``kb`` and serialise at most ``job.row_limit`` rows.

    Raises:
        QueryError: the query does not parse or cannot be evaluated.
    """
    start = time.perf_counter()
    bindings = {name: term_from_spec(spec) for name, spec in job.bindings}
    result: Any = None
    solution: Any = None
    try:
        result = kb.query(job.text, bindings)
        if isinstance(result, ox.QueryBoolean):
            fmt = job.format if job.format in RESULT_FORMATS else "json"
            body = result.serialize(format=RESULT_FORMATS[fmt])
            return QueryOutcome("ask", fmt, bytes(body or b""), 1, False, time.perf_counter() - start)
        if isinstance(result, ox.QueryTriples):
            fmt = job.format if job.format in GRAPH_FORMATS else "turtle"
            triples = list(itertools.islice(result, job.offset, job.offset + job.row_limit + 1))
            truncated = len(triples) > job.row_limit
            del triples[job.row_limit:]
            body = ox.serialize(triples, format=GRAPH_FORMATS[fmt], prefixes=dict(PREFIXES))
            return QueryOutcome("graph", fmt, bytes(body or b""), len(triples), truncated,
                                time.perf_counter() - start)
        names = [v.value for v in result.variables]
        rows = []
        for solution in itertools.islice(result, job.offset, job.offset + job.row_limit + 1):
            rows.append({n: _json_term(solution[n]) for n in names if solution[n] is not None})
    except (ValueError, TypeError, RuntimeError) as exc:
        # what pyoxigraph reports after parsing: a bound variable the query does not select, ...
        raise QueryError(str(exc)) from exc
    finally:
        # pyoxigraph's answers may only be freed on the thread that made them; a traceback
        # kept in a future would otherwise carry them to whichever thread collects it
        result = solution = None
    truncated = len(rows) > job.row_limit
    if job.whole and not truncated:
        # a short page: the last one, or rows the page text could not account for
        return run_job(kb, dataclasses.replace(job, text=job.whole, whole=""))
    del rows[job.row_limit:]
    fmt = job.format if job.format in RESULT_FORMATS else "json"
    head: dict[str, Any] = {"vars": names}
    doc = {"head": head, "results": {"bindings": rows}}
    if fmt == "json":
        if truncated:
            head["link"] = [TRUNCATED_LINK]
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        # pyoxigraph's own serialisers, fed with the capped rows
        if truncated and fmt == "xml":
            head["link"] = [TRUNCATED_LINK]
        parsed = ox.parse_query_results(json.dumps(doc).encode("utf-8"), format=ox.QueryResultsFormat.JSON)
        # CSV and TSV cells that a spreadsheet would run as formulas are neutralised (cfkb.io.output)
        body = safe_results(fmt, bytes(parsed.serialize(format=RESULT_FORMATS[fmt]) or b""))
    return QueryOutcome("select", fmt, body, len(rows), truncated, time.perf_counter() - start)


# -- errors across the process boundary ------------------------------------

_ERRORS: dict[str, type[CfkbError]] = {
    cls.__name__: cls
    for cls in (CfkbError, InputError, QueryError, QueryRefusedError, StoreError, NotFoundError)
}


def _error_reply(exc: BaseException) -> tuple[str, str, str]:
    if isinstance(exc, CfkbError):
        name = type(exc).__name__
        return ("error", name if name in _ERRORS else "CfkbError", str(exc))
    return ("error", "CfkbError", f"internal error: {type(exc).__name__}: {exc}")


def _raise_reply(reply: tuple[str, str, str]) -> None:
    raise _ERRORS.get(reply[1], CfkbError)(reply[2])
