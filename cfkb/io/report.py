"""Conflicts as RDF, for `cfkb conflicts --format turtle` and partner exchange;
the briefing (`cfkb report`), under a TLP ceiling like an export."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from cfkb.io.export import ExportOptions, export_base, turtle
from cfkb.io.tlp import normalise
from cfkb.model.vocabulary import CFKB, ONTOLOGY_GRAPH, PROV, RDF, RDFS
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query
from cfkb.workflow.claimviews import ClaimView, claim_views
from cfkb.workflow.conflicts import Conflict, _statuses, conflict_triples, find_conflicts
from cfkb.workflow.decisions import display_time, history
from cfkb.workflow.records import source_records


def conflicts_turtle(found: Sequence[Conflict]) -> str:
    return turtle(conflict_triples(found))


# -- the briefing --------------------------------------------------------------

def _timeline(kb: KnowledgeBase) -> list[ClaimView]:
    rows = kb.select(own_query("claims_by_date"))
    return claim_views(kb, [r["c"].value for r in rows])


@dataclass
class Released:
    """What a briefing may show under a ceiling: a base holding only that."""

    kb: KnowledgeBase
    ceiling: str
    claims: int
    withheld: int


def released_view(kb: KnowledgeBase, ceiling: str) -> Released:
    """An in-memory base holding what an export at ``ceiling`` would carry.

    The same decision as :func:`cfkb.io.export.export_base` (so the same claims
    are withheld, and counted the same way), plus the ontology the rules read
    and who made each decision that may leave. Unmarked claims carry the
    base's default marking, as in an export.
    """
    import datetime as dt


    result = export_base(kb, ExportOptions(format="nq", ceiling=ceiling,
                                           when=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)))
    store = ox.Store()
    store.extend(kb.store.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH))
    header = ox.NamedNode(result.iri)
    quads = [q for q in ox.parse(result.text.encode("utf-8"), format=ox.RdfFormat.N_QUADS) if q.subject != header]
    store.extend(quads)
    # the analyst behind each decision that may leave (a briefing names who decided)
    for q in [q for q in quads if q.predicate == RDF.type and q.object == CFKB.Assessment]:
        for link in kb.store.quads_for_pattern(q.subject, PROV.wasAssociatedWith, None, None):
            store.add(ox.Quad(link.subject, link.predicate, link.object))
            if isinstance(link.object, ox.Literal):  # an agent is a node; a literal has no label
                continue
            for label in kb.store.quads_for_pattern(link.object, RDFS.label, None, None):
                store.add(ox.Quad(label.subject, label.predicate, label.object))
    return Released(kb=KnowledgeBase(store, None), ceiling=result.ceiling, claims=result.claims,
                    withheld=result.withheld)


def released_copy(kb: KnowledgeBase, ceiling: str, path: Path) -> Released:
    """:func:`released_view` written to a new on-disk base at ``path`` (which must not exist).

    What ``cfkb serve --tlp`` serves: a base on disk, so that the server's query
    workers can open it, holding nothing above the ceiling, so that no page,
    SPARQL answer or download can show more than an export at that ceiling.
    """
    released = released_view(kb, ceiling)
    copy = KnowledgeBase.create(path)
    try:
        copy.write_many(list(released.kb.store))
    except BaseException:
        copy.close()
        raise
    copy.close()
    return dataclasses.replace(released, kb=KnowledgeBase.open(path))


def briefing(kb: KnowledgeBase, *, fmt: str = "markdown", today: str | None = None, ceiling: str = "GREEN") -> str:
    """A briefing on the base: conflicts (open first) with both sides, quotes and
    grading; conflicts per entity and area; the timeline of statements.

    Only what an export at ``ceiling`` (default GREEN) may carry is shown: a
    claim above it, or naming something above it, is left out with every
    conflict it is part of, and counted. TLP:RED is never shown. The marking
    is in the header and beside each claim.
    """
    import datetime as dt


    released = released_view(kb, normalise(ceiling))
    # the briefing shows what may leave; the analysts' decisions on it are the base's own
    home, kb = kb, released.kb
    statuses = _statuses(home)
    found = [dataclasses.replace(c, status=statuses.get(c.iri, c.status)) for c in find_conflicts(kb)]
    timeline = _timeline(kb)
    records = source_records(kb, found)
    day = today or dt.date.today().isoformat()
    blocks: list[tuple[str, Any]] = [("h1", "cfkb briefing"), ("tlp", released.ceiling),
                                     ("p", f"TLP:{released.ceiling}: shows claims marked TLP:{released.ceiling}"
                                           " or below; unmarked claims count as the base's default marking."
                                           f" {released.withheld} claim(s) withheld by TLP (marked above the"
                                           " ceiling, or naming something that is)."),
                                     ("p", f"{kb.claim_count()} claims from {len(records)} sources;"
                                           f" {len(found)} conflicts, "
                                           f"{sum(c.status in ('open', 'disputed') for c in found)} open."
                                           f" Prepared {day}.")]
    blocks.append(("h2", "Conflicts"))
    if not found:
        blocks.append(("p", "No conflicts."))
    for c in found:
        head = c.claims[1]
        blocks.append(("h3", f"{head.statement} \u2014 {c.kind}, {c.status} ({c.id})"))
        if c.chain:
            blocks.append(("p", "Why, step by step:"))
            blocks += [("li", f"{step['step']}: {step['text']}") for step in c.chain]
            blocks.append(("end", None))
        else:
            blocks.append(("p", c.explanation))
        rows = []
        for v in c.claims:
            grade = v.grading or "\u2013"
            rank = v.rank + (f" (interested party: {v.interest})" if v.interested else "")
            rows.append([v.role, v.statement, v.speaker.label if v.speaker else "\u2013", v.outlet.label,
                         v.date or "\u2013", grade, rank, _marking(v)])
        blocks.append(("table", (["role", "claim", "speaker", "outlet", "date", "grade", "rank", "TLP"], rows)))
        for v in c.claims:
            if v.quote and v.role != "supports":
                blocks.append(("quote", (f"{v.speaker.label if v.speaker else v.outlet.label}, {v.date},"
                                         f" {_marking(v)}", v.quote, v.quote_lang)))
            elif v.paraphrase and v.role != "supports":
                as_reported = f", as {v.cited_in.label} reports it" if v.cited_in else ""
                blocks.append(("p", f"In paraphrase ({v.speaker.label if v.speaker else v.outlet.label},"
                                    f" {v.date}{as_reported}, {_marking(v)}): {v.paraphrase}"))
            if v.note and v.role != "supports":
                blocks.append(("p", f"Note on {v.attributed}'s claim: {v.note}"))
        entries = history(home, c.iri)
        if entries:
            blocks.append(("p", "History of assessments:"))
        for a in entries:
            blocks.append(("li", f"{display_time(a.when)} {a.analyst}: {a.summary()}"))
    blocks.append(("h2", "Conflicts by entity and area"))
    by_key: dict[str, set[str]] = {}
    for c in found:
        for v in c.claims:
            for ref in (v.subject, v.object, v.area):
                if ref is not None:
                    by_key.setdefault(ref.label, set()).add(c.id)
    rows = [[k, ", ".join(sorted(ids))] for k, ids in sorted(by_key.items())]
    blocks.append(("table", (["entity or area", "conflicts"], rows)) if rows else ("p", "None."))
    blocks.append(("h2", "Sources"))
    blocks.append(("table", (["source", "reliability", "claims", "preferred", "deprecated", "conflicts", "last spoke"],
                             [[r.label, r.reliability or "\u2013", str(r.claims), str(r.preferred), str(r.deprecated),
                               str(r.conflicts), r.last_spoke or "\u2013"] for r in records])))
    # The statements the documents report, in order; the documents' own analysis is summed up.
    own = [v for v in timeline if v.cited_in is not None and v.outlet.iri == v.cited_in.iri]
    reported = [v for v in timeline if v not in own]
    blocks.append(("h2", "Timeline of statements"))
    blocks.append(("table", (["date", "said by", "statement", "TLP"],
                             [[v.date or "", (v.speaker.label + ", " if v.speaker else "") + v.outlet.label,
                               v.statement, _marking(v)] for v in reported])))
    if own:
        blocks.append(("p", f"Plus {len(own)} claims the citing documents make themselves"
                            f" ({', '.join(sorted({v.outlet.label for v in own}))})."))
    return _markdown(blocks) if fmt == "markdown" else _html(blocks)


def _marking(view: ClaimView) -> str:
    return f"TLP:{view.tlp}" if view.tlp else "TLP:?"


#: Characters that are not text in a report: controls (but tab and newline)
#: and the bidirectional overrides that reorder what a reader sees.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(text: str) -> str:
    """Control and bidi-override characters shown as escapes; newlines as spaces."""
    text = _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))
    return " ".join(text.replace("\t", " ").splitlines())


#: What Markdown (and the HTML it may carry) would read as markup.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~!])")


def _md(text: str) -> str:
    """Text from the base as Markdown text: no markup, no HTML, one line.

    >>> _md("<script>alert(1)</script> [x](javascript:y) *b*")
    '&lt;script&gt;alert(1)&lt;/script&gt; \\\\[x\\\\](javascript:y) \\\\*b\\\\*'
    """
    text = _visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_cell(text: str) -> str:
    return _md(text)


def _markdown(blocks: list[tuple[str, Any]]) -> str:
    out = []
    for kind, value in blocks:
        if kind == "tlp":
            out.append(f"**TLP:{value}**\n")
        elif kind == "h1":
            out.append(f"# {_md(value)}\n")
        elif kind == "h2":
            out.append(f"## {_md(value)}\n")
        elif kind == "h3":
            out.append(f"### {_md(value)}\n")
        elif kind == "p":
            out.append(f"{_md(value)}\n")
        elif kind == "li":
            out.append(f"- {_md(value)}")
        elif kind == "end":
            out.append("")
        elif kind == "quote":
            who, text, _ = value
            out.append(f"> \u201c{_md(text)}\u201d \u2014 {_md(who)}\n")
        elif kind == "table":
            head, rows = value
            out.append("| " + " | ".join(_md(h) for h in head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


_CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}blockquote{border-left:4px solid #888;margin:.5rem 0;
padding:.2rem .8rem;color:#444}h3{margin-top:2rem}"""


