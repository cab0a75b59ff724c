"""The ``cfkb`` command line: a thin click shell over the library.

Each command parses its arguments, calls the library and renders the result.
Errors are mapped to one-line messages and exit codes in one place,
:class:`CfkbGroup`: 0 ok, 1 data or validation error (or findings with
``--check``), 2 usage.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import click
import pyoxigraph as ox

from cfkb.errors import CfkbError, InputError
from cfkb.io.output import csv_rows, safe_results, terminal_text
from cfkb.store.core import KnowledgeBase
from cfkb.version import __version__

DEFAULT_STORE = "cfkb.store"


class State:
    """What every command needs: where the store is, who is working, how to fail."""

    def __init__(self, store: str, analyst: str, debug: bool) -> None:
        self.store_path = store
        self.analyst = analyst
        self.debug = debug
        self._kb: KnowledgeBase | None = None

    @property
    def location(self) -> Any:
        """The store directory, or a server URL with its settings from the environment."""
        from cfkb.store.remote import parse_location

        return parse_location(self.store_path, os.environ)

    def kb(self, *, write: bool = False) -> KnowledgeBase:
        if self._kb is None:
            self._kb = KnowledgeBase.open(self.location, write=write)
            click.get_current_context().call_on_close(self._kb.close)
        return self._kb


pass_state = click.make_pass_decorator(State)


class _Notice(logging.Handler):
    """The library's notices (``cfkb.*`` loggers, warning and up) as one line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"cfkb: {terminal_text(record.getMessage())}", err=True)


def _notices_to_stderr() -> None:
    logger = logging.getLogger("cfkb")
    if not any(isinstance(h, _Notice) for h in logger.handlers):
        logger.addHandler(_Notice(logging.WARNING))
    from cfkb.engine import on_progress

    on_progress(_table_progress if sys.stderr.isatty() else None)


