"""The web application: :func:`create_app` builds it around an open base.

A plain factory, as in datasette: the CLI calls it and hands the result to
uvicorn; tests call it and talk to it in-process. Errors carry their HTTP
status (``CfkbError.http_status``) and are rendered in one place,
:func:`_error`: plain text for the SPARQL endpoint and downloads, an HTML
page otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cfkb.errors import CfkbError
from cfkb.server import chart_page, pages, sparql
from cfkb.server.common import HERE, ServerConfig, page_templates, render, same_origin
from cfkb.server.executor import AnswerCache, Runner, make_runner
from cfkb.server.hosts import HostCheck, HostPolicy
from cfkb.store.core import KnowledgeBase

# -- errors ----------------------------------------------------------------------

def _wants_text(request: Request) -> bool:
    return request.url.path.startswith("/sparql") or "format" in request.query_params


async def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, CfkbError):
        status, message = exc.http_status, str(exc)
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, exc.detail or ""
    else:  # pragma: no cover - starlette routes only the two kinds here
        status, message = 500, "internal error"
    if status == 404 and not message.strip() or message == "Not Found":
        message = f"nothing at {request.url.path}"
    if _wants_text(request):
        return PlainTextResponse(f"{message}\n", status_code=status)
    return render(request, "error.html", {"status": status, "message": message, "title": f"Error {status}"},
                  status=status)


class SecurityHeaders:
    """Headers that keep pages from being framed, sniffed or fed foreign scripts."""

    HEADERS = [
        (b"content-security-policy",
         b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
         b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


QUERY_PATHS = ("/sparql", "/query")


class CrossSiteGuard:
    """Refuses requests that another site makes a visitor's browser send (403).

    ``/sparql`` and ``/query`` answer only this server's own pages and clients
    that are not browsers: from any other page, a form, a link, an image or a
    script could make the browser run a query, and its timing (or a ``SERVICE``
    call) tells that page what the base holds. Every other path follows the
    resource-isolation policy of Fetch Metadata: another site may link to a
    page (a top-level navigation), but not embed it or fetch it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse("cross-site request refused: open this server's pages directly, or query"
                                     " it from a program rather than from another site\n", status_code=403)
        await response(scope, receive, send)

    @staticmethod
    def _allowed(scope: Scope) -> bool:
        headers = Headers(scope=scope)
        if same_origin(headers):
            return True
        path = scope.get("path", "")
        if path in QUERY_PATHS or path.startswith(tuple(p + "/" for p in QUERY_PATHS)):
            return False
        if headers.get("origin"):  # a cross-site fetch or form post
            return False
        return (scope.get("method") == "GET" and headers.get("sec-fetch-mode") == "navigate"
                and headers.get("sec-fetch-dest") in (None, "document"))


# -- the factory -------------------------------------------------------------------

