"""The ``cfkb`` command line: a thin click shell over the library.

Each command parses its arguments, calls the library and renders the result.
Errors are mapped to one-line messages and exit codes in one place,
:class:`~cfkb.cli.base.CfkbGroup`: 0 ok, 1 data or validation error (or
findings with ``--check``), 2 usage. The root group is in :mod:`cfkb.cli.base`;
each module beside it adds the commands of one area.
"""

from __future__ import annotations

# each module registers its commands on the root group when imported
from cfkb.cli import claims, entities, exporting, importing, query, review, serve  # noqa: F401
from cfkb.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:  # pragma: no cover
    cli(prog_name="cfkb")
