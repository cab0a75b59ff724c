"""``cfkb init`` and ``cfkb import``."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from cfkb.cli.base import State, _echo_err, _say, cli, pass_state
from cfkb.cli.progress import _every, _progress_bar
from cfkb.errors import CfkbError
from cfkb.store.core import KnowledgeBase


@cli.command()
@click.option("--empty", is_flag=True, help="Create the store without the bundled seed corpus.")
@click.option("--force", is_flag=True, help="Delete an existing store at the path and create it anew.")
@pass_state
def init(state: State, empty: bool, force: bool) -> None:
    """Create the store and load the bundled corpus.

    The store is a directory (default ./cfkb.store, or --store / CFKB_STORE),
    or a SPARQL server's URL: init loads the ontology and corpus into it.
    Running init on an existing store changes nothing and says so.

    \b
    Example:
      cfkb --store /data/iraq.store init
      cfkb init --empty
      cfkb --store https://kb.example.org/cfkb init
    """
    from cfkb.io.importer import init_store

    path = state.location
    if KnowledgeBase.exists(path):
        if not force:
            kb = KnowledgeBase.open(path)
            n = kb.claim_count()
            kb.close()
            _echo_err(f"a store already exists at {path} ({n} claims); left as it is (use --force to recreate)")
            return
        KnowledgeBase.drop(path)
    start = time.perf_counter()
    kb, report = init_store(path, empty=empty, analyst=state.analyst)
    with kb:
        total = kb.claim_count()
    took = time.perf_counter() - start
    if report is None:
        _echo_err(f"created an empty store at {path} in {took:.1f}s")
    else:
        _echo_err(f"created {path}: loaded {total} claims and {report.other_triples} gazetteer triples"
                  f" from {', '.join(report.files)} in {took:.1f}s")
        _echo_err("next: cfkb conflicts")


# -- import ----------------------------------------------------------------

@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["csv", "yaml", "turtle", "trig", "jsonld", "nt", "nq"]),
              help="The format of every file (default: from each file's extension; needed for '-').")
@click.option("--create-entities", is_flag=True, help="Create entities for names the gazetteer does not know.")
@click.option("--new", "new_entities", is_flag=True,
              help="With --create-entities: create them even when an existing entity has a close name.")
@click.option("--dry-run", is_flag=True, help="Run every check of the import (names included) and write nothing.")
@click.option("--verbose", "-v", is_flag=True, help="List the claims added and the import batch.")
@click.option("--partner", metavar="INSTITUTE",
              help="The files come from this partner: recorded on the batch, their grading kept beside ours.")
@click.option("--max-file-mb", type=click.IntRange(1), default=None, metavar="MB",
              help="Refuse files larger than this (default 512).")
@click.option("--max-value-kb", type=click.IntRange(1), default=None, metavar="KB",
              help="Refuse literals and IRIs longer than this many thousand characters (default 1000).")
@pass_state
def import_cmd(state: State, files: tuple[str, ...], fmt: str | None, create_entities: bool, new_entities: bool,
               dry_run: bool, verbose: bool, partner: str | None, max_file_mb: int | None,
               max_value_kb: int | None) -> None:
    """Import claim tables (CSV, YAML) and RDF (Turtle, TriG, JSON-LD, N-Triples, N-Quads).

    All files of one call are one transaction: on any error nothing is
    imported, the store is left as it was, and every problem found is
    listed (up to 100), each as file:line:column. Everything is SHACL-checked first. Claims already in
    the base are not duplicated. RDF/XML, TriX and DOCTYPEs are refused;
    JSON-LD contexts are never fetched.

    \b
    Table columns: subject, predicate, object, source (required); negated,
    area, election, speaker, date, quote (verbatim words), paraphrase (the
    words as a document reports them, not verbatim), quote_lang, cited_in,
    url, reliability, credibility, tlp, modality, comment, valid_from,
    valid_until.

    \b
    Example:
      cfkb import claims.csv partner.ttl
      cat claims.csv | cfkb import --format csv -
      cfkb import --partner "Institute X" their-export.ttl
      cfkb import --dry-run --create-entities claims.csv
    """
    from cfkb.store import guard

    changes = {}
    if max_file_mb:
        changes["file_bytes"] = max_file_mb * guard.MIB
    if max_value_kb:
        changes["value_chars"] = max_value_kb * 1000
    with guard.using(**changes):
        inputs = _read_inputs(files, fmt)
        if dry_run:
            _dry_run(state, inputs, create_entities, new_entities)
            return
        _import(state, inputs, create_entities, verbose, partner, new_entities)


def _read_inputs(files: tuple[str, ...], fmt: str | None) -> list[Any]:
    from cfkb.io.batch import InputFile
    from cfkb.store import guard
    from cfkb.store.files import read_regular

    inputs = []
    for name in files:
        if name == "-":
            if fmt is None:
                raise click.UsageError("reading '-' (standard input) needs --format")
            data = sys.stdin.buffer.read(guard.limits().file_bytes + 1)
            guard.check_size("<stdin>", len(data))
            inputs.append(InputFile("<stdin>", data, fmt))
        else:
            inputs.append(InputFile(name, read_regular(name, guard.limits().file_bytes), fmt))
    return inputs


def _dry_run(state: State, inputs: list[Any], create_entities: bool, new_entities: bool) -> None:
    """Every check of the import, on the store (or an empty base), and nothing written."""
    from cfkb.io.importplan import plan_import

    kb = state.kb() if KnowledgeBase.exists(state.location) else KnowledgeBase.memory()
    plan = plan_import(kb, inputs, create_entities=create_entities, new_entities=new_entities)
    created = len(plan.entities_created)
    _echo_err(f"checked {', '.join(f.name for f in inputs)}: {len(plan.new_claims)} claim(s) would be added,"
              f" {len(set(plan.iris)) - len(plan.new_claims)} already present, {created}"
              f" entit{'y' if created == 1 else 'ies'} would be created; nothing was written")
    _echo_names(plan.entities_created, plan.name_variants, "column")


def _echo_names(created: list[tuple[str, str, str]], variants: list[tuple[str, str, str]], where: str) -> None:
    for iri, label, column in created:
        name = f"--{column.replace('_', '-')}" if where == "option" else f"column {column}"
        _echo_err(f"  created entity {label!r} <{iri}> (from {name})")
    for text, iri, how in variants:
        _echo_err(f"  {text!r} read as <{iri}> ({how})")


def _import(state: State, inputs: list[Any], create_entities: bool, verbose: bool, partner: str | None,
            new_entities: bool = False) -> None:
    from cfkb.io.importer import import_into

    if partner:
        _import_partner(state, inputs, partner, create_entities, new_entities)
        return
    try:
        with _progress_bar(sum(f.lines for f in inputs)) as bar:
            report = import_into(state.location, inputs, analyst=state.analyst, create_entities=create_entities,
                                 progress=_every(0.2, bar.update) if bar is not None else None, count_conflicts=True,
                                 new_entities=new_entities)
    except CfkbError as exc:
        details = getattr(exc, "details", [])
        if verbose and len(details) > 1:  # every problem found, not only the first
            for n, line in enumerate(details, 1):
                _echo_err(f"problem {n}/{len(details)}: {line}")
            exc.shown = True
        raise
    _echo_left_out(report)
    created = len(report.entities_created)
    _echo_err(f"imported {', '.join(report.files)}: {len(report.claims_added)} claim(s) added,"
              f" {len(report.claims_present)} already present, {created} entit{'y' if created == 1 else 'ies'}"
              " created")
    _echo_names(report.entities_created, report.name_variants, "column")
    if verbose:
        _echo_err(f"  batch <{report.batch}>")
        for iri in report.claims_added:
            _say(iri)
    if report.new_conflicts is None:
        _echo_err("new conflicts are not counted for large imports; see them with: cfkb conflicts")
    elif report.new_conflicts:
        _echo_err(f"{report.new_conflicts} new conflict(s); see them with: cfkb conflicts")
    else:
        _echo_err("no new conflicts")


def _echo_left_out(report: Any) -> None:
    from cfkb.io.dataonly import left_out_text

    if report.left_out:
        _echo_err(f"left out {left_out_text(report.left_out)} of the sending base: this base keeps its own")


def _import_partner(state: State, inputs: list[Any], partner: str, create_entities: bool,
                    new_entities: bool = False) -> None:
    from cfkb.io.importer import import_lock
    from cfkb.io.partner import import_partner

    with import_lock(state.location):
        result = import_partner(state.kb(write=True), inputs, partner=partner, analyst=state.analyst,
                                create_entities=create_entities, new_entities=new_entities)
    report = result.report
    _echo_left_out(report)
    _echo_err(f"imported {', '.join(report.files)} from {partner}: {len(report.claims_added)} claim(s) added,"
              f" {len(report.claims_present)} already present")
    if result.new_conflicts:
        _echo_err(f"{len(result.new_conflicts)} new conflict(s), {len(result.ours_vs_theirs)} between our claims"
                  " and theirs; see them with: cfkb conflicts")
    else:
        _echo_err("no new conflicts")
