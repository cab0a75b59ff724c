"""What every page handler shares: the server's state, URLs of things, templates, forms.

:func:`~cfkb.server.app.create_app` keeps a :class:`ServerConfig` on
``app.state.cfkb``; the page modules (:mod:`~cfkb.server.pages`,
:mod:`~cfkb.server.sparql`, :mod:`~cfkb.server.chart_page`) read it through
:func:`config` and answer through :func:`render`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cfkb.errors import InputError
from cfkb.io import tlp
from cfkb.model.vocabulary import CFID_NS, CLAIM_PREFIX, curie, short_id
from cfkb.server.executor import AnswerCache, Runner
from cfkb.store.core import KnowledgeBase

HERE = Path(__file__).resolve().parent


@dataclass
class ServerConfig:
    """Everything a request handler needs, kept on ``app.state.cfkb``."""

    kb: KnowledgeBase
    runner: Runner
    read_only: bool
    query_timeout: float
    row_limit: int
    analyst: str
    templates: jinja2.Environment
    cache: AnswerCache | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    #: queries being answered now, so that identical ones wait for that answer
    inflight: dict[Any, asyncio.Future[Any]] = field(default_factory=dict)

    @property
    def can_flag(self) -> bool:
        return not self.read_only and importlib.util.find_spec("cfkb.workflow") is not None


def config(request: Request) -> ServerConfig:
    cfg: ServerConfig = request.app.state.cfkb
    return cfg


# -- URLs of things ----------------------------------------------------------------

def entity_url(iri: str) -> str:
    """The stable page of an entity: ``/entity/<name>`` for cfid: IRIs."""
    rest = iri[len(CFID_NS):] if iri.startswith(CFID_NS) else ""
    if rest and "/" not in rest and "#" not in rest:
        return "/entity/" + quote(rest, safe="")
    if iri.startswith(CLAIM_PREFIX):
        return claim_url(iri)
    return "/entity?iri=" + quote(iri, safe="")


def graph_url(area: str) -> str:
    """The graph of one area: ``/graph?area=<name>``, the name after ``cfid:`` (slashes and all).

    >>> graph_url("https://w3id.org/cfkb/id/b/r0")
    '/graph?area=b/r0'
    """
    rest = area[len(CFID_NS):] if area.startswith(CFID_NS) else area
    return "/graph?area=" + quote(rest, safe="/")


def chart_url(iri: str) -> str:
    """The link chart around an entity, named by its CURIE (or its IRI in brackets).

    >>> chart_url("https://w3id.org/cfkb/id/harakat-hoquq")
    '/chart?entity=cfid:harakat-hoquq'
    """
    return "/chart?entity=" + quote(curie(iri), safe=":")


def source_url(iri: str) -> str:
    rest = iri[len(CFID_NS):] if iri.startswith(CFID_NS) else ""
    if rest and "/" not in rest and "#" not in rest:
        return "/source/" + quote(rest, safe="")
    return "/source?iri=" + quote(iri, safe="")


def with_page(url: str, page: int) -> str:
    """``url`` asking for page ``page`` of its list (what else it asks, such as ``iri``, kept).

    >>> with_page("/entity?iri=https%3A%2F%2Fx.org%2Fa", 2)
    '/entity?iri=https%3A%2F%2Fx.org%2Fa&page=2'
    >>> with_page("/source/al-rabaa-tv", 3)
    '/source/al-rabaa-tv?page=3'
    """
    return f"{url}{'&' if '?' in url else '?'}page={page}"


def claim_url(iri: str) -> str:
    return "/claims/" + quote(short_id(iri), safe="")


def page_templates(kb: KnowledgeBase) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.globals.update(entity_url=entity_url, source_url=source_url, claim_url=claim_url, curie=curie,
                       label=lambda iri: kb.entity_index().label(iri), short_id=short_id)
    env.globals["default_tlp"] = lambda: default_marking(kb)
    env.globals["graph_url"] = graph_url
    env.globals["chart_url"] = chart_url
    env.globals["with_page"] = with_page
    env.filters["rtl"] = lambda lang: "rtl" if (lang or "").split("-")[0] in ("ar", "fa", "he", "ur", "ku") else "auto"
    return env


def default_marking(kb: KnowledgeBase) -> str | None:
    """The marking unmarked claims count as (:func:`cfkb.io.tlp.default_level`), or None if unknown."""
    try:
        return tlp.default_level(kb)
    except Exception:  # noqa: BLE001 - a base that cannot say shows no default, not an error page
        return None


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page from ``templates/``, with what every page needs."""
    cfg = config(request)
    context.setdefault("nav", "")
    page = cfg.templates.get_template(name).render(
        request=request, read_only=cfg.read_only, can_flag=cfg.can_flag, **context)
    return HTMLResponse(page, status_code=status)


def form_fields(body: bytes) -> dict[str, list[str]]:
    """The fields of an ``application/x-www-form-urlencoded`` body.

    >>> form_fields(b"query=ASK%7B%7D&x=1&x=2")
    {'query': ['ASK{}'], 'x': ['1', '2']}
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the form is not UTF-8 text") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=1000)


def same_origin(headers: Any) -> bool:
    """Whether a request comes from this server's own pages, or from no page at all.

    A browser says where a request comes from (``Sec-Fetch-Site``, and ``Origin``
    on POSTs and fetches); a client that is not a browser (curl, a SPARQL
    library) sends neither, and cannot be driven by another site, so it passes.
    ``Origin: null`` (a sandboxed frame, a file, some redirects) does not.
    """
    origin = headers.get("origin")
    if origin == "null":
        return False
    if origin and urlsplit(origin).netloc != headers.get("host", ""):
        return False
    return headers.get("sec-fetch-site") in (None, "same-origin", "none")


#: Paths that run queries: another site may not make a browser ask them anything, not even
#: by a link, since the answer's timing alone tells what is in the base.