def _table_progress(done: int, total: int) -> None:
    """The making of the claim table from the graph, as a line on the terminal that fills up."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    click.echo(f"\rclaim table from the graph [{'#' * filled}{'-' * (width - filled)}] {done}/{total}{end}",
               err=True, nl=False)


class CfkbGroup(click.Group):
    """Turns library errors into one-line messages; the only place that does."""

    def invoke(self, ctx: click.Context) -> Any:
        _notices_to_stderr()
        try:
            return super().invoke(ctx)
        except CfkbError as exc:
            _echo_problems(exc)
            raise click.ClickException(terminal_text(str(exc))) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            sys.stderr.close()
            raise click.exceptions.Exit(0) from None
        except Exception as exc:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            raise click.ClickException(
                f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
            ) from exc


def _echo_err(message: str) -> None:
    click.echo(terminal_text(message), err=True)


def _say(text: str, nl: bool = True) -> None:
    """Print text for a reader at a terminal: control and bidi-override characters escaped."""
    click.echo(terminal_text(text), nl=nl)


def _echo_problems(exc: BaseException) -> None:
    """Every problem an error lists, one line each (the error's own line comes last)."""
    details = getattr(exc, "details", None)
    if not details or len(details) < 2 or getattr(exc, "shown", False):
        return
    for line in details:
        _echo_err(line)
    count = getattr(exc, "count", len(details))
    if count > len(details):
        _echo_err(f"... and {count - len(details)} more problem(s) not listed")
    _echo_err(f"{count} problem(s); nothing was written")


def _read_name(kb: KnowledgeBase, name: str, allowed: set[str] | None = None) -> str:
    """The entity a name given to a read means; a looser match is taken only when it is the
    only one, and the note says what it matched and how."""
    match = kb.entity_index().lookup(name, allowed, accept="suggestion")
    if match.tier != "exact":
        _echo_err("note: " + match.note(name))
    return match.iri


@click.group(cls=CfkbGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", envvar="CFKB_STORE", default=DEFAULT_STORE, show_default=True, metavar="PATH|URL",
              help="The store directory, or the URL of a SPARQL server (or set CFKB_STORE); "
                   "server credentials come from CFKB_REMOTE_USER/CFKB_REMOTE_PASSWORD, CFKB_REMOTE_TOKEN "
                   "or ~/.config/cfkb/remote.toml.")
@click.option("--analyst", envvar="CFKB_ANALYST", default=None, metavar="NAME",
              help="Who is working, recorded with imports and assessments (or set CFKB_ANALYST; "
                   "default: your login name).")
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.version_option(__version__, prog_name="cfkb")
@click.pass_context
def cli(ctx: click.Context, store: str, analyst: str | None, debug: bool) -> None:
    """cfkb: a claims-and-sources knowledge base.

    Every statement is a claim: an RDF triple with who said it, where, when,
    in which words and which document reported it. cfkb finds the claims
    that contradict each other and explains why.

    \b
    Start:
      cfkb init                 create ./cfkb.store with the bundled corpus
      cfkb conflicts            contradictory claims, explained
      cfkb query --list         the named queries
      cfkb export -o base.ttl   Turtle for partners
    """
    ctx.obj = State(store, analyst or _login(), debug)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "analyst"


# -- init ------------------------------------------------------------------

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
    from cfkb.io.importer import plan_import

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
    from cfkb.io.rdfio import left_out_text

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


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


#: Inputs smaller than this many lines import too fast to need a progress bar.
PROGRESS_MIN_LINES = 20_000


def _every(seconds: float, update: Any) -> Any:
    """``update`` called with the lines counted, at most once per ``seconds`` (a terminal redraw each)."""
    pending, last = 0, time.monotonic()

    def progress(lines: int) -> None:
        nonlocal pending, last
        pending += lines
        now = time.monotonic()
        if now - last >= seconds:
            update(pending)
            pending, last = 0, now

    return progress


def _progress_bar(total_lines: int) -> Any:
    """A progress bar on stderr, counting input lines, when stderr is a terminal."""
    if total_lines >= PROGRESS_MIN_LINES and sys.stderr.isatty():
        start = time.monotonic()

        def rate(_item: object) -> str:
            elapsed = time.monotonic() - start
            return f"{bar.pos / elapsed:,.0f} rows/s" if elapsed > 0.5 and bar.pos else ""

        bar = click.progressbar(length=total_lines, label="importing", file=sys.stderr, show_pos=True,
                                show_eta=True, item_show_func=rate)
        return bar
    return _NoBar()


# -- claims ----------------------------------------------------------------

def _tlp_level(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A TLP level typed on the command line, or a usage error."""
    from cfkb.io.tlp import normalise

    if value is None:
        return None
    try:
        return normalise(value)
    except InputError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _claim_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD", ctx=ctx, param=param) from None


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
    import yaml

    from cfkb.io.batch import InputFile
    from cfkb.io.importer import import_into

    row = {("object" if k == "obj" else k): v for k, v in values.items() if v not in (None, False)}
    if values["negated"]:
        row["negated"] = "true"
    if row.get("reliability"):
        row["reliability"] = row["reliability"].upper()
    if row.get("credibility") is not None:
        row["credibility"] = str(row["credibility"])
    data = yaml.safe_dump([row], allow_unicode=True).encode("utf-8")
    try:
        report = import_into(state.location, [InputFile(_COMMAND_LINE, data, "yaml")], analyst=state.analyst,
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


def _parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; write YYYY-MM-DD", param_hint=option) from None


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

@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "yaml", "turtle", "trig", "jsonld", "nt", "nq"]),
              help="The file's format (default: from its extension).")
@click.option("--repair", is_flag=True, help="Drop damaged values of the base's own state (its generation).")
@click.option("--create-entities", is_flag=True, help="Check FILE as 'import --create-entities' would.")
@click.option("--new", "new_entities", is_flag=True, help="Check FILE as 'import --create-entities --new' would.")
@pass_state
def validate(state: State, file: str | None, fmt: str | None, create_entities: bool, new_entities: bool,
             repair: bool) -> None:
    """Check the base against the SHACL data-quality shapes and its own settings and state,
    or a file as its import would.

    A FILE gets exactly the import's checks (names, types, values, shapes)
    against the base, and nothing is written: the same as 'cfkb import
    --dry-run FILE'. Exit status 1 when there are problems.

    \b
    Example:
      cfkb validate
      cfkb validate partner.ttl
      cfkb validate --repair
      cfkb validate --create-entities new-claims.csv
    """
    from cfkb.resources import shapes_dir
    from cfkb.shacl.validate import validate_quads

    if file:
        _dry_run(state, _read_inputs((file,), fmt), create_entities, new_entities)
        _echo_err(f"{file}: conforms")
        return
    from cfkb.io.export import data_quads

    kb = state.kb(write=repair) if KnowledgeBase.exists(state.location) else KnowledgeBase.memory()
    quads = data_quads(kb.store)  # type: ignore[arg-type]  # export.data_quads reads any Backend
    found = validate_quads(quads, [shapes_dir() / "claims.ttl"])
    for v in found:
        _say(f"{v.focus}: {v.message}" + (f" [{v.value}]" if v.value else ""))
    problems: list[str] = []
    if KnowledgeBase.exists(state.location):
        from cfkb.io.tlp import setting_problems

        if repair:
            dropped = kb.repair_state()
            _echo_err(f"dropped {dropped} damaged generation value(s)")
        problems = setting_problems(kb)
        for line in problems:
            _say(f"{state.store_path}: {line}")
    target = state.store_path
    if found or problems:
        _echo_err(f"{target}: {len(found)} violation(s)" + (f", {len(problems)} problem(s) with the base's"
                                                            " settings or state" if problems else ""))
        raise click.exceptions.Exit(1)
    _echo_err(f"{target}: conforms")


# -- query -----------------------------------------------------------------

@cli.command()
@click.argument("spec", required=False, metavar="[NAME | FILE.rq]")
@click.option("-e", "--expression", "text", metavar="SPARQL", help="A query given on the command line.")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind a query parameter (repeatable); entity names are resolved.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "tsv"]), default="table",
              show_default=True)
@click.option("--as-of", "as_of", help="Run against the base as claimed by this date.")
@click.option("--list", "list_", is_flag=True, help="List the named queries and their parameters.")
@click.option("--timeout", type=click.FloatRange(0.01, 86400), default=None, metavar="S",
              help="Stop the query after S seconds (it runs in a separate process that is killed at the limit).")
@pass_state
def query(state: State, spec: str | None, text: str | None, params: tuple[str, ...], fmt: str,
          as_of: str | None, list_: bool, timeout: float | None) -> None:
    """Run a named query, a .rq file or a query given with -e.

    Parameters are bound as values, never pasted into the query text.
    The table shows CURIEs; json is SPARQL 1.1 Results JSON.

    \b
    Example:
      cfkb query --list
      cfkb query claims_about --param entity=Hoquq
      cfkb query -e 'SELECT (COUNT(*) AS ?n) WHERE { ?c a cfkb:Claim }' --format csv
      cfkb query -e 'SELECT * WHERE { ?l rdf:rest* ?x }' --timeout 30
    """
    from cfkb.workflow import queries

    if list_:
        for q in queries.library().values():
            ps = " ".join(f"--param {p.name}=<{p.type}>" for p in q.params)
            click.echo(f"{q.name:<16} {q.summary}" + (f"\n{'':<16} {ps}" if ps else ""))
        return
    if bool(spec) == bool(text):
        raise click.UsageError("give a query NAME, a FILE.rq, or -e TEXT (one of them)")
    nq = queries.NamedQuery.parse("-e", text) if text else queries.load(spec or "")
    queries.check_safe(nq.text, nq.name)
    values = {}
    for p in params:
        if "=" not in p:
            raise click.BadParameter(f"{p!r} is not NAME=VALUE", param_hint="--param")
        k, v = p.split("=", 1)
        values[k.strip()] = v
    declared = [p.name for p in nq.params]
    unknown = [k for k in values if declared and k not in declared]
    if unknown:
        raise click.BadParameter(f"query {nq.name} has no parameter {unknown[0]!r}; it takes {', '.join(declared)}",
                                 param_hint="--param")
    missing = [k for k in declared if k not in values]
    if missing:
        raise click.UsageError(f"query {nq.name} needs " + " ".join(f"--param {k}=VALUE" for k in missing))
    kb = state.kb()
    bound = queries.bind(nq, values, kb.entity_index())
    if as_of:
        from cfkb.workflow.conflicts import view_as_of

        kb = view_as_of(kb, _parse_date(as_of, "--as-of"))
    if timeout is not None:
        _query_with_timeout(kb, nq.text, bound, fmt, timeout)
        return
    _render_results(queries.run(kb, nq.text, bound, nq.name), fmt)


def _query_with_timeout(kb: KnowledgeBase, text: str, bound: dict[str, Any], fmt: str, timeout: float) -> None:
    from cfkb.server.executor import QueryJob, make_runner

    runner = make_runner(kb, 1)
    try:
        outcome = runner.run(QueryJob.make(text, "json" if fmt == "table" else fmt, 10**15, bound), timeout)
    finally:
        runner.close()
    if fmt != "table" or outcome.form == "graph":
        click.echo(outcome.body.decode("utf-8"), nl=False)
        return
    _render_results(ox.parse_query_results(outcome.body, format=ox.QueryResultsFormat.JSON), fmt)


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
    from cfkb.io.export import TLP_LICENSE, ExportOptions, export_base

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
    result = export_base(state.kb(), options)
    _write_output(result.text, output)
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


def _write_output(text: str, output: str | None) -> None:
    if output is None:
        # on a terminal, escape sequences in quoted text are shown, not obeyed; a pipe gets the exact text
        click.echo(terminal_text(text) if sys.stdout.isatty() else text, nl=False)
        return
    from cfkb.store.files import write_regular

    write_regular(output, text.encode("utf-8"))
    _echo_err(f"wrote {output}")


# -- entities and sources -----------------------------------------------------

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
    from cfkb.workflow.decisions import grade_claim

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
    from cfkb.workflow.conflicts import claim_view
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
    from cfkb.workflow.decisions import rate_source

    kb = state.kb(write=True)
    iri = kb.entity_index().resolve(name)
    rate_source(kb, iri, reliability, analyst=state.analyst)
    _say(f"{kb.entity_index().label(iri)}: reliability {reliability.upper()}")


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
    _say(f"{kb.entity_index().label(iri)}  <{iri}>")
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

    from cfkb.workflow.decisions import source_records

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

# -- serve -----------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; anything but loopback lets others read the base.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests naming this host (repeatable); by default only the bind address"
                   " and, on loopback, loopback names (against DNS rebinding).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--read-only/--writable", "read_only", default=True, show_default=True,
              help="--writable opens the store for writing (holding its lock) and shows flag/resolve buttons.")
@click.option("--query-timeout", default=10.0, show_default=True, type=click.FloatRange(0.01, 3600), metavar="S",
              help="Seconds a SPARQL query may run before the answer is 503.")
@click.option("--row-limit", default=10_000, show_default=True, type=click.IntRange(1, 10_000_000), metavar="N",
              help="The most rows (or triples) one answer holds; longer answers are cut and say so.")
@click.option("--workers", default=None, type=click.IntRange(1, 64), metavar="N",
              help="Query worker processes (default: 2 to 4, by CPU count).")
@click.option("--cache-mb", default=64, show_default=True, type=click.IntRange(0, 100_000), metavar="MB",
              help="Read-only servers keep query answers up to this size (0: none); a --writable one keeps none.")
@click.option("--prefill/--no-prefill", default=True, show_default=True,
              help="A read-only server computes the first page of the named queries without parameters"
                   " (entities, lists per area, sources) before it answers, for up to --query-timeout.")
@click.option("--get", "get_path", metavar="PATH",
              help="Answer one GET request in-process, print the body and exit (0 only on HTTP 200).")
@click.option("--tlp", "ceiling", default=None, metavar="LEVEL",
              type=click.Choice(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"], case_sensitive=False),
              help="Serve only what an export at this TLP ceiling carries (pages, SPARQL, downloads), for a"
                   " server colleagues or partners can reach; read-only. TLP:RED is never served with it.")
@pass_state
def serve(state: State, host: str, allow_hosts: tuple[str, ...], port: int, read_only: bool, query_timeout: float,
          row_limit: int, workers: int | None, cache_mb: int, prefill: bool, get_path: str | None,
          ceiling: str | None) -> None:
    """Serve the SPARQL 1.1 endpoint (/sparql) and the web pages.

    Pages: conflicts (/), entities, sources, claims, a graph of who runs
    with whom where (/graph), a link chart around any entity (/chart, its
    data as JSON at /chart.json), a SPARQL editor with the named queries
    (/query) and search by any name. The endpoint refuses updates,
    SERVICE, LOAD and FROM, and bounds query time and answer size.

    \b
    Without --tlp the server shows the whole base, TLP:RED included, to
    whoever can reach it; with --tlp LEVEL it serves a copy holding only what
    an export at that ceiling carries, so no page, answer or download can
    show more.

    \b
    Example:
      cfkb serve
      cfkb serve --writable --port 8080
      cfkb serve --tlp GREEN --host 0.0.0.0 --allow-host kb.example.org
      cfkb serve --get '/sparql?query=ASK%7B%7D'
    """
    from cfkb.server.app import close, create_app, get
    from cfkb.server.hosts import HostPolicy, is_loopback

    policy = HostPolicy.for_bind(host, allow_hosts)
    loopback = is_loopback(host)
    if ceiling is not None and not read_only:
        raise click.UsageError("--tlp serves a released copy of the base, which cannot be written; drop --writable")
    kb = state.kb(write=not read_only)
    if ceiling is not None:
        import tempfile

        from cfkb.io.report import released_copy

        where = tempfile.mkdtemp(prefix="cfkb-released-")
        click.get_current_context().call_on_close(lambda: shutil.rmtree(where, ignore_errors=True))
        released = released_copy(kb, ceiling.upper(), Path(where) / "released.store")
        click.get_current_context().call_on_close(released.kb.close)
        _echo_err(f"serving TLP:{released.ceiling} and below: {released.claims} claim(s),"
                  f" {released.withheld} withheld")
        kb = released.kb
    app = create_app(kb, read_only=read_only, query_timeout=query_timeout, row_limit=row_limit, workers=workers,
                     analyst=state.analyst, cache_bytes=cache_mb * 1024 * 1024, prefill=prefill and get_path is None,
                     allowed_hosts=None if get_path is not None else policy)
    if get_path is not None:
        try:
            status, _, body = get(app, get_path)
        finally:
            close(app)
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        if status != 200:
            _echo_err(f"HTTP {status}")
            raise click.exceptions.Exit(1)
        return
    import uvicorn

    if not loopback:
        _echo_err(f"warning: listening on {host}: anyone who can reach this machine can read the base")
        if not allow_hosts:
            _echo_err("only requests naming the bind address (or loopback) are answered; name this machine's"
                      " other names with --allow-host")
    from cfkb.store import sandbox

    if not sandbox.available():
        _echo_err("warning: this platform has no network filter for query workers (Linux on x86-64 or AArch64"
                  " has); SERVICE and the like are refused by the query check alone")
    _echo_err(f"cfkb: serving {state.store_path} ({'read-only' if read_only else 'writable'})"
              f" at http://{'[' + host + ']' if ':' in host else host}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def main() -> None:  # pragma: no cover
    cli(prog_name="cfkb")
