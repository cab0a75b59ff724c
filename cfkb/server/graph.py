"""The graph view drawn as inline SVG on the server: no script needed to read it.

Each panel is two columns, factions on the left and lists on the right, one
curve per claim. Colours and dashes come from CSS classes: ``conflict`` (a
claim in a conflict), ``negated`` (a claim that X does *not* ...), and the
predicate (``runsAs``, ``memberOf``, ``supports``).
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from cfkb.model.vocabulary import short_id
from cfkb.server.data import AreaGraph

ROW = 28
TOP = 34
WIDTH = 760
LEFT_X = 270
RIGHT_X = 490
MAX_LABEL = 36


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def render_panel(panel: AreaGraph, label: Callable[[str], str], url: Callable[[str], str], key: str) -> Markup:
    """One area's edges as an ``<svg>`` element; ``key`` makes its element IDs unique on the page."""
    left = list(dict.fromkeys(e.subject for e in panel.edges))
    right = list(dict.fromkeys(e.object for e in panel.edges))
    rows = max(len(left), len(right), 1)
    height = TOP + rows * ROW + 10
    ly = {iri: TOP + i * ROW + (rows - len(left)) * ROW / 2 for i, iri in enumerate(left)}
    ry = {iri: TOP + i * ROW + (rows - len(right)) * ROW / 2 for i, iri in enumerate(right)}
    title = escape(panel.label)
    out = [f'<svg class="graph" role="group" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
           f' xmlns="http://www.w3.org/2000/svg" aria-labelledby="g-{escape(key)}">',
           f'<title id="g-{escape(key)}">{title}</title>',
           f'<text class="col" x="{LEFT_X}" y="16" text-anchor="end">faction</text>',
           f'<text class="col" x="{RIGHT_X}" y="16">list</text>']
    mid = (LEFT_X + RIGHT_X) / 2
    for e in panel.edges:
        y1, y2 = ly[e.subject], ry[e.object]
        classes = " ".join(c for c in ("edge", e.predicate, "negated" if e.negated else "",
                                        "conflict" if e.conflict else "") if c)
        verb = ("does not " if e.negated else "") + {"runsAs": "run as", "memberOf": "belong to",
                                                      "supports": "support"}.get(e.predicate, e.predicate)
        tip = escape(f"{label(e.subject)} {verb} {label(e.object)}" + (" (in a conflict)" if e.conflict else ""))
        out.append(f'<a href="/claims/{escape(short_id(e.claim))}"><path class="{classes}"'
                   f' d="M{LEFT_X + 6} {y1:.0f} C{mid:.0f} {y1:.0f} {mid:.0f} {y2:.0f} {RIGHT_X - 6} {y2:.0f}">'
                   f'<title>{tip}</title></path></a>')
    for iri, y in ly.items():
        name = escape(label(iri))
        out.append(f'<a href="{escape(url(iri))}"><circle class="node" cx="{LEFT_X}" cy="{y:.0f}" r="5"/>'
                   f'<text x="{LEFT_X - 12}" y="{y + 4:.0f}" text-anchor="end">{escape(_short(label(iri)))}'
                   f'<title>{name}</title></text></a>')
    for iri, y in ry.items():
        name = escape(label(iri))
        out.append(f'<a href="{escape(url(iri))}"><circle class="node list" cx="{RIGHT_X}" cy="{y:.0f}" r="5"/>'
                   f'<text x="{RIGHT_X + 12}" y="{y + 4:.0f}">{escape(_short(label(iri)))}'
                   f'<title>{name}</title></text></a>')
    out.append("</svg>")
    return Markup("".join(out))
