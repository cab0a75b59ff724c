"""``cfkb entity``: the gazetteer from the command line."""

from __future__ import annotations

import json

import click

from cfkb.cli.base import State, _echo_err, _say, cli, pass_state


@cli.group()
def entity() -> None:
    """Look up and maintain the gazetteer: add, alias, show, merge, unmerge."""


@entity.command(name="show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def entity_show(state: State, name: str, fmt: str) -> None:
    """Show an entity: labels, aliases, types, claims and merges. NAME may be any alias.

    \b
    Example:
      cfkb entity show "Faleh al-Fayyad"
      cfkb entity show "حيدر العبادي" --format json
    """
    from dataclasses import asdict

    from cfkb.io.tlp import marking_of
    from cfkb.workflow.entities import show_entity

    info = show_entity(state.kb(), name)
    marking = marking_of(state.kb(), info.iri)  # as export counts it: every graph, or the default
    if info.matched:
        _echo_err("note: " + info.matched)
    if fmt == "json":
        click.echo(json.dumps({**asdict(info), "marking": marking}, ensure_ascii=False, indent=2))
        return
    _say(f"{info.label}  <{info.iri}>")
    _say(f"  type      {', '.join(info.types) or '(none)'}")
    _say(f"  marking   TLP:{marking}")
    for text, lang in info.labels:
        _say(f"  label     {text}" + (f"@{lang}" if lang else ""))
    for text, lang in info.aliases:
        _say(f"  alias     {text}" + (f"@{lang}" if lang else ""))
    for p, o in info.other:
        _say(f"  {p:<9} {o}")
    if info.claims:
        _say("  claims    " + ", ".join(f"{n} as {role}" for role, n in sorted(info.claims.items())))
    for old in info.merged:
        _say(f"  merged    <{old}>")
    for merge_id in info.merges:
        _say(f"  merge     {merge_id}  (undo: cfkb entity unmerge {merge_id})")


@entity.command(name="add")
@click.argument("label")
@click.option("--type", "type_name", required=True, help="Person, Party, ArmedGroup, ElectoralList, Coalition, "
              "Organization, Province, Region, Election, MediaOutlet, Document.")
@click.option("--alias", "aliases", multiple=True, help="Another name (repeatable; Arabic script welcome).")
@click.option("--new", "--force", "force", is_flag=True,
              help="Add it even if the label, or a name close to it, already names an entity.")
@pass_state
def entity_add(state: State, label: str, type_name: str, aliases: tuple[str, ...], force: bool) -> None:
    """Add an entity to the gazetteer; prints its IRI.

    \b
    Example:
      cfkb entity add "Harakat Babiliyoun" --type Party --alias Babiliyoun --alias "حركة بابليون"
    """
    from cfkb.workflow.entities import add_entity

    iri = add_entity(state.kb(write=True), label, type_name, analyst=state.analyst, aliases=aliases, force=force)
    _say(iri)


@entity.command(name="duplicates")
@click.option("--min-score", type=click.IntRange(50, 100), default=80, show_default=True,
              help="Only pairs scoring at least this (100: certainly one entity).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def entity_duplicates(state: State, min_score: int, fmt: str) -> None:
    """Likely duplicate entities: pairs scored and explained, for review and 'entity merge'.

    Pairs come from shared keys (spelling variants, the same words in any
    order, an Arabic name read in Latin letters, the distinctive words of
    one name within the other, close spellings); pairs whose types cannot be
    one thing are left out.

    \b
    Example:
      cfkb entity duplicates
      cfkb entity duplicates --min-score 90 --format json
    """
    from cfkb.workflow.entities import find_duplicates

    found = find_duplicates(state.kb(), min_score=min_score)
    if fmt == "json":
        click.echo(json.dumps([p.to_json() for p in found], ensure_ascii=False, indent=2))
        return
    for p in found:
        click.echo(f"{p.score:3.0f}  {p.label_a} ({', '.join(p.types_a)})  <{p.a}>")
        click.echo(f"     {p.label_b} ({', '.join(p.types_b)})  <{p.b}>")
        for why in p.reasons[:3]:
            click.echo(f"     - {why}")
        click.echo(f"     merge: cfkb entity merge <{p.a}> <{p.b}> --reason '...'")
    _echo_err(f"{len(found)} likely duplicate pair(s) scoring {min_score} or more")


@entity.command(name="alias")
@click.argument("name")
@click.argument("alias")
@click.option("--lang", help="Language tag of the alias (default: ar for Arabic script, else en).")
@pass_state
def entity_alias(state: State, name: str, alias: str, lang: str | None) -> None:
    """Give an entity another name (a skos:altLabel).

    \b
    Example:
      cfkb entity alias "Falah al-Fayyadh" "Falih al-Fayyad"
    """
    from cfkb.workflow.entities import add_alias

    iri, new = add_alias(state.kb(write=True), name, alias, lang=lang)
    _echo_err(f"{alias!r} {'now names' if new else 'already named'} <{iri}>")


@entity.command(name="merge")
@click.argument("names", nargs=-1, metavar="KEEP DROP")
@click.option("--reason", default="", help="Why the two are one (recorded with the merge).")
@click.option("--undo", "undo_id", metavar="MERGE_ID", help="Undo the merge with this ID instead.")
@click.option("--force", is_flag=True, help="Merge even if the entities' types do not fit together.")
@pass_state
def entity_merge(state: State, names: tuple[str, ...], reason: str, undo_id: str | None, force: bool) -> None:
    """Fold entity DROP into KEEP; recorded (who, when, why) and undoable.

    Every triple naming DROP is rewritten to name KEEP, and DROP's labels
    become KEEP's aliases. Claims keep their IRIs and are marked
    cfkb:rewrittenBy the merge. Prints the merge ID.

    \b
    Example:
      cfkb entity merge "Falah al-Fayyadh" cfid:faleh-al-fayyad --reason "same person"
      cfkb entity merge --undo 0123456789abcdef01234567
    """
    from cfkb.workflow.entities import merge_entities, unmerge

    kb = state.kb(write=True)
    if undo_id:
        if names:
            raise click.UsageError("--undo takes a merge ID and no names")
        record = unmerge(kb, undo_id, analyst=state.analyst, reason=reason)
        _echo_err(f"undid merge {record.id}: <{record.dropped}> is separate from <{record.kept}> again")
        return
    if len(names) != 2:
        raise click.UsageError("give two names: KEEP DROP")
    if not reason.strip():
        raise click.UsageError("a merge needs --reason; it is recorded with the merge")
    record = merge_entities(kb, names[0], names[1], analyst=state.analyst, reason=reason, force=force)
    _say(record.id)
    _echo_err(f"merged <{record.dropped}> into <{record.kept}>: {record.claims_rewritten} claim(s) rewritten,"
              f" claim IDs kept; undo with: cfkb entity unmerge {record.id}")


@entity.command(name="unmerge")
@click.argument("merge_id")
@click.option("--reason", default="", help="Why the merge is undone (recorded).")
@pass_state
def entity_unmerge(state: State, merge_id: str, reason: str) -> None:
    """Undo an entity merge (the same as 'merge --undo').

    \b
    Example:
      cfkb entity unmerge 0123456789abcdef01234567 --reason "two different people"
    """
    from cfkb.workflow.entities import unmerge

    record = unmerge(state.kb(write=True), merge_id, analyst=state.analyst, reason=reason)
    _echo_err(f"undid merge {record.id}: <{record.dropped}> is separate from <{record.kept}> again")