def create_app(kb: KnowledgeBase, *, read_only: bool = True, query_timeout: float = 10.0,
               row_limit: int = 10_000, workers: int | None = None, analyst: str = "analyst",
               allowed_hosts: Sequence[str] | HostPolicy | None = None, runner: Runner | None = None,
               cache_bytes: int = 64 * 1024 * 1024, prefill: bool = True) -> Starlette:
    """The cfkb web application over an open base.

    Args:
        kb: the base; open it read-only unless ``read_only`` is False.
        read_only: hide and refuse the flag/resolve actions.
        query_timeout: seconds a SPARQL query may run before the answer is 503.
        row_limit: the most rows (or triples) a query answer holds; more are cut off and the
            answer says so.
        workers: query worker processes (default: 2 to 4, by CPU count).
        analyst: who flags conflicts, when the form does not say.
        allowed_hosts: Host header values to answer, besides loopback ones
            (see :mod:`cfkb.server.hosts`); default: loopback only. The check
            is always on (against DNS rebinding). A :class:`HostPolicy` may be given instead.
        runner: run queries with this instead of the default worker pool.
        cache_bytes: with ``read_only``, keep answers up to this many bytes in all (0: keep
            none), keyed by query text, bound values, format and page. A writable server keeps
            none, since its writes change the answers.
        prefill: with the cache, compute the first page of each named query that takes no
            parameters as the server starts (see :func:`cfkb.server.sparql.prefill`), after the
            entity names. The server waits for both before it answers, up to ``query_timeout``;
            the rest goes on in the background.
    """

    if not read_only and not kb.writable:
        raise CfkbError("a writable server needs the base opened for writing")
    cfg = ServerConfig(kb=kb, runner=runner or make_runner(kb, workers), read_only=read_only,
                       query_timeout=query_timeout, row_limit=row_limit, analyst=analyst,
                       templates=page_templates(kb),
                       # only a read-only server caches: nothing it does can change the answers
                       cache=AnswerCache(cache_bytes) if read_only and cache_bytes > 0 else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        warm = getattr(cfg.runner, "warm", None)
        if warm is not None:
            # start the workers without holding up the first page
            threading.Thread(target=_quietly, args=(warm,), daemon=True, name="cfkb-warm").start()

        async def ready() -> None:
            # names to resolve request parameters with, then the answers every analyst opens
            # a failure is reported, with its status, on the first request that needs the names
            with contextlib.suppress(CfkbError):
                await asyncio.to_thread(lambda: cfg.kb.entity_index().prepare())
            if cfg.cache is not None and prefill:
                await sparql.prefill(cfg)

        # open for requests when ready, or after the query time limit at most (the rest goes on
        # in the background): requests that came earlier would only queue behind it
        preparing = asyncio.create_task(ready())
        await asyncio.wait([preparing], timeout=cfg.query_timeout)
        try:
            yield
        finally:
            preparing.cancel()
            await asyncio.to_thread(cfg.runner.close)

    routes = [
        Route("/", pages.dashboard, name="dashboard"),
        Route("/conflicts/{cid}", pages.conflict, name="conflict"),
        Route("/conflicts/{cid}/flag", pages.flag, methods=["POST"], name="flag"),
        Route("/entity", pages.entity_by_iri),
        Route("/entity/{name}", pages.entity, name="entity"),
        Route("/source", pages.source_by_iri),
        Route("/source/{name}", pages.source, name="source"),
        Route("/sources", pages.sources, name="sources"),
        Route("/entities", pages.entities, name="entities"),
        Route("/seen", pages.seen, methods=["POST"], name="seen"),
        Route("/names", pages.names, name="names"),
        Route("/claims/{cid}", pages.claim, name="claim"),
        Route("/graph", pages.graph, name="graph"),
        Route("/chart", chart_page.link_chart, name="chart"),
        Route("/chart.json", chart_page.link_chart_json, name="chart_json"),
        Route("/search", pages.search, name="search"),
        Route("/duplicates", pages.duplicates, name="duplicates"),
        Route("/query", sparql.editor, methods=["GET", "POST"], name="query"),
        Route("/sparql", sparql.endpoint, methods=["GET", "POST"], name="sparql"),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    policy = allowed_hosts if isinstance(allowed_hosts, HostPolicy) else HostPolicy.of(
        None if allowed_hosts is None else ["localhost", *allowed_hosts])
    middleware = [Middleware(HostCheck, policy=policy), Middleware(CrossSiteGuard), Middleware(SecurityHeaders)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={CfkbError: _error, HTTPException: _error},
                    max_body_size=1024 * 1024)
    app.state.cfkb = cfg
    return app


def _quietly(fn: Any) -> None:
    with contextlib.suppress(CfkbError):  # reported again, with its status, on the first query
        fn()


def close(app: Starlette) -> None:
    """Stop the app's query workers (the lifespan does this when a server stops)."""
    app.state.cfkb.runner.close()


def get(app: Starlette, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Answer one GET request in-process, without a socket (``cfkb serve --get``).

    Returns the status, the response headers and the body.
    """
    raw_path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(), "root_path": "",
        "query_string": query.encode("latin-1", "replace"),
        "headers": [(b"host", b"localhost")] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 0), "server": ("localhost", 80),
    }
    status = 500
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def run() -> None:
        done = asyncio.Event()
        asked = False

        async def receive() -> Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            # a response that listens for the client leaving (a file, a stream) hears it once sent
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers.update({k.decode(): v.decode() for k, v in message.get("headers", [])})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await app(scope, receive, send)

    asyncio.run(run())
    return status, out_headers, b"".join(chunks)
