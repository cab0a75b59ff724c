"""Where the shipped declarative files live.

In a wheel the top-level ``ontology/``, ``shapes/`` and ``data/`` folders are
packed under ``cfkb/_data/``; in a source checkout they sit beside the
package. Code finds them only through this module, never relative to the
current directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _top(name: str) -> Path:
    packed = _PACKAGE / "_data" / name
    if packed.is_dir():
        return packed
    return _PACKAGE.parent / name


def ontology_path() -> Path:
    """The cfkb ontology (Turtle)."""
    return _top("ontology") / "cfkb.ttl"


def shapes_dir() -> Path:
    """The folder of SHACL shape files."""
    return _top("shapes")


def shape_files() -> list[Path]:
    """Every SHACL shape file, in a stable order."""
    return sorted(shapes_dir().glob("*.ttl"))


def data_dir() -> Path:
    """The bundled seed corpus."""
    return _top("data")


def queries_dir() -> Path:
    """The library of named SPARQL queries."""
    return _PACKAGE / "queries"


def jsonld_context_path() -> Path:
    """cfkb's JSON-LD context, used in place of https://w3id.org/cfkb/context.jsonld."""
    return _PACKAGE / "context.jsonld"


def rule_sql_files() -> list[Path]:
    """The executable (SQL) form of every conflict rule, beside the shapes."""
    return sorted(shapes_dir().glob("*.sql"))
