"""The analyst's review: ``cfkb conflicts``, ``flag``, ``rank``, ``conflict show``, ``source`` and ``sources``."""

from __future__ import annotations

import json
from typing import Any

import click
import pyoxigraph as ox

from cfkb.cli.base import State, _echo_err, _parse_date, _read_name, _say, cli, pass_state
from cfkb.cli.render import _conflicts_table, _render_conflicts, _render_results, _table
from cfkb.io.output import csv_rows


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "turtle"]), default="table",
              show_default=True)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["direct", "derived", "functional", "revision"]),
              help="Only conflicts of this kind (repeatable).")
@click.option("--entity", help="Only conflicts with a claim about this entity (name, alias or CURIE).")
@click.option("--source", help="Only conflicts with a claim by this speaker, outlet or document.")
@click.option("--as-of", "as_of", help="The base as claimed by this date (YYYY-MM-DD).")
@click.option("--known-as-of", help="The base as it knew things on this date (recorded by then).")
@click.option("--all", "show_all", is_flag=True, help="Include dismissed conflicts.")
@click.option("--check", is_flag=True, help="Exit 1 if any open conflict is found (for scripts).")
@click.option("--limit", type=click.IntRange(min=0), help="Show at most this many conflicts (a page).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Skip this many conflicts first (with --limit: the next page).")
@pass_state
def conflicts(state: State, fmt: str, kinds: tuple[str, ...], entity: str | None, source: str | None,
              as_of: str | None, known_as_of: str | None, show_all: bool, check: bool, limit: int | None,
              offset: int) -> None:
    """Show contradictory claims, side by side, with why they conflict.

    \b
    Kinds:
      direct      one source asserts what another negates
      derived     a contradiction reached through the ontology's rules
      functional  two lists for one faction in overlapping areas
      revision    the same speaker or outlet later says otherwise

    \b
    Example:
      cfkb conflicts
      cfkb conflicts --entity Hoquq --format json
      cfkb conflicts --as-of 2023-08-15
      cfkb conflicts --limit 20 --offset 20
    """
    from cfkb.workflow.conflicts import conflict_page, view_as_of

    kb = state.kb()
    entity_iri = _read_name(kb, entity) if entity else None
    source_iri = _read_name(kb, source) if source else None
    view = kb
    if as_of or known_as_of:
        if as_of and known_as_of:
            raise click.UsageError("give --as-of or --known-as-of, not both")
        option = "--known-as-of" if known_as_of else "--as-of"
        view = view_as_of(kb, _parse_date(as_of or known_as_of or "", option), known=bool(known_as_of))
    filters: dict[str, Any] = {"kinds": kinds or None, "entity": entity_iri, "source": source_iri,
                               "include_dismissed": show_all}
    total, page = conflict_page(view, **filters, limit=limit, offset=offset)
    _render_conflicts(page, fmt)
    if limit is not None or offset:
        # the count goes to stderr, so the page itself stays valid JSON, CSV or Turtle
        shown = f"{offset + 1}-{offset + len(page)}" if page else "none"
        _echo_err(f"conflicts {shown} of {total}")
    if check and conflict_page(view, **filters, status=("open", "disputed"), limit=0)[0]:
        raise click.exceptions.Exit(1)


# -- the analyst's workflow ------------------------------------------------------

@cli.command()
@click.argument("conflict_id")
@click.option("--status", type=click.Choice(["open", "disputed", "resolved", "dismissed"]), required=True)
@click.option("--prefer", metavar="CLAIM_ID", help="The claim you believe (ranked preferred); resolutions only.")
@click.option("--reason", help="Why (required to resolve).")
@click.option("--keep-ranks", is_flag=True, help="Do not deprecate the claims on the other side.")
@pass_state
def flag(state: State, conflict_id: str, status: str, prefer: str | None, reason: str | None,
         keep_ranks: bool) -> None:
    """Flag or resolve a conflict: its status, the claim you believe, and why.

    Recorded with who and when (PROV); kept across re-imports, since conflict
    and claim IDs are content hashes. Resolving with --prefer ranks that claim
    preferred and the other side deprecated, with the reason. Those ranks
    belong to the resolution: flagging the conflict again (open, disputed,
    dismissed, or resolved the other way) takes them back.

    \b
    Example:
      cfkb flag 9755e317 --status disputed
      cfkb flag 9755e317 --status resolved --prefer 5c1e0f2a \\
        --reason "Moanes leads Hoquq and spoke last"
      cfkb flag 9755e317 --status open      # undo the resolution's ranks
    """
    from cfkb.workflow.decisions import flag as flag_conflict

    if status == "resolved" and not (reason or "").strip():
        raise click.UsageError("resolving a conflict needs --reason (why you believe one side)")
    if prefer and status != "resolved":
        raise click.UsageError(f"--prefer goes with --status resolved, not {status}")
    kb = state.kb(write=True)
    result = flag_conflict(kb, conflict_id, status=status, analyst=state.analyst, reason=reason,
                           prefer=prefer, deprecate_others=not keep_ranks)
    _say(f"conflict {result.conflict}: {result.status}")
    for iri, rank in result.ranks.items():
        _say(f"  {rank} {iri.rsplit('/', 1)[-1]}")


