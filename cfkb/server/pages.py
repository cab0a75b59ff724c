"""The HTML pages: conflicts, entities, sources, claims, the graph, search,
and the flag/resolve action of a writable server.

Handlers are plain functions; the ones that read the base are synchronous,
so Starlette runs them in its thread pool and a slow page never blocks the
event loop.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from cfkb.errors import CfkbError, ForbiddenError, InputError, NotFoundError
from cfkb.model.names import Match
from cfkb.model.spelling import expand_curie
from cfkb.model.vocabulary import CFID_NS, short_id
from cfkb.server import data, triage
from cfkb.server.common import (
    ServerConfig,
    config,
    default_marking,
    entity_url,
    form_fields,
    render,
    same_origin,
)
from cfkb.server.graph import render_panel
from cfkb.store.core import KnowledgeBase
from cfkb.workflow import queries
from cfkb.workflow.conflicts import KINDS, STATUSES, Conflict, conflict_page
from cfkb.workflow.decisions import current_rank, display_time, history, latest_assessments
from cfkb.workflow.decisions import flag as workflow_flag
from cfkb.workflow.entities import find_duplicates

OPEN = ("open", "disputed")


#: Conflicts per page of the dashboard.
DASHBOARD_PAGE = 20
newest = triage.newest


def _sections(view: triage.View) -> list[tuple[str, str, list[Conflict], int]]:
    """The page's conflicts by section, each with its total over all pages; empty ones left out
    unless no conflict is shown at all."""
    out = [(key, heading, [c for c in view.conflicts if c.status in statuses], view.totals[key])
           for key, heading, statuses in triage.SECTIONS]
    return [s for s in out if s[2]] or out[:1]


def dashboard(request: Request) -> Response:
    """Conflicts to triage: open ones first, newest first within each section, a page at a
    time, with facets (status, kind, entity, area, source, grading, TLP) that combine."""
    cfg = config(request)
    filters = {k: v for k in triage.FACETS if (v := (request.query_params.get(k) or "").strip())}
    kind, status = filters.get("kind"), filters.get("status")
    if kind and kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if status and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    compact = request.query_params.get("view") == "compact"
    if compact:
        filters["view"] = "compact"
    if request.query_params.get("new"):
        filters["new"] = "1"
    # "new" is new since the last visit: a visit after a pause of VISIT_GAP or more moves the
    # mark to the previous visit's time; within a visit it stays put. "Mark all as seen" sets it.
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    seen = triage.parse_time(request.cookies.get(SEEN_COOKIE))
    visit = triage.parse_time(request.cookies.get(VISIT_COOKIE))
    moved = visit is not None and now - visit >= VISIT_GAP and (seen is None or seen < visit)
    if moved:
        seen = visit
    for name in ("entity", "area", "source"):
        if name in filters:
            filters[name] = expand_curie(filters[name]) or filters[name]
    number = page_number(request)
    view = triage.view(cfg.kb, default_marking(cfg.kb), filters, number, DASHBOARD_PAGE,
                       cfg.kb.entity_index().label, seen)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = render(request, "dashboard.html", {
        "title": "Conflicts", "nav": "conflicts", "sections": _sections(view), "v": view,
        "facets": {f.name: f for f in view.facets}, "filters": filters,
        "address": lambda page: triage.address(filters, page),
        "total": view.everything, "here": here, "compact": compact,
        "cards_url": triage.address({k: v for k, v in filters.items() if k != "view"}, number),
        "compact_url": triage.address({**filters, "view": "compact"}, number),
        "open_total": view.everything_open, "stats": data.stats(cfg.kb),
        "analyst": cfg.analyst, "forms": _forms(cfg, view.conflicts), "newest": triage.newest, "seen": seen,
        "new_url": triage.address({**filters, "new": "1"}), "all_url": triage.address(filters, new=None),
    })
    _remember(response, VISIT_COOKIE, now)
    if moved and seen is not None:
        _remember(response, SEEN_COOKIE, seen)
    return response


#: The cookie that remembers since when this browser's analyst has not seen the conflicts.
SEEN_COOKIE = "cfkb_seen"
#: The cookie with the time of the last dashboard visit.
VISIT_COOKIE = "cfkb_visit"
#: A pause this long between two visits makes them two visits rather than one.
VISIT_GAP = dt.timedelta(minutes=30)


def _remember(response: Response, name: str, when: dt.datetime) -> None:
    # lax: a link from elsewhere (a top-level visit) still brings them, or the visit would be lost
    response.set_cookie(name, when.isoformat(), max_age=400 * 24 * 3600, httponly=True, samesite="lax")


async def seen(request: Request) -> Response:
    """Mark every conflict as seen now: later ones show as new. Kept in a cookie, so the
    base is not written and a read-only server can do it."""
    form = form_fields(await request.body())
    target = _local_path((form.get("next") or [""])[0] or None, "/")
    response = RedirectResponse(target, status_code=303)
    _remember(response, SEEN_COOKIE, dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    return response


def _forms(cfg: ServerConfig, found: list[Conflict]) -> dict[str, dict[str, str]]:
    """What each conflict's assess form opens on: its current status, the
    claim its standing resolution prefers, that decision's reason."""
    if not cfg.can_flag:
        return {}

    latest = latest_assessments(cfg.kb)
    forms = {}
    for c in found:
        a = latest.get(c.iri)
        forms[c.id] = {
            "status": c.status, "analyst": cfg.analyst, "error": "",
            "prefer": short_id(a.prefers) if a is not None and a.prefers and c.status == "resolved" else "",
            "reason": (a.reason or "") if a is not None else "",
        }
    return forms


