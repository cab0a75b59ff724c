"""Rendering for the terminal: conflicts side by side, query results as tables."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from typing import Any

import click
import pyoxigraph as ox

from cfkb.io.output import csv_rows, safe_results, terminal_text


def _render_conflicts(found: list[Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([c.to_json() for c in found], ensure_ascii=False, indent=2))
    elif fmt == "csv":
        table: list[list[Any]] = [["conflict", "kind", "status", "role", "claim", "subject", "predicate", "negated",
                                   "object", "area", "election", "speaker", "outlet", "date", "quote", "cited_in",
                                   "reliability", "credibility", "explanation", "paraphrase"]]
        for c in found:
            for v in c.claims:
                table.append([c.id, c.kind, c.status, v.role, v.id, v.subject.label, v.predicate.label,
                              str(v.negated).lower(), v.object.label, v.area.label if v.area else "",
                              v.election.label if v.election else "", v.speaker.label if v.speaker else "",
                              v.outlet.label, v.date or "", v.quote or "", v.cited_in.label if v.cited_in else "",
                              v.reliability or "", v.credibility or "", c.explanation, v.paraphrase or ""])
        click.echo(csv_rows(table), nl=False)
    elif fmt == "turtle":
        from cfkb.io.report import conflicts_turtle

        click.echo(conflicts_turtle(found), nl=False)
    else:
        click.echo(_conflicts_table(found), nl=False)


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((80, 24)).columns, 120))


def _conflicts_table(found: list[Any]) -> str:
    if not found:
        return "no conflicts\n"
    width = _width()
    wrap = textwrap.TextWrapper(width=width, subsequent_indent=" " * 11)
    out = []
    t = terminal_text
    for c in found:
        head = c.claims[1]
        out.append(click.style(t(f"{c.id}  {c.kind}  [{c.status}]"), bold=True)
                   + t(f"  {head.subject.label}: {c.rule_label}"))
        for v in c.claims:
            who = v.speaker.label + f" on {v.outlet.label}" if v.speaker else v.outlet.label
            meta = ", ".join(x for x in (who, v.date or "undated", v.grading and f"graded: {v.grading}",
                                          v.rank != "normal" and v.rank or "",
                                          f"interested party ({v.interest})" if v.interested else "") if x)
            out.append(wrap.fill(t(f"  {v.role:<8} {v.statement}")))
            out.append(wrap.fill(t(" " * 11 + meta)))
            if v.quote:
                out.append(wrap.fill(t(" " * 11 + f"\u201c{v.quote}\u201d")))
            elif v.paraphrase:
                out.append(wrap.fill(t(" " * 11 + f"in paraphrase: {v.paraphrase}")))
        if c.chain:
            out.append("  why:")
            for step in c.chain:
                out.append(textwrap.fill(t(step["text"]), width=width, initial_indent=f"    {step['step']:<11}",
                                         subsequent_indent=" " * 15))
        else:
            out.append(textwrap.fill(t(c.explanation), width=width, initial_indent="  why: ",
                                     subsequent_indent="       "))
        out.append("")
    kinds: dict[str, int] = {}
    for c in found:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    open_n = sum(1 for c in found if c.status in ("open", "disputed"))
    out.append(t(f"{len(found)} conflict(s), {open_n} open: " + ", ".join(f"{n} {k}" for k, n in kinds.items())))
    return "\n".join(out) + "\n"


# -- validate --------------------------------------------------------------


def _render_results(result: Any, fmt: str) -> None:
    if isinstance(result, (ox.QueryBoolean, bool)):
        click.echo("true" if bool(result) else "false")
        return
    if isinstance(result, (ox.QueryTriples, list)):
        from cfkb.io.export import turtle

        click.echo(turtle(list(result)), nl=False)
        return
    formats = {"json": ox.QueryResultsFormat.JSON, "csv": ox.QueryResultsFormat.CSV,
               "tsv": ox.QueryResultsFormat.TSV}
    if fmt in formats:
        data = safe_results(fmt, bytes(result.serialize(format=formats[fmt]) or b""))
        click.echo(data.decode("utf-8"), nl=False)
        return
    names = [v.value for v in result.variables]
    rows = [[_cell(sol[n]) for n in names] for sol in result]
    click.echo(_table(names, rows), nl=False)


def _cell(term: Any) -> str:
    from cfkb.model.vocabulary import curie

    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return curie(term.value)
    return str(term.value)


def _table(names: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "(no results)\n"
    names = [terminal_text(n, newlines=False) for n in names]
    rows = [[terminal_text(c, newlines=False) for c in r] for r in rows]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    if sys.stdout.isatty():
        budget = _width()
        while sum(widths) + 2 * len(widths) > budget and max(widths) > 12:
            widths[widths.index(max(widths))] -= 1

    def fmt_row(cells: list[str]) -> str:
        return "  ".join((c if len(c) <= w else c[: w - 1] + "\u2026").ljust(w)
                         for c, w in zip(cells, widths, strict=False)).rstrip()

    lines = [fmt_row(names), "  ".join("-" * w for w in widths)]
    lines += [fmt_row(r) for r in rows]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


# -- export ----------------------------------------------------------------
