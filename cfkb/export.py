"""Export: deterministic, prefixed, readable RDF of the base.

Turtle groups each subject's triples (a claim with its provenance together),
sorts subjects, predicates and objects, and shortens IRIs with the cfkb
prefixes, so the same base always gives the same bytes. N-Triples and
N-Quads are sorted lines. What leaves is filtered by TLP: see :func:`select_quads`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from cfkb.errors import UnknownFormatError
from cfkb.model import CFKB, ONTOLOGY_GRAPH, PREFIXES, RDF, XSD

FORMATS = ("turtle", "nt", "nq", "trig", "jsonld")
_LOCAL = re.compile(r"^[A-Za-z_][\w\-]*$")


def term_nt(term: object) -> str:
    """A term in N-Triples syntax (pyoxigraph escapes it)."""
    return str(term)


def term_ttl(term: object) -> str:
    """A term in Turtle, shortened with the cfkb prefixes where that is safe."""
    if isinstance(term, ox.NamedNode):
        iri = term.value
        if iri == RDF.type.value:
            return "a"
        for prefix, ns in PREFIXES.items():
            if iri.startswith(ns) and _LOCAL.match(iri[len(ns):]):
                return f"{prefix}:{iri[len(ns):]}"
        return str(term)
    if isinstance(term, ox.Literal):
        dtype = term.datatype.value
        if term.language or dtype == XSD_STRING:
            return str(term)
        if dtype == XSD.boolean.value and term.value in ("true", "false"):
            return term.value
        lexical = str(ox.Literal(term.value))
        return f"{lexical}^^{term_ttl(term.datatype)}"
    return str(term)


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _sort_key(term: object) -> tuple[int, str]:
    return (0 if isinstance(term, ox.NamedNode) else 1, str(term))


def _predicate_key(p: ox.NamedNode) -> tuple[int, str]:
    return (0 if p == RDF.type else 1, term_ttl(p))


def turtle(triples: Iterable[ox.Triple], header: str = "") -> str:
    """Deterministic Turtle: prefixes, then one block per subject, sorted."""
    by_subject: dict[object, dict[ox.NamedNode, list[object]]] = defaultdict(lambda: defaultdict(list))
    for t in triples:
        by_subject[t.subject][t.predicate].append(t.object)
    out = [header] if header else []
    out += [f"@prefix {p}: <{ns}> ." for p, ns in PREFIXES.items()]
    for subject in sorted(by_subject, key=_sort_key):
        preds = by_subject[subject]
        lines = []
        for p in sorted(preds, key=_predicate_key):
            objs = sorted({term_ttl(o) for o in preds[p]})
            lines.append(f"    {term_ttl(p)} {', '.join(objs)}")
        out.append("")
        out.append(f"{term_ttl(subject)}\n" + " ;\n".join(lines) + " .")
    return "\n".join(out) + "\n"


def lines(quads: Iterable[ox.Quad], *, with_graph: bool) -> str:
    """Sorted N-Triples (or N-Quads) text."""
    rows = set()
    for q in quads:
        graph = "" if isinstance(q.graph_name, ox.DefaultGraph) or not with_graph else f" {q.graph_name}"
        rows.add(f"{q.subject} {q.predicate} {q.object}{graph} .")
    return "".join(r + "\n" for r in sorted(rows))


def serialize(quads: list[ox.Quad], fmt: str, *, header: str = "") -> str:
    """The quads in a format, deterministically."""
    if fmt == "turtle":
        return turtle((q.triple for q in quads), header)
    if fmt == "nt":
        return lines(quads, with_graph=False)
    if fmt == "nq":
        return lines(quads, with_graph=True)
    raise UnknownFormatError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def data_quads(store: ox.Store) -> list[ox.Quad]:
    """Everything but the ontology graph."""
    return [q for q in store if q.graph_name != ONTOLOGY_GRAPH]


__all__ = ["serialize", "turtle", "lines", "data_quads", "FORMATS", "CFKB"]
