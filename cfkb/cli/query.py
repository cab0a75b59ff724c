"""``cfkb validate`` and ``cfkb query``."""

from __future__ import annotations

from typing import Any

import click
import pyoxigraph as ox

from cfkb.cli.base import State, _echo_err, _parse_date, _say, cli, pass_state
from cfkb.cli.importing import _dry_run, _read_inputs
from cfkb.cli.render import _render_results
from cfkb.store.core import KnowledgeBase


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
@click.option("--limit", type=click.IntRange(min=0), default=None, metavar="N",
              help="Show at most N rows (a page); how many there are in all goes to stderr.")
@click.option("--offset", type=click.IntRange(min=0), default=0, metavar="N", help="Skip the first N rows.")
@pass_state
def query(state: State, spec: str | None, text: str | None, params: tuple[str, ...], fmt: str,
          as_of: str | None, list_: bool, timeout: float | None, limit: int | None, offset: int) -> None:
    """Run a named query, a .rq file or a query given with -e.

    Parameters are bound as values, never pasted into the query text.
    The table shows CURIEs; json is SPARQL 1.1 Results JSON. With --limit
    or --offset a page of the answer is shown (rows, or a CONSTRUCT's
    triples), and 'rows 1-50 of 1234' goes to stderr, so the page itself
    stays valid JSON or CSV.

    \b
    Example:
      cfkb query --list
      cfkb query claims_about --param entity=Hoquq
      cfkb query claims_about --param entity=Hoquq --limit 50 --offset 50
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
    bound = queries.bind(nq, values, kb.resolve_entity)
    if as_of:
        from cfkb.workflow.conflicts import view_as_of

        kb = view_as_of(kb, _parse_date(as_of, "--as-of"))
    paged = limit is not None or offset > 0
    if timeout is not None and not paged:
        _query_with_timeout(kb, nq.text, bound, fmt, timeout)
        return
    if timeout is not None:
        answer, total = _page_with_timeout(kb, nq.text, bound, timeout, limit, offset)
    else:
        answer, total = queries.run_page(kb, nq.text, bound, nq.name, limit=limit, offset=offset)
    _render_results(answer, fmt)
    if paged and total is not None:
        shown = len(answer) if isinstance(answer, list) else None
        if shown is None:  # a SELECT's page: what is left past the offset, up to the limit
            shown = max(0, min(total - offset, total if limit is None else limit))
        rows = f"row {offset + 1}" if shown == 1 else f"rows {offset + 1}-{offset + shown}" if shown else "rows: none"
        _echo_err(f"{rows} of {total}")


def _query_with_timeout(kb: KnowledgeBase, text: str, bound: dict[str, Any], fmt: str, timeout: float) -> None:
    from cfkb.server.executor import make_runner
    from cfkb.server.jobs import QueryJob

    runner = make_runner(kb, 1)
    try:
        outcome = runner.run(QueryJob.make(text, "json" if fmt == "table" else fmt, 10**15, bound), timeout)
    finally:
        runner.close()
    if fmt != "table" or outcome.form == "graph":
        click.echo(outcome.body.decode("utf-8"), nl=False)
        return
    _render_results(ox.parse_query_results(outcome.body, format=ox.QueryResultsFormat.JSON), fmt)


def _page_with_timeout(kb: KnowledgeBase, text: str, bound: dict[str, Any], timeout: float, limit: int | None,
                       offset: int) -> tuple[Any, int | None]:
    """A page of the answer of a query run in a process of its own, stopped at ``timeout``."""
    from cfkb.server.executor import make_runner
    from cfkb.server.jobs import QueryJob
    from cfkb.workflow import queries

    runner = make_runner(kb, 1)
    try:
        outcome = runner.run(QueryJob.make(text, "json", 10**15, bound), timeout)  # a graph comes as Turtle
    finally:
        runner.close()
    if outcome.form == "ask":
        return ox.parse_query_results(outcome.body, format=ox.QueryResultsFormat.JSON), None
    return queries.page_of(outcome.form, outcome.body, limit=limit, offset=offset,
                           graph_format=ox.RdfFormat.TURTLE)