def _conflict(kb: KnowledgeBase, cid: str) -> Conflict:
    found = conflict_page(kb, prefix=cid, limit=2)[1] if len(cid) == 16 else []
    for c in found:
        if c.id == cid:
            return c
    raise NotFoundError(f"no conflict {cid} in the base")


def conflict(request: Request) -> Response:
    """A conflict: both sides, why they clash, the history of assessments and the form to assess it."""
    cfg = config(request)
    return _conflict_page(request, cfg, request.path_params["cid"])


def _conflict_page(request: Request, cfg: ServerConfig, cid: str, form: dict[str, str] | None = None,
                   next_url: str | None = None, status: int = 200) -> Response:
    c = _conflict(cfg.kb, cid)
    ranks = []
    for v in c.claims:
        if v.rank != "normal":
            settled = current_rank(cfg.kb, v.iri)
            ranks.append({"claim": _claim_label(c, v.iri), "rank": settled.rank,
                          "by": [d.conflict_id for d in settled.decisions]})
    entries = [{"when": display_time(a.when), "analyst": a.analyst, "status": a.status or "",
                "prefers": _claim_label(c, a.prefers) if a.prefers else None,
                "deprecates": [_claim_label(c, d) for d in a.deprecates], "reason": a.reason or ""}
               for a in history(cfg.kb, c.iri)]
    forms = {c.id: form} if form is not None else _forms(cfg, [c])
    return render(request, "conflict.html", {"title": f"Conflict {c.id}", "nav": "conflicts", "c": c,
                                             "analyst": cfg.analyst, "forms": forms, "history": entries,
                                             "ranks": ranks,
                                             "next_url": next_url}, status=status)


def _claim_label(c: Conflict, iri: str) -> dict[str, str]:
    """A claim an assessment names, as the conflict shows it: who said it, and its ID."""
    for v in c.claims:
        if v.iri == iri:
            return {"id": v.id, "iri": iri, "who": v.attributed, "statement": v.statement}
    return {"id": short_id(iri), "iri": iri, "who": "", "statement": ""}


def _flag(kb: KnowledgeBase, conflict_id: str, *, status: str, prefer: str | None, reason: str,
          analyst: str) -> Any:
    """Record an analyst's assessment of a conflict (:func:`cfkb.workflow.decisions.flag`)."""
    return workflow_flag(kb, conflict_id, status=status, prefer=prefer, reason=reason, analyst=analyst)


def _local_path(target: str | None, default: str) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


async def flag(request: Request) -> Response:
    """Flag, resolve or dismiss a conflict, then go back to where the form was."""
    cfg = config(request)
    if cfg.read_only:
        raise ForbiddenError("this server is read-only; start it with 'cfkb serve --writable' to flag conflicts")
    if not same_origin(request.headers):
        raise ForbiddenError("cross-site form refused: flag conflicts from this server's own pages")
    form = form_fields(await request.body())
    cid = request.path_params["cid"]

    def field(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    status = field("status")
    if status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}")
    # a side is believed only in a resolution; the radio buttons stay set when the status changes
    prefer = (field("prefer") or None) if status == "resolved" else None
    analyst = field("analyst") or cfg.analyst
    next_url = _local_path(field("next") or None, f"/conflicts/{cid}")
    try:
        await run_in_threadpool(_flag_and_refresh, cfg, cid, status, prefer, field("reason"), analyst)
    except InputError as exc:
        # the same form again, as it was filled in, with what is wrong
        typed = {"status": status, "prefer": field("prefer"), "reason": field("reason"),
                 "analyst": field("analyst"), "error": str(exc)}
        return await run_in_threadpool(_conflict_page, request, cfg, cid, typed, next_url, 400)
    return RedirectResponse(next_url, status_code=303)


