"""The SPARQL endpoint (``/sparql``) and the query editor page (``/query``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from cfkb.errors import CfkbError, InputError, QueryError
from cfkb.io.output import BOM
from cfkb.model.vocabulary import CLAIM_PREFIX, PREFIXES, curie
from cfkb.server import editing
from cfkb.server.common import ServerConfig, claim_url, config, entity_url, form_fields, render
from cfkb.server.jobs import QueryJob, QueryOutcome
from cfkb.server.protocol import (
    CONTENT_TYPES,
    EXTENSIONS,
    GRAPH_MEDIA,
    choose_format,
    negotiate,
    read_request,
    readable,
    service_description,
)
from cfkb.store.owntexts import own_query
from cfkb.workflow import queries


def make_job(cfg: ServerConfig, text: str, fmt: str, bindings: dict[str, ox.NamedNode | ox.Literal] | None = None,
             page: Page | None = None, named: queries.NamedQuery | None = None) -> QueryJob:
    """The job for a query: with ``page``, only those rows (never more than the row cap);
    when ``text`` is the named query ``named`` and it has a page plan, the plan runs."""
    if page is None:
        return QueryJob.make(text, fmt, cfg.row_limit, bindings)
    limit = min(page.limit, cfg.row_limit)
    plan = named.page(page.offset + limit + 1) if named is not None and named.text == text else None
    if plan is not None:
        return QueryJob.make(plan, fmt, limit, bindings, page.offset, whole=text)
    return QueryJob.make(text, fmt, limit, bindings, page.offset)


async def answer(cfg: ServerConfig, job: QueryJob, client: str = "") -> tuple[QueryOutcome, bool]:
    """Run a checked query's job through the worker pool, within the limits.

    Returns the answer and whether it came from the cache. Identical jobs
    arriving while one runs wait for its answer instead of running again.
    ``client`` (the peer's address) bounds that client's share of the workers.
    """
    if cfg.cache is not None:
        cached = cfg.cache.get(job)
        if cached is not None:
            return cached, True
    running = cfg.inflight.get(job)
    if running is not None:
        return await asyncio.shield(running), True
    future: asyncio.Future[QueryOutcome] = asyncio.get_running_loop().create_future()
    cfg.inflight[job] = future
    try:
        outcome = await asyncio.to_thread(cfg.runner.run, job, cfg.query_timeout, client)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved here, so an unawaited future logs nothing
        raise
    finally:
        cfg.inflight.pop(job, None)
    future.set_result(outcome)
    if cfg.cache is not None:
        cfg.cache.put(job, outcome)
    return outcome, False


async def run_query(request: Request, text: str, fmt: str,
                    bindings: dict[str, ox.NamedNode | ox.Literal] | None = None,
                    page: Page | None = None, named: queries.NamedQuery | None = None) -> tuple[QueryOutcome, bool]:
    """:func:`answer` for a request's query (see :func:`make_job`)."""
    cfg = config(request)
    client = request.client.host if request.client else ""
    return await answer(cfg, make_job(cfg, text, fmt, bindings, page, named), client)


async def prefill(cfg: ServerConfig) -> None:
    """Put the first page of every named query without parameters in the answer cache.

    A read-only server does this as it starts: those queries (the entity list, the
    lists per area, the sources) read the whole base, and every analyst opens them.
    A request for one while it is computed waits for that answer.
    """
    for named in queries.library().values():
        if named.params or queries.query_form(named.text) != "SELECT":
            continue
        with contextlib.suppress(CfkbError):  # reported, with its status, when someone asks for it
            await answer(cfg, make_job(cfg, named.text, "json", None, Page(PAGE_SIZE), named))


def _headers(outcome: QueryOutcome, row_limit: int, cached: bool = False) -> dict[str, str]:
    headers = {"X-CFKB-Rows": str(outcome.rows), "X-CFKB-Elapsed": f"{outcome.elapsed:.4f}",
               "X-CFKB-Cache": "hit" if cached else "miss", "Cache-Control": "no-store"}
    if outcome.truncated:
        headers["X-CFKB-Truncated"] = "true"
        headers["X-CFKB-Row-Limit"] = str(row_limit)
    return headers


async def endpoint(request: Request) -> Response:
    """SPARQL 1.1 Protocol, queries only; the service description without a query."""
    cfg = config(request)
    body = await request.body() if request.method == "POST" else b""
    params: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        params.setdefault(k, []).append(v)
    ctype = request.headers.get("content-type", "")
    if request.method == "POST" and ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        for k, values in form_fields(body).items():
            params.setdefault(k, []).extend(values)
    req = read_request(request.method, ctype, params, body)
    if req.query is None:
        return _describe(request)
    queries.check_safe(req.query)
    form = queries.query_form(req.query)
    fmt = choose_format(form, request.headers.get("accept"), req.format)
    try:
        outcome, cached = await run_query(request, req.query, fmt)
    except QueryError as exc:
        if type(exc) is QueryError:
            raise QueryError(readable(exc)) from exc
        raise
    return Response(outcome.body, media_type=CONTENT_TYPES[outcome.format],
                    headers=_headers(outcome, cfg.row_limit, cached))


def _describe(request: Request) -> Response:
    cfg = config(request)
    endpoint_iri = str(request.url.replace(query="", fragment=""))
    triples = service_description(endpoint_iri, query_timeout=cfg.query_timeout, row_limit=cfg.row_limit)
    accept = request.headers.get("accept")
    fmt = negotiate(accept, GRAPH_MEDIA + (("text/html", "html"),))
    if fmt is None:
        fmt = "turtle"
    prefixes = {"sd": "http://www.w3.org/ns/sparql-service-description#",
                "formats": "http://www.w3.org/ns/formats/", "rdfs": PREFIXES["rdfs"]}
    if fmt == "html":
        text = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)
        return render(request, "endpoint.html", {"title": "SPARQL endpoint",
                                                 "description": (text or b"").decode("utf-8"),
                                                 "endpoint": endpoint_iri, "cfg": cfg})
    formats = {"turtle": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "jsonld": ox.RdfFormat.JSON_LD}
    body = ox.serialize(triples, format=formats[fmt], prefixes=prefixes)
    return Response(body, media_type=CONTENT_TYPES[fmt])


