"""The root group, its state object, the one place errors become messages, and small helpers
the commands share (names, dates, TLP levels, writing a file atomically)."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import sys
from typing import Any

import click

from cfkb.errors import CfkbError, InputError
from cfkb.io.output import terminal_text
from cfkb.store.core import KnowledgeBase
from cfkb.store.location import names_server
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
        if not names_server(self.store_path):
            return self.store_path  # the remote client is loaded for a server only
        from cfkb.store.remotesettings import parse_location

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
    match = kb.entity_match(name, allowed, accept="suggestion")
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


def _parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; write YYYY-MM-DD", param_hint=option) from None


def _write_output(text: str, output: str | None) -> None:
    if output is None:
        # on a terminal, escape sequences in quoted text are shown, not obeyed; a pipe gets the exact text
        click.echo(terminal_text(text) if sys.stdout.isatty() else text, nl=False)
        return
    from cfkb.store.files import write_regular

    write_regular(output, text.encode("utf-8"))
    _echo_err(f"wrote {output}")


# -- entities and sources -----------------------------------------------------