def _flag_and_refresh(cfg: ServerConfig, cid: str, status: str, prefer: str | None, reason: str,
                      analyst: str) -> None:
    with cfg.write_lock:
        _conflict(cfg.kb, cid)
        _flag(cfg.kb, cid, status=status, prefer=prefer, reason=reason, analyst=analyst)
    cfg.runner.recycle()
    if cfg.cache is not None:
        cfg.cache.clear()


def _entity_iri(request: Request, kind: str) -> str:
    if "name" in request.path_params:
        return CFID_NS + str(request.path_params["name"])
    raw = request.query_params.get("iri", "")
    iri = expand_curie(raw) if raw else None
    if iri is None:
        raise InputError(f"give the {kind} as /{kind}/<name> or /{kind}?iri=<IRI>")
    return iri


def page_number(request: Request) -> int:
    """The ``page`` the address asks for (1 when none).

    Raises:
        InputError: not a whole number from 1.
    """
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 10**6:
        raise InputError(f"page must be a whole number from 1, not {raw[:40]!r}")
    return int(raw)


def entity(request: Request) -> Response:
    """An entity: names (Arabic too), facts, conflicts, claims by area and election and
    their timeline, a page of claims at a time."""
    cfg = config(request)
    page = data.entity_page(cfg.kb, _entity_iri(request, "entity"), page_number(request))
    return render(request, "entity.html", {"title": page.label, "nav": "", "e": page,
                                           "predicate_label": data.predicate_label,
                                           "dashboard_url": triage.address({"entity": page.iri})})


entity_by_iri = entity


def source(request: Request) -> Response:
    """A speaker, outlet or document: its track record, and its claims a page at a time."""
    cfg = config(request)
    page = data.source_page(cfg.kb, _entity_iri(request, "source"), page_number(request))
    return render(request, "source.html", {"title": page.label, "nav": "sources", "s": page,
                                           "dashboard_url": triage.address({"source": page.iri})})


source_by_iri = source


#: The columns the sources page sorts by, and whether each sorts largest first by default.
SOURCE_COLUMNS = {"source": False, "kind": False, "claims": True, "last": True}


def sources(request: Request) -> Response:
    """Speakers, outlets and documents (the named query ``sources``), sortable by every column."""
    cfg = config(request)
    sort = request.query_params.get("sort") or "claims"
    if sort not in SOURCE_COLUMNS:
        raise InputError(f"sort must be one of {', '.join(SOURCE_COLUMNS)}, not {sort[:40]!r}")
    order = request.query_params.get("order") or ("desc" if SOURCE_COLUMNS[sort] else "asc")
    if order not in ("asc", "desc"):
        raise InputError("order must be asc or desc")
    rows = []
    for r in cfg.kb.select(queries.library()["sources"].text):
        iri = r["source"].value
        rows.append({"iri": iri, "source": r["sourceLabel"].value, "kind": data.source_kind(cfg.kb, iri),
                     "claims": int(r["claims"].value),
                     "last": r["lastSpoke"].value if "lastSpoke" in r and r["lastSpoke"] else ""})

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        value = row[sort]
        blank = value == ""  # undated sources last, whichever way
        return (blank if order == "asc" else not blank, value.casefold() if isinstance(value, str) else value,
                row["source"].casefold())

    rows.sort(key=key, reverse=order == "desc")
    return render(request, "sources.html", {"title": "Sources", "nav": "sources", "rows": rows, "sort": sort,
                                            "order": order, "columns": SOURCE_COLUMNS})


#: Entities per page of the entity list.
ENTITY_PAGE = 100


