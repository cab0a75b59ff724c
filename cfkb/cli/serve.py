"""``cfkb serve``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from cfkb.cli.base import State, _echo_err, cli, pass_state

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