# -- the editor ----------------------------------------------------------------------

#: Rows per page of a named query in the editor, unless ``limit`` says otherwise.
PAGE_SIZE = 100
#: The furthest ``offset`` the editor accepts.
MAX_OFFSET = 10**9


@dataclass(frozen=True)
class Page:
    """Which rows of an answer to return: skip ``offset``, then at most ``limit``."""

    limit: int
    offset: int = 0


def read_page(params: Any, default: int | None, row_limit: int) -> Page | None:
    """The page asked for by ``limit`` and ``offset`` request parameters.

    ``limit`` defaults to ``default`` (None: the whole answer up to the row cap,
    unless ``offset`` is given) and may not exceed the row cap.

    >>> read_page({"limit": "20", "offset": "40"}, 100, 10_000)
    Page(limit=20, offset=40)
    >>> read_page({}, None, 10_000) is None
    True

    Raises:
        InputError: a value is not a whole number in range.
    """
    def number(name: str, low: int, high: int) -> int | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise InputError(f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}")
        return int(raw)

    limit = number("limit", 1, row_limit)
    offset = number("offset", 0, MAX_OFFSET)
    if limit is None and offset is None and default is None:
        return None
    return Page(limit or min(default or row_limit, row_limit), offset or 0)


@dataclass
class Cell:
    text: str
    href: str | None = None
    title: str | None = None
    lang: str | None = None


def _cell(term: dict[str, Any], label: Any) -> Cell:
    kind, value = term.get("type"), term.get("value", "")
    if kind == "uri":
        if value.startswith(CLAIM_PREFIX):
            return Cell("claim " + value[len(CLAIM_PREFIX):][:12], claim_url(value), value)
        name = label(value)
        text = name if name and name != value.rsplit("/", 1)[-1] else curie(value)
        href = entity_url(value) if value.startswith("https://w3id.org/cfkb/id/") else None
        return Cell(text, href, value)
    if kind == "bnode":
        return Cell("_:" + value)
    if kind == "literal":
        dt = term.get("datatype")
        return Cell(value, None, curie(dt) if dt else None, term.get("xml:lang"))
    return Cell(json.dumps(value, ensure_ascii=False))


#: The longest address the editor links to; a longer query's downloads and pages are forms that POST.
MAX_LINK = 4000


@dataclass
class Again:
    """The same query once more (another page, a download): links, or a form when too long."""

    fields: list[tuple[str, str]]
    choices: list[tuple[str, str, str]]  # (field, value, label) the user picks from

    def link(self, field: str, value: str) -> str:
        return "/query?" + urlencode(self.fields + [(field, value)])

    @property
    def as_links(self) -> bool:
        return all(len(self.link(f, v)) <= MAX_LINK for f, v, _ in self.choices)


async def _params(request: Request) -> ImmutableMultiDict[str, str]:
    """The editor's fields: from the address, and from the form's body when it was POSTed."""
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += [(k, v) for k, vs in form_fields(await request.body()).items() for v in vs]
    return ImmutableMultiDict(items)


