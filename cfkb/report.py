"""Conflicts as RDF, for `cfkb conflicts --format turtle` and partner exchange."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyoxigraph as ox

from cfkb.export import turtle
from cfkb.model import CFKB, RDF


def conflict_triples(found: Sequence[Any]) -> list[ox.Triple]:
    """Each conflict as a cfkb:Conflict node: kind, rule, explanation, status, claims."""
    out = []
    for c in found:
        node = ox.NamedNode(c.iri)
        out += [
            ox.Triple(node, RDF.type, CFKB.Conflict),
            ox.Triple(node, CFKB.conflictKind, ox.Literal(c.kind)),
            ox.Triple(node, CFKB.rule, ox.NamedNode("https://w3id.org/cfkb/shapes#" + c.rule)),
            ox.Triple(node, CFKB.explanation, ox.Literal(c.explanation, language="en")),
            ox.Triple(node, CFKB.status, ox.Literal(c.status)),
        ]
        out += [ox.Triple(node, CFKB.involves, ox.NamedNode(v.iri)) for v in c.claims]
    return out


def conflicts_turtle(found: Sequence[Any]) -> str:
    return turtle(conflict_triples(found))