def _html(blocks: list[tuple[str, Any]]) -> str:
    from html import escape as html_escape

    def escape(text: str, quote: bool = True) -> str:
        return html_escape(_visible(text), quote=quote)

    marking = "".join(f" \u00b7 TLP:{escape(value)}" for kind, value in blocks if kind == "tlp")
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>cfkb briefing{marking}</title>", f"<style>{_CSS}</style></head><body>"]
    in_list = False

    for kind, value in blocks:
        if kind != "li" and in_list:
            out.append("</ul>")
            in_list = False
        if kind == "end":
            continue
        if kind == "tlp":
            out.append(f'<p class="tlp"><strong>TLP:{escape(value)}</strong></p>')
        elif kind in ("h1", "h2", "h3", "p"):
            out.append(f"<{kind}>{escape(value)}</{kind}>")
        elif kind == "li":
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{escape(value)}</li>")
        elif kind == "quote":
            who, text, lang = value
            rtl = ' dir="rtl"' if lang == "ar" else ""
            out.append(f'<blockquote lang="{escape(lang or "")}"{rtl}>\u201c{escape(text)}\u201d'
                       f"<br><small>{escape(who)}</small></blockquote>")
        elif kind == "table":
            head, rows = value
            out.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows]
            out.append("</table>")
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