@cli.command(name="rank")
@click.argument("claim_id")
@click.argument("rank", type=click.Choice(["preferred", "normal", "deprecated"]))
@click.option("--reason", help="Why (required to deprecate).")
@pass_state
def rank_cmd(state: State, claim_id: str, rank: str, reason: str | None) -> None:
    """Rank a claim preferred, normal or deprecated (Wikidata-style), with a reason.

    A conflict resolution that deprecates the claim keeps it deprecated
    whatever its hand rank; reopen the conflict to undo that.

    \b
    Example:
      cfkb rank 5c1e0f2a deprecated --reason "contradicted by the movement's leader"
    """
    from cfkb.workflow.decisions import current_rank
    from cfkb.workflow.decisions import rank as rank_claim

    if rank == "deprecated" and not (reason or "").strip():
        raise click.UsageError("deprecating a claim needs --reason")
    kb = state.kb(write=True)
    iri = rank_claim(kb, claim_id, rank, analyst=state.analyst, reason=reason)
    settled = current_rank(kb, iri)
    _say(f"claim {iri.rsplit('/', 1)[-1]}: {settled.rank}")
    if settled.rank != rank:
        by = ", ".join(f"conflict {d.conflict_id}" for d in settled.decisions if d.conflict)
        _echo_err(f"the claim stays {settled.rank}: {by} {'is' if ',' not in by else 'are'} resolved that way;"
                  f" reopen {'it' if ',' not in by else 'them'} to undo")


@cli.group()
def source() -> None:
    """Grade sources and see their track record."""


@source.command(name="rate")
@click.argument("name")
@click.argument("reliability", type=click.Choice(list("ABCDEF"), case_sensitive=False))
@pass_state
def source_rate(state: State, name: str, reliability: str) -> None:
    """Rate a source's reliability, A (reliable) to F (cannot be judged).

    \b
    Example:
      cfkb source rate "Al-Rabaa TV" C
    """
    from cfkb.workflow.grading import rate_source

    kb = state.kb(write=True)
    match = kb.entity_match(name)
    rate_source(kb, match.iri, reliability, analyst=state.analyst)
    _say(f"{kb.entity_labels([match.iri]).get(match.iri, match.name)}: reliability {reliability.upper()}")


@source.command(name="show")
@click.argument("name")
@pass_state
def source_show(state: State, name: str) -> None:
    """A source's claims and the conflicts they are in.

    \b
    Example:
      cfkb source show "Al-Rabaa TV"
    """
    from cfkb.workflow import queries
    from cfkb.workflow.conflicts import find_conflicts

    kb = state.kb()
    iri = _read_name(kb, name)
    _say(f"{kb.entity_labels([iri]).get(iri) or iri.rsplit('/', 1)[-1]}  <{iri}>")
    nq = queries.load("said_by")
    _render_results(kb.query(nq.text, {"source": ox.NamedNode(iri)}, name=nq.name), "table")
    found = find_conflicts(kb, source=iri)
    click.echo(_conflicts_table(found), nl=False)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@pass_state
def sources(state: State, fmt: str) -> None:
    """List sources with grading and track record: claims made, claims preferred or
    deprecated in resolved conflicts, conflicts, and when each last spoke.

    \b
    Example:
      cfkb sources
      cfkb sources --format csv
    """
    from dataclasses import asdict

    from cfkb.workflow.records import source_records

    records = source_records(state.kb())
    names = ["label", "kind", "reliability", "claims", "preferred", "deprecated", "conflicts", "last_spoke"]
    if fmt == "json":
        click.echo(json.dumps([asdict(r) for r in records], ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(csv_rows([["iri", *names]] + [[r.iri] + [getattr(r, n) if getattr(r, n) is not None else ""
                                                          for n in names] for r in records]), nl=False)
    else:
        rows = [[str(getattr(r, n)) if getattr(r, n) is not None else "" for n in names] for r in records]
        click.echo(_table(names, rows), nl=False)


@cli.group(name="conflict")
def conflict_group() -> None:
    """One conflict in detail."""


@conflict_group.command(name="show")
@click.argument("conflict_id")
@pass_state
def conflict_show(state: State, conflict_id: str) -> None:
    """A conflict with its claims side by side and its history of assessments.

    \b
    Example:
      cfkb conflict show 9755e317
    """
    from cfkb.workflow.decisions import current_rank, display_time, history, resolve_conflict

    kb = state.kb()
    c = resolve_conflict(kb, conflict_id)
    click.echo(_conflicts_table([c]).rsplit("\n", 2)[0])
    ranked = [(v, current_rank(kb, v.iri)) for v in c.claims if v.rank != "normal"]
    if ranked:
        _say("  ranks")
    for v, settled in ranked:
        by = ", ".join(f"conflict {d.conflict_id}" if d.conflict else "hand" for d in settled.decisions)
        _say(f"    {v.id[:8]} ({v.attributed}) {settled.rank} by {by or 'no standing decision'}")
    entries = history(kb, c.iri)
    _say("  history" if entries else "  history: none (never assessed)")
    for a in entries:
        _say(f"    {display_time(a.when)} {a.analyst}: {a.summary()}")
