"""SHACL validation with pySHACL: the reference semantics of the shapes."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from cfkb.model.vocabulary import SH_NS
from cfkb.resources import ontology_path

if TYPE_CHECKING:
    import rdflib


@dataclass(frozen=True)
class Violation:
    """One SHACL validation result, in words."""

    focus: str
    path: str | None
    value: str | None
    message: str
    severity: str
    shape: str
    constraint: str | None = None

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.focus}{where}: {self.message}"


def to_rdflib(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    """A graph (triples of every graph merged) for pySHACL and rdflib."""
    import rdflib  # here and below: pySHACL's data model, loaded only where pySHACL runs

    triples = [q.triple for q in quads]
    g = rdflib.Graph()
    if triples:
        data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        g.parse(data=data, format="nt")
    return g


@lru_cache(maxsize=8)
def load_shapes(paths: tuple[Path, ...]) -> rdflib.Graph:
    import rdflib

    g = rdflib.Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


@lru_cache(maxsize=1)
def load_ontology() -> rdflib.Graph:
    import rdflib

    return rdflib.Graph().parse(ontology_path(), format="turtle")


def run_pyshacl(data: rdflib.Graph, shapes: rdflib.Graph) -> tuple[bool, rdflib.Graph]:
    """Run pySHACL with the ontology mixed in (for rdfs:subClassOf)."""
    from pyshacl import validate

    data = data + load_ontology()
    conforms, report, _ = validate(
        data, shacl_graph=shapes, inference="none",
        advanced=True, allow_warnings=True, abort_on_first=False,
    )
    return bool(conforms), report


def violations(report: rdflib.Graph) -> list[Violation]:
    """The results of a pySHACL report graph, sorted."""
    import rdflib

    SH = rdflib.Namespace(SH_NS)
    out = []
    for r in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        v = functools.partial(_text, report, r)
        out.append(Violation(
            focus=v(SH.focusNode) or "",
            path=v(SH.resultPath),
            value=v(SH.value),
            message=v(SH.resultMessage) or "constraint violated",
            severity=(v(SH.resultSeverity) or "").rsplit("#", 1)[-1],
            shape=v(SH.sourceShape) or "",
            constraint=v(SH.sourceConstraint),
        ))
    return sorted(out, key=lambda x: (x.focus, x.path or "", x.message, x.value or ""))


def _text(report: rdflib.Graph, node: rdflib.term.Node, p: rdflib.URIRef) -> str | None:
    o = report.value(node, p)
    return None if o is None else str(o)


def validate_quads(quads: Iterable[ox.Quad], shape_paths: Iterable[Path]) -> list[Violation]:
    """pySHACL violations of the quads against the given shape files."""
    conforms, report = run_pyshacl(to_rdflib(quads), load_shapes(tuple(shape_paths)))
    return [] if conforms else [v for v in violations(report) if v.severity == "Violation"]