async def editor(request: Request) -> Response:
    """Named queries, a text box, results as a table, downloads as CSV/JSON/TSV/XML.

    The form POSTs (a long query does not fit in an address); GET works the same, and
    short queries get a link that runs them again.
    """
    cfg = config(request)
    qp = await _params(request)
    library = queries.library()
    name = qp.get("name") or None
    named = library.get(name) if name else None
    text = qp.get("q")
    if text is None and named is not None:
        text = editing.shown_text(named)
    values = {k[2:]: v.strip() for k, v in qp.multi_items() if k.startswith("p.") and v.strip()}
    context: dict[str, Any] = {
        "title": named.name if named else "SPARQL", "nav": "query", "library": library, "named": named,
        # the page opens on an example, cfkb's own text (the first line says what it answers)
        "text": text if text is not None else own_query("sparql_page_example"), "values": values,
        "error": None, "status": 200,
        "result": None, "downloads": None, "cfg": cfg, "page": None, "pages": None, "problem": None,
        "permalink": None, "prefixes": PREFIXES, "vocabulary": editing.vocabulary(),
    }
    if name and named is None:
        context.update(error=f"no named query {name!r}", status=404)
        return render(request, "query.html", context, status=404)
    if text is None or not text.strip():
        return render(request, "query.html", context)
    missing = [p.name for p in (named.params if named else ()) if p.name not in values]
    if named is not None and missing and "run" not in qp:
        return render(request, "query.html", context)  # first visit: fill in the parameters
    fmt = qp.get("format")
    try:
        # named queries come a page at a time, as the table shows them; any query may ask for a page
        page = read_page(qp, PAGE_SIZE if named is not None else None, cfg.row_limit)
        context["page"] = page
        if missing:
            raise QueryError("fill in " + ", ".join(missing))
        text = editing.text_to_run(named, text)
        queries.check_safe(text)
        form = queries.query_form(text)
        bound = queries.bind(named, values, cfg.kb.resolve_entity) if named else {}
        if fmt:
            fmt = choose_format(form, None, fmt)
            outcome, cached = await run_query(request, text, fmt, bound, page, named)
            filename = f"{named.name if named else 'query'}.{EXTENSIONS[outcome.format]}"
            headers = _headers(outcome, cfg.row_limit, cached)
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
            # a CSV download opened in a spreadsheet is read as UTF-8 only when it starts with the BOM
            body = BOM + outcome.body if outcome.format == "csv" else outcome.body
            return Response(body, media_type=CONTENT_TYPES[outcome.format], headers=headers)
        graph_form = form in ("CONSTRUCT", "DESCRIBE")
        outcome, cached = await run_query(request, text, "turtle" if graph_form else "json", bound, page, named)
    except CfkbError as exc:
        if fmt:
            raise
        message = readable(exc) if type(exc) is QueryError else str(exc)
        problem = editing.locate(str(exc), context["text"]) if type(exc) is QueryError else None
        if problem is not None:
            message = "Syntax error, " + problem.message
        status = exc.http_status if not isinstance(exc, InputError) else 400
        context.update(error=message, status=status, problem=problem)
        return render(request, "query.html", context, status=status)
    context["result"] = _result_context(outcome, cfg.kb.entity_index().label)
    base = [(k, v) for k, v in dict(qp.multi_items()).items() if k not in ("format", "run", "limit", "offset")]
    if named is not None and text == named.text:
        base = [(k, v) for k, v in base if k != "q"]  # the named query as shipped: its name says it
    kinds = ("turtle", "nt", "jsonld") if outcome.form == "graph" else ("csv", "json", "tsv", "xml")
    # downloads hold the whole answer, up to the row cap, not the page on screen
    whole = [("limit", str(cfg.row_limit))] if page is not None else []
    context["downloads"] = Again(base + whole, [("format", k, k.upper() if k != "jsonld" else "JSON-LD")
                                                for k in kinds])
    permalink = "/query?" + urlencode(base + [("run", "1")])
    if len(permalink) <= MAX_LINK:
        context["permalink"] = permalink
    if page is not None:
        pages = Again(base + [("run", "1"), ("limit", str(page.limit))], [])
        if page.offset:
            back = max(0, page.offset - page.limit)
            pages.choices.append(("offset", str(back), f"previous {page.limit}"))
        if outcome.truncated:
            pages.choices.append(("offset", str(page.offset + outcome.rows), f"next {page.limit}"))
        context["pages"] = pages
    response: HTMLResponse = render(request, "query.html", context)
    for k, v in _headers(outcome, cfg.row_limit, cached).items():
        response.headers[k] = v
    return response


def _result_context(outcome: QueryOutcome, label: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"form": outcome.form, "rows": outcome.rows, "truncated": outcome.truncated,
                           "elapsed": outcome.elapsed}
    if outcome.form == "graph":
        out["text"] = outcome.body.decode("utf-8")
        return out
    doc = json.loads(outcome.body)
    if outcome.form == "ask":
        out["boolean"] = bool(doc.get("boolean"))
        return out
    names = doc["head"]["vars"]
    out["vars"] = names
    out["table"] = [[_cell(b[n], label) if n in b else None for n in names] for b in doc["results"]["bindings"]]
    return out
