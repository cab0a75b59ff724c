"""The HTML pages: conflicts, entities, sources, claims, the graph, search,
and the flag/resolve action of a writable server.

Handlers are plain functions; the ones that read the base are synchronous,
so Starlette runs them in its thread pool and a slow page never blocks the
event loop.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cfkb import queries
from cfkb.conflicts import KINDS, STATUSES, Conflict, find_conflicts
from cfkb.errors import CfkbError, ForbiddenError, InputError, NotFoundError
from cfkb.model import CFID_NS, short_id
from cfkb.names import expand_curie
from cfkb.server import data
from cfkb.server.app import ServerConfig, config, entity_url, form_fields, render, same_origin
from cfkb.server.graph import render_panel
from cfkb.store import KnowledgeBase

OPEN = ("open", "disputed")


def _sections(found: list[Conflict]) -> list[tuple[str, str, list[Conflict]]]:
    return [
        ("open", "Open", [c for c in found if c.status in OPEN]),
        ("resolved", "Resolved", [c for c in found if c.status == "resolved"]),
        ("dismissed", "Dismissed", [c for c in found if c.status == "dismissed"]),
    ]


def dashboard(request: Request) -> Response:
    """All conflicts, open ones first, with both sides' claims."""
    cfg = config(request)
    kind = request.query_params.get("kind") or None
    status = request.query_params.get("status") or None
    if kind and kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if status and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    everything = find_conflicts(cfg.kb, include_dismissed=True)
    found = [c for c in everything if (not kind or c.kind == kind) and (not status or c.status == status)]
    counts = {k: sum(1 for c in everything if c.kind == k) for k in KINDS}
    return render(request, "dashboard.html", {
        "title": "Conflicts", "nav": "conflicts", "sections": _sections(found), "kind": kind, "status": status,
        "kinds": KINDS, "statuses": STATUSES, "counts": counts, "total": len(everything),
        "open_total": sum(1 for c in everything if c.status in OPEN), "stats": data.stats(cfg.kb),
        "analyst": cfg.analyst, "forms": _forms(cfg, found),
    })


def _forms(cfg: ServerConfig, found: list[Conflict]) -> dict[str, dict[str, str]]:
    """What each conflict's assess form opens on: its current status, the
    claim its standing resolution prefers, that decision's reason."""
    if not cfg.can_flag:
        return {}
    from cfkb.workflow import latest_assessments

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
    for c in find_conflicts(kb, include_dismissed=True):
        if c.id == cid:
            return c
    raise NotFoundError(f"no conflict {cid} in the base")


def conflict(request: Request) -> Response:
    """A conflict: both sides, why they clash, the history of assessments and the form to assess it."""
    cfg = config(request)
    return _conflict_page(request, cfg, request.path_params["cid"])


def _conflict_page(request: Request, cfg: ServerConfig, cid: str, form: dict[str, str] | None = None,
                   next_url: str | None = None, status: int = 200) -> Response:
    from cfkb.workflow import current_rank, display_time, history

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
    """Record an analyst's assessment of a conflict (:func:`cfkb.workflow.flag`)."""
    try:
        from cfkb.workflow import flag as workflow_flag
    except ImportError:
        raise ForbiddenError("flagging conflicts is not available in this version of cfkb") from None
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
        return CFID_NS + request.path_params["name"]
    raw = request.query_params.get("iri", "")
    iri = expand_curie(raw) if raw else None
    if iri is None:
        raise InputError(f"give the {kind} as /{kind}/<name> or /{kind}?iri=<IRI>")
    return iri


def entity(request: Request) -> Response:
    """An entity: names (Arabic too), facts, claims by area and election, conflicts, timeline."""
    cfg = config(request)
    page = data.entity_page(cfg.kb, _entity_iri(request, "entity"))
    return render(request, "entity.html", {"title": page.label, "nav": "", "e": page,
                                           "predicate_label": data.predicate_label})


entity_by_iri = entity


def source(request: Request) -> Response:
    """A speaker, outlet or document: its claims and track record."""
    cfg = config(request)
    page = data.source_page(cfg.kb, _entity_iri(request, "source"))
    return render(request, "source.html", {"title": page.label, "nav": "sources", "s": page})


source_by_iri = source


def sources(request: Request) -> Response:
    cfg = config(request)
    rows = cfg.kb.select(queries.library()["sources"].text)
    return render(request, "sources.html", {"title": "Sources", "nav": "sources", "rows": rows})


def duplicates(request: Request) -> Response:
    """Likely duplicate entities, scored and explained, for review (a writable server only)."""
    from cfkb.entities import find_duplicates

    cfg = config(request)
    if cfg.read_only:
        raise NotFoundError("likely duplicates are listed by a writable server ('cfkb serve --writable')"
                            " or by 'cfkb entity duplicates'")
    pairs = find_duplicates(cfg.kb)
    return render(request, "duplicates.html", {"title": "Likely duplicates", "nav": "duplicates", "pairs": pairs})


def claim(request: Request) -> Response:
    cfg = config(request)
    from cfkb.workflow import current_rank, display_time, history

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


def search(request: Request) -> Response:
    """Entities by name: aliases, transliterations and Arabic spellings all find them."""
    cfg = config(request)
    text = (request.query_params.get("q") or "").strip()
    index = cfg.kb.entity_index()
    results: list[str] = []
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
