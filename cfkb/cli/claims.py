"""``cfkb claim``: add one claim from the command line, grade it, show it."""

from __future__ import annotations

from typing import Any

import click

from cfkb.cli.base import State, _claim_date, _echo_err, _say, _tlp_level, cli, pass_state
from cfkb.cli.importing import _echo_names
from cfkb.errors import CfkbError, InputError


@cli.group()
def claim() -> None:
    """Add and show single claims."""


@claim.command(name="add")
@click.option("--subject", required=True, help="Entity name, alias, cfid: CURIE or IRI.")
@click.option("--predicate", required=True, help="memberOf, runsAs, participatesIn, supports, leads, ...")
@click.option("--object", "obj", required=True, help="Entity name, alias, cfid: CURIE or IRI.")
@click.option("--source", required=True, help="The outlet or document.")
@click.option("--negated", is_flag=True, help="A negative claim (X does NOT ...).")
@click.option("--area", help="Province or region.")
@click.option("--election", help="The election.")
@click.option("--speaker", help="Who said it.")
@click.option("--date", callback=_claim_date, help="When it was said (YYYY-MM-DD).")
@click.option("--quote", help="The verbatim words.")
@click.option("--paraphrase", help="The words as a document reports them, not verbatim (instead of --quote).")
@click.option("--quote-lang", help="Language tag of the quote or paraphrase (en, ar, ...).")
@click.option("--cited-in", help="The document that reported it.")
@click.option("--url", help="Where it can be read.")
@click.option("--reliability", type=click.Choice(list("ABCDEF"), case_sensitive=False),
              help="Admiralty reliability of the source, A-F.")
@click.option("--credibility", type=click.IntRange(1, 6), help="Admiralty credibility of the claim, 1-6.")
@click.option("--tlp", callback=_tlp_level, help="TLP 2.0 marking: CLEAR, GREEN, AMBER, AMBER+STRICT, RED.")
@click.option("--create-entities", is_flag=True, help="Create entities for unknown names.")
@click.option("--new", "new_entities", is_flag=True,
              help="With --create-entities: create them even when an existing entity has a close name.")
@pass_state
def claim_add(state: State, /, create_entities: bool, new_entities: bool, **values: Any) -> None:
    """Add one claim; prints its ID and any conflicts it creates.

    \b
    Example:
      cfkb claim add --subject KH --predicate participatesIn \\
        --object "December 2023 provincial elections" --negated \\
        --speaker "Qais al-Khazali" --source "al-Iraqiya TV" --date 2023-08-22
    """
    import csv
    import io

    from cfkb.io.batch import InputFile
    from cfkb.io.importer import import_into

    row = {("object" if k == "obj" else k): v for k, v in values.items() if v not in (None, False)}
    if values["negated"]:
        row["negated"] = "true"
    if row.get("reliability"):
        row["reliability"] = row["reliability"].upper()
    if row.get("credibility") is not None:
        row["credibility"] = str(row["credibility"])
    table = io.StringIO()
    csv.writer(table).writerows([list(row), list(row.values())])  # a one-row claim table
    data = table.getvalue().encode("utf-8")
    try:
        report = import_into(state.location, [InputFile(_COMMAND_LINE, data, "csv")], analyst=state.analyst,
                             create_entities=create_entities, count_conflicts=True,
                             new_entities=new_entities)
    except CfkbError as exc:
        raise _option_error(exc, row) from exc
    iri = (report.claims_added or report.claims_present)[0]
    _say(iri.rsplit("/", 1)[-1])
    if report.claims_present:
        _echo_err("the claim was already in the base")
    _echo_names(report.entities_created, report.name_variants, "option")
    if report.new_conflicts:
        _echo_err(f"{report.new_conflicts} new conflict(s); see: cfkb conflicts --entity {values['subject']!r}")


_COMMAND_LINE = "<command line>"


def _option_error(exc: CfkbError, row: dict[str, Any]) -> CfkbError:
    """An import error about the one-row table ``claim add`` builds, told in
    its options: '--object: unknown entity ...', not '<command line>:2:11: object: ...'."""
    import re

    text = str(exc)
    if not text.startswith(_COMMAND_LINE):
        return exc
    text = re.sub(r"^<command line>(:\d+)*: ", "", text)
    column, sep, rest = text.partition(": ")
    if sep and column in row:
        text = f"--{column.replace('_', '-')}: {rest}"
    return InputError(text)


# -- conflicts -------------------------------------------------------------


@claim.command(name="grade")
@click.argument("claim_id")
@click.argument("credibility", type=click.IntRange(1, 6))
@pass_state
def claim_grade(state: State, claim_id: str, credibility: int) -> None:
    """Grade a claim's credibility, 1 (confirmed) to 6 (cannot be judged).

    \b
    Example:
      cfkb claim grade 5c1e0f2a 2
    """
    from cfkb.workflow.grading import grade_claim

    iri = grade_claim(state.kb(write=True), claim_id, credibility, analyst=state.analyst)
    _say(f"claim {iri.rsplit('/', 1)[-1]}: credibility {credibility}")


@claim.command(name="show")
@click.argument("claim_id")
@pass_state
def claim_show(state: State, claim_id: str) -> None:
    """Show a claim with its provenance, grading, rank and history.

    The rank line says which decisions give it: the conflicts whose
    resolution prefers or deprecates the claim, or a rank set by hand.

    \b
    Example:
      cfkb claim show 5c1e0f2a
    """
    from cfkb.workflow.claimviews import claim_view
    from cfkb.workflow.decisions import current_rank, display_time, history, resolve_claim

    kb = state.kb()
    iri = resolve_claim(kb, claim_id)
    v = claim_view(kb, iri)
    _say(f"{v.id}  {v.statement}")
    for label, value in (("said by", v.speaker.label if v.speaker else None), ("outlet", v.outlet.label),
                         ("date", v.date), ("quote", v.quote and f"\u201c{v.quote}\u201d"),
                         ("paraphrase",
                          v.paraphrase and f"{v.paraphrase} (the reporting document's words, not verbatim)"),
                         ("cited in", v.cited_in.label if v.cited_in else None), ("note", v.note),
                         ("election", v.election.label if v.election else None),
                         ("grading", v.grading or "ungraded"),
                         ("reliability", v.claim_reliability), ("credibility", v.credibility),
                         ("speaker", v.speaker_reliability and f"reliability {v.speaker_reliability}"),
                         ("outlet", v.outlet_reliability and f"reliability {v.outlet_reliability}"),
                         ("rank", v.rank),
                         ("tlp", v.tlp), ("interested", f"yes: {v.interest}" if v.interested else None)):
        if value is not None:
            _say(f"  {label:<12} {value}")
    for d in current_rank(kb, iri).decisions:
        by = f"conflict {d.conflict_id}" if d.conflict else "hand"
        _say(f"  {d.rank} by {by}: {display_time(d.when)} {d.analyst}" + (f" ({d.reason})" if d.reason else ""))
    entries = history(kb, iri)
    if entries:
        _say("  history")
    for a in entries:
        _say(f"    {display_time(a.when)} {a.analyst}: {a.summary()}")
