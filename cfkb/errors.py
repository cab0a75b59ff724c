"""The one exception hierarchy of cfkb.

Library code raises these; the CLI turns each into a one-line message and an
exit code, the web layer into an HTTP status. Nothing here imports cfkb.
"""

from __future__ import annotations

from collections.abc import Sequence


class CfkbError(Exception):
    """Base of every error cfkb raises on purpose."""

    #: HTTP status the web layer answers with.
    http_status = 500
    #: the lines of the error's ``details``, if it has any, are already on the screen
    shown = False


class InputError(CfkbError):
    """Bad input: a file, a table cell, a command-line value."""

    http_status = 400


class ParseError(InputError):
    """Input that does not parse, with its location.

    >>> str(ParseError("claims.ttl", 12, 7, "expected '.' after object"))
    "claims.ttl:12:7: expected '.' after object"
    """

    def __init__(self, path: str, line: int | None, column: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        # one line, always: parsers' messages may quote the newline they choked on
        self.message = " ".join(message.replace("\r", "\\r").split("\n")).strip()
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class UnknownFormatError(InputError):
    """A file format cfkb does not read or write."""


class UnknownNameError(InputError):
    """A name that matches no entity (or predicate), with the closest suggestions."""

    def __init__(self, name: str, suggestions: Sequence[str] = (), kind: str = "entity",
                 explained: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        #: each suggestion's types and how it matched, in the order of ``suggestions``
        self.explained = list(explained)
        msg = f"unknown {kind} {name!r}"
        if self.suggestions:
            why = self.explained if len(self.explained) == len(self.suggestions) else [""] * len(self.suggestions)
            msg += "; did you mean " + ", ".join(repr(s) + (f" [{w}]" if w else "")
                                                 for s, w in zip(self.suggestions, why, strict=False)) + "?"
        if kind == "entity":
            msg += " (add it with 'cfkb entity add' or import with --create-entities)"
        super().__init__(msg)


class AmbiguousNameError(InputError):
    """A name that matches more than one entity: never a silent pick."""

    def __init__(self, name: str, candidates: Sequence[tuple[str, str]]) -> None:
        self.name = name
        self.candidates = list(candidates)
        listed = "; ".join(f"{label} <{iri}>" for iri, label in self.candidates)
        super().__init__(
            f"ambiguous name {name!r} matches {len(self.candidates)} entities: {listed};"
            " use a cfid: CURIE or the full IRI"
        )


class ProblemsError(InputError):
    """Every problem found in the input, one ``file:line:column: what; how to fix`` line each.

    ``details`` holds the first :data:`MAX_PROBLEMS` lines, ``count`` how
    many problems there were in all.
    """

    MAX_PROBLEMS = 100

    def __init__(self, problems: Sequence[str], count: int | None = None) -> None:
        self.count = count if count is not None else len(problems)
        self.details = list(problems)[: self.MAX_PROBLEMS]
        more = f" (and {self.count - 1} more problem(s))" if self.count > 1 else ""
        super().__init__(f"{self.details[0] if self.details else 'the input has problems'}{more}")


class ShapeError(InputError):
    """Data that violates the SHACL shapes, with a link to the rule.

    When the offending claim came from a file, ``path``, ``line`` and
    ``column`` say where, as for :class:`ParseError`.

    >>> str(ShapeError("date is not a date", path="claims.csv", line=3, column=40))
    'claims.csv:3:40: date is not a date'
    """

    def __init__(self, message: str, link: str | None = None, *, path: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.link = link
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        #: every violation found, one line each (``import --verbose`` prints them)
        self.details: list[str] = []
        where = ""
        if path is not None:
            where = path + "".join(f":{n}" for n in (line, column if line is not None else None) if n is not None)
            where += ": "
        super().__init__(where + message + (f" (see {link})" if link else ""))


class ProtectedDataError(InputError):
    """An imported file that writes the base's own graphs, settings or records.

    ``details`` holds one line per offending quad (file, line and column where
    known, and the IRI); the message shows the first :attr:`SHOWN` of them.
    """

    SHOWN = 20

    def __init__(self, problems: Sequence[str]) -> None:
        self.details = list(problems)
        #: the message lists the lines itself: they are not printed again one by one
        self.shown = True
        shown = self.details[: self.SHOWN]
        more = len(self.details) - len(shown)
        tail = [f"... and {more} more quad(s) like these (import --verbose lists them)"] if more > 0 else []
        super().__init__("\n".join(shown + tail))


class QueryError(CfkbError):
    """A SPARQL query that is malformed, forbidden or missing a parameter."""

    http_status = 400

    def __init__(self, message: str, name: str | None = None) -> None:
        self.name = name
        super().__init__(f"query {name}: {message}" if name else message)


class QueryTimeoutError(QueryError):
    """A query stopped at its time limit."""

    http_status = 503


class QueryRefusedError(QueryError):
    """A well-formed request cfkb will not run: an update, SERVICE, LOAD, FROM."""

    http_status = 403


class ForbiddenError(CfkbError):
    """An action this server does not allow: writing to a read-only server, a cross-site form."""

    http_status = 403


class NotAcceptableError(CfkbError):
    """No result format the client accepts (HTTP content negotiation)."""

    http_status = 406


class NotFoundError(CfkbError):
    """A claim, conflict, source or entity ID that is not in the base."""

    http_status = 404


class StoreError(CfkbError):
    """The store cannot be opened or written."""

    http_status = 503


class StoreMissingError(StoreError):
    """No store at the given path."""


class StoreExistsError(StoreError):
    """`init` on a path that already holds a store."""


class StoreLockedError(StoreError):
    """Another process holds the store for writing."""


class RemoteError(StoreError):
    """A remote SPARQL server failed, or answered something cfkb cannot use."""


class RemoteUnreachableError(RemoteError):
    """A remote SPARQL server cannot be reached (refused, unknown host, TLS)."""


class RemoteAuthError(RemoteError):
    """A remote SPARQL server refused the credentials (HTTP 401 or 403)."""


def one_line(exc: BaseException) -> str:
    """An error's text on one line, for a message of cfkb's own that quotes it
    (a library's message may span several).

    >>> one_line(OSError("No space\\n  left"))
    'No space left'
    """
    return " ".join(str(exc).split())
