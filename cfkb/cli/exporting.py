"""``cfkb export``, ``cfkb tlp`` and ``cfkb report``: what leaves the base."""

from __future__ import annotations

import datetime as dt
import sys

import click

from cfkb.cli.base import State, _echo_err, _parse_date, _tlp_level, _write_output, cli, pass_state
from cfkb.io.output import terminal_text


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["turtle", "trig", "jsonld", "nt", "nq"]), default="turtle",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE (atomically).")
@click.option("--tlp", "ceiling", default="GREEN", show_default=True,
              type=click.Choice(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"], case_sensitive=False),
              help="TLP ceiling: the highest marking that may leave. TLP:RED never leaves, even with RED.")
@click.option("--entity", help="Only claims about this entity (subject or object).")
@click.option("--area", help="Only claims in this area (or a region that includes it, or its provinces).")
@click.option("--source", help="Only claims by this speaker, outlet or citing document.")
@click.option("--since", help="Only claims stated on or after this date (YYYY-MM-DD).")
@click.option("--until", "--as-of", "until",
              help="Only claims stated on or before this date (YYYY-MM-DD): the base as claimed then.")
@click.option("--conflicts-only", is_flag=True, help="Only conflicts and the claims in them.")
@click.option("--accepted-view", is_flag=True,
              help="Assert the triples of preferred and uncontested claims, each linked to its claims.")
@click.option("--profile", type=click.Choice(["nanopub"]), help="nanopub: each claim as a nanopublication (trig, nq).")
@click.option("--when", metavar="DATETIME", help="Export time written in the header (ISO 8601; default: now).")
@click.option("--license", "licence", default=None, metavar="IRI",
              help="Licence IRI for the header (default: TLP 2.0).")
@pass_state
def export(state: State, fmt: str, output: str | None, ceiling: str, entity: str | None, area: str | None,
           source: str | None, since: str | None, until: str | None, conflicts_only: bool, accepted_view: bool,
           profile: str | None, when: str | None, licence: str | None) -> None:
    """Export the base for partners: deterministic RDF, filtered by TLP.

    Unmarked claims, sources and entities count as the base's default
    marking (AMBER unless set with 'cfkb tlp default'). Import batches and
    analysts' names stay home. The header says who exported, when, the
    filters, the ceiling and how many claims were withheld. With --when the
    same base always gives the same bytes.

    \b
    Example:
      cfkb export -o base.ttl
      cfkb export --tlp AMBER --entity Hoquq --format jsonld -o hoquq.jsonld
      cfkb export --format trig --profile nanopub -o claims.trig
    """
    from cfkb.io.export import TLP_LICENSE, ExportOptions, export_to

    if profile == "nanopub" and fmt not in ("trig", "nq"):
        raise click.UsageError("the nanopub profile needs named graphs: use --format trig or nq")
    moment = None
    if when:
        try:
            moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{when!r} is not an ISO 8601 date and time", param_hint="--when") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    options = ExportOptions(
        format=fmt, ceiling=ceiling, entity=entity, area=area, source=source,
        since=_parse_date(since, "--since") if since else None, until=_parse_date(until, "--until") if until else None,
        conflicts_only=conflicts_only, accepted_view=accepted_view, profile=profile, when=moment,
        exporter=state.analyst, license=licence or TLP_LICENSE,
    )
    kb = state.kb()
    if output is None:
        # on a terminal, escape sequences in quoted text are shown, not obeyed; a pipe gets the exact text
        tty = sys.stdout.isatty()
        result = export_to(kb, lambda text: click.echo(terminal_text(text) if tty else text, nl=False), options)
    else:
        from cfkb.store.files import writing_regular

        with writing_regular(output) as out:  # written as it is made; renamed into place at the end
            result = export_to(kb, lambda text: out.write(text.encode("utf-8")), options)
        _echo_err(f"wrote {output}")
    _echo_err(f"exported {result.claims} claims at TLP:{result.ceiling} or below;"
              f" {result.withheld} withheld by TLP")


@cli.group()
def tlp() -> None:
    """The base's TLP settings."""


@tlp.command(name="default")
@click.argument("level", required=False, callback=_tlp_level)
@pass_state
def tlp_default(state: State, level: str | None) -> None:
    """Show or set the marking unmarked claims, sources and entities count as.

    Deny by default: AMBER until set.

    \b
    Example:
      cfkb tlp default
      cfkb tlp default GREEN
    """
    from cfkb.io.tlp import default_level, set_default_level

    if level is None:
        click.echo(default_level(state.kb()))
        return
    click.echo(set_default_level(state.kb(write=True), level))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE.")
@click.option("--as-of", "as_of", help="The base as claimed by this date.")
@click.option("--tlp", "ceiling", default="GREEN", show_default=True,
              type=click.Choice(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"], case_sensitive=False),
              help="TLP ceiling, as for export: the highest marking shown. TLP:RED is never shown, even with RED.")
@pass_state
def report(state: State, fmt: str, output: str | None, as_of: str | None, ceiling: str) -> None:
    """A briefing to send: conflicts with both sides, quotes and grading, per entity
    and area, and the timeline of statements. HTML is one self-contained file.

    It shows what an export at the same TLP ceiling would carry, with the
    marking in its header and beside each claim, and counts what it leaves out.

    \b
    Example:
      cfkb report -o briefing.md
      cfkb report --tlp AMBER --format html -o briefing.html
    """
    from cfkb.io.report import briefing
    from cfkb.workflow.conflicts import view_as_of

    kb = state.kb()
    if as_of:
        kb = view_as_of(kb, _parse_date(as_of, "--as-of"))
    _write_output(briefing(kb, fmt=fmt, ceiling=ceiling.upper()), output)