def entities(request: Request) -> Response:
    """Every entity, by name, a page at a time; filtered by type."""
    cfg = config(request)
    kind = request.query_params.get("type") or None
    number = page_number(request)
    text = (request.query_params.get("q") or "").strip()
    if len(text) > 200:
        raise InputError("search text longer than 200 characters")
    everything, counts = data.entity_list(cfg.kb)
    if text:
        # names in any spelling, as the search page finds them; the counts follow the text
        index = cfg.kb.entity_index()
        try:
            matching = set(index.search(text, limit=len(everything) + 1))
        except CfkbError:
            matching = set()
        everything = [r for r in everything if r.iri in matching]
        counts = Counter(t for r in everything for t in r.types)
    rows = [r for r in everything if kind in r.types] if kind else everything
    if kind and kind not in counts and not text:
        raise InputError(f"no entity has the type {kind[:60]!r}; one of {', '.join(sorted(counts))}")
    pages = max(1, -(-len(rows) // ENTITY_PAGE))
    shown = rows[(number - 1) * ENTITY_PAGE: number * ENTITY_PAGE]
    return render(request, "entities.html", {
        "title": "Entities" + (f": {kind}" if kind else ""), "nav": "entities", "rows": shown, "kind": kind,
        "counts": sorted(counts.items()), "total": len(rows), "page": number, "pages": pages,
        "first": (number - 1) * ENTITY_PAGE + 1, "all": len(everything), "q": text,
    })


def duplicates(request: Request) -> Response:
    """Likely duplicate entities, scored and explained, for review (a writable server only)."""

    cfg = config(request)
    if cfg.read_only:
        raise NotFoundError("likely duplicates are listed by a writable server ('cfkb serve --writable')"
                            " or by 'cfkb entity duplicates'")
    pairs = find_duplicates(cfg.kb)
    return render(request, "duplicates.html", {"title": "Likely duplicates", "nav": "duplicates", "pairs": pairs})


def claim(request: Request) -> Response:
    cfg = config(request)

    view, conflicts = data.claim_page(cfg.kb, request.path_params["cid"])
    ranked_by = [{"rank": d.rank, "conflict": d.conflict_id, "when": display_time(d.when), "analyst": d.analyst,
                  "reason": d.reason or ""} for d in current_rank(cfg.kb, view.iri).decisions]
    entries = [{"when": display_time(a.when), "analyst": a.analyst, "what": a.summary()}
               for a in history(cfg.kb, view.iri)]
    return render(request, "claim.html", {"title": view.statement, "nav": "", "v": view,
                                          "conflicts": conflicts, "ranked_by": ranked_by, "history": entries})


def graph(request: Request) -> Response:
    """Who runs with whom where, one panel per area; conflicting claims in red."""
    cfg = config(request)
    area_name = request.query_params.get("area") or None
    all_areas = data.areas(cfg.kb)
    area_iri = None
    if area_name:
        area_iri = expand_curie(area_name) or CFID_NS + area_name
        if area_iri not in {a[0] for a in all_areas}:
            raise NotFoundError(f"no area {area_name!r}")
    panels = data.graph(cfg.kb, area_iri)
    label = cfg.kb.entity_index().label
    drawn = [(p, render_panel(p, label, entity_url, f"p{i}")) for i, p in enumerate(panels)]
    return render(request, "graph.html", {"title": "Graph", "nav": "graph", "panels": drawn,
                                          "areas": all_areas, "area": area_iri})


def names(request: Request) -> Response:
    """Entities whose names match ``q``, as JSON for the editor's completion of ``cfid:`` names:
    ``[{"curie": "cfid:harakat-hoquq", "label": "Harakat Hoquq"}, ...]``, at most 15."""
    cfg = config(request)
    text = (request.query_params.get("q") or "").replace("-", " ").strip()
    if len(text) > 200:
        raise InputError("search text longer than 200 characters")
    found: list[str] = []
    if text:
        index = cfg.kb.entity_index()
        try:
            found = index.search(text, limit=30)
        except CfkbError:
            found = []
        found = [iri for iri in found if iri.startswith(CFID_NS) and not iri.startswith(CFID_NS + "claim/")][:15]
        return JSONResponse([{"curie": "cfid:" + iri[len(CFID_NS):], "label": index.label(iri)} for iri in found])
    return JSONResponse([])


def search(request: Request) -> Response:
    """Entities by name: aliases, transliterations and Arabic spellings all find them."""
    cfg = config(request)
    text = (request.query_params.get("q") or "").strip()
    index = cfg.kb.entity_index()
    results: list[Match] = []
    exact: set[str] = set()
    if text:
        if len(text) > 200:
            raise InputError("search text longer than 200 characters")
        try:
            exact = index.candidates(text)
        except CfkbError:
            exact = set()
        if len(exact) == 1 and request.query_params.get("all") is None:
            return RedirectResponse(entity_url(next(iter(exact))), status_code=303)
        results = index.search_matches(text, limit=50)
    return render(request, "search.html", {
        "title": f"Search: {text}" if text else "Search", "nav": "", "q": text, "ambiguous": len(exact) > 1,
        "results": [(m.iri, index.label(m.iri), sorted(data.local_name(t) for t in index.types.get(m.iri, ())),
                     "" if m.tier == "exact" else m.how) for m in results],
    })
