"""The link chart's page and its JSON (``/chart``, ``/chart.json``): the request's
parameters read and checked, then :func:`cfkb.server.chart.neighbourhood`.

Parameters: ``entity`` (a name, alias, CURIE or IRI; default the busiest entity),
``depth`` (steps from it), ``nodes`` (the node cap), ``expand`` (entities whose
neighbours to add, repeated), ``asOf`` (the replay date), ``area``, ``election``
and ``kind`` (a claim predicate, repeated).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cfkb.errors import CfkbError, InputError, NotFoundError
from cfkb.model.vocabulary import curie
from cfkb.server import chart, data
from cfkb.server.common import ServerConfig, config, entity_url, render
from cfkb.store.core import KnowledgeBase


def parse_filters(kb: KnowledgeBase, params: Any) -> chart.Filters:
    """The filters of a request's parameters (``area``, ``election``, ``kind``, ``asOf``).

    Raises:
        InputError: an unknown area, election or kind, or a date that is not one.
    """
    def entity(name: str, types: set[str]) -> str | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        iri = chart.entity_iri(kb, text)
        if not types & {data.local_name(t) for t in kb.entity_index().types.get(iri, ())}:
            raise InputError(f"{name}: {text[:80]!r} is not {' or '.join(sorted(types)).lower()}")
        return iri

    known = kb.predicates()
    kinds = set()
    for text in params.getlist("kind"):
        if text and text not in known:
            raise InputError(f"kind must be a claim predicate ({', '.join(sorted(known))}), not {text[:40]!r}")
        if text:
            kinds.add(known[text])
    raw = (params.get("asOf") or "").strip()
    try:
        as_of = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        raise InputError(f"asOf must be a date (YYYY-MM-DD), not {raw[:40]!r}") from None
    return chart.Filters(area=entity("area", {"Province", "Region"}), election=entity("election", {"Election"}),
                   kinds=frozenset(kinds), as_of=as_of)


def number(params: Any, name: str, default: int, low: int, high: int) -> int:
    raw = (params.get(name) or "").strip() or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InputError(f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}")
    return int(raw)


def to_json(c: chart.Chart, url: Callable[[str], str], label: Callable[[str], str]) -> dict[str, Any]:
    """The chart as the page's script reads it; ``url`` gives an entity's page, ``label`` its name.

    ``capped`` says whether anything was cut to fit the caps (``caps``), ``cappedWhat`` what.
    """
    f = c.filters
    return {
        "centre": c.centre, "depth": c.depth, "nodeCap": c.node_cap,
        "filters": {"area": f.area, "election": f.election, "kinds": sorted(data.local_name(k) for k in f.kinds),
                    "asOf": f.as_of.isoformat() if f.as_of else None},
        "capped": bool(c.capped), "cappedWhat": c.capped,
        "caps": {"nodes": c.node_cap, "edges": chart.MAX_EDGES, "claimsPerEntity": chart.MAX_CLAIMS,
                 "claimsPerEdge": chart.EDGE_CLAIMS},
        "dates": {"first": c.first, "last": c.last},
        "nodes": [{"id": n.iri, "label": n.label, "types": n.types, "depth": n.depth, "expanded": n.expanded,
                   "url": url(n.iri)} for n in c.nodes.values()],
        "edges": [{"id": e.id, "source": e.subject, "target": e.object, "predicate": data.local_name(e.predicate),
                   "verb": chart.verb(e), "negated": e.negated, "area": e.area,
                   "areaLabel": label(e.area) if e.area else None,
                   "claims": [{"id": data.local_name(x.claim), "date": x.date}
                              for x in e.claims[:chart.EDGE_CLAIMS]],
                   "claimCount": len(e.claims),
                   "dates": e.dates,
                   "conflicts": [{"id": k.id, "kind": k.kind, "status": k.status}
                                 for k in e.conflicts[:chart.EDGE_CLAIMS]],
                   "conflictCount": len(e.conflicts)}
                  for e in c.edges],
    }


def _chart(request: Request) -> tuple[ServerConfig, chart.Chart]:
    cfg = config(request)
    kb, params = cfg.kb, request.query_params
    filters = parse_filters(kb, params)
    depth = number(params, "depth", 1, 1, chart.MAX_DEPTH)
    cap = number(params, "nodes", chart.DEFAULT_NODES, 1, chart.MAX_NODES)
    expand = tuple(chart.entity_iri(kb, t) for t in params.getlist("expand")[: chart.MAX_EXPAND + 1] if t.strip())
    text = (params.get("entity") or "").strip()
    centre = chart.entity_iri(kb, text) if text else chart.busiest(kb)
    if centre is None:
        raise NotFoundError("the base holds no claims to chart")
    return cfg, chart.neighbourhood(kb, centre, depth=depth, filters=filters, node_cap=cap, expand=expand)


def link_chart(request: Request) -> Response:
    """The link chart: the claims around an entity, drawn by script, listed as a table for
    readers without one."""
    cfg, c = _chart(request)
    kb = cfg.kb
    index = kb.entity_index()
    elections = sorted((iri for iri, types in index.types.items()
                        if any(data.local_name(t) == "Election" for t in types)), key=index.label)
    params = request.query_params
    return render(request, "chart.html", {
        "title": f"Link chart: {index.label(c.centre)}", "nav": "chart", "c": c, "verb": chart.verb,
        "centre_curie": curie(c.centre), "areas": data.areas(kb),
        "elections": [(iri, index.label(iri)) for iri in elections], "kinds": sorted(kb.predicates()),
        "words": chart.words, "edge_claims": chart.EDGE_CLAIMS,
        "expand": [t for t in params.getlist("expand") if t.strip()][: chart.MAX_EXPAND],
        "max_depth": chart.MAX_DEPTH, "max_nodes": chart.MAX_NODES,
        "kind_set": {data.local_name(k) for k in c.filters.kinds},
    })


def link_chart_json(request: Request) -> Response:
    """The link chart's nodes and edges as JSON (see :func:`to_json`); errors
    as ``{"error": ...}`` with their status."""
    try:
        cfg, c = _chart(request)
    except CfkbError as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.http_status)
    return JSONResponse(to_json(c, entity_url, cfg.kb.entity_index().label))
