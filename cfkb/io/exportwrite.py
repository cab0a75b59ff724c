"""Writing the export's blocks as Turtle, TriG, N-Triples and N-Quads: sorted, prefixed, the same bytes each time.

A block is one subject's (predicate, object) N-Triples strings
(:data:`cfkb.io.exportgraph.Graph`). :func:`block_order` sorts the subjects
(claims first, then the accepted view's statements and conflicts, the rest,
blank nodes); :func:`turtle_block` and :func:`nt_block` write one block with
its lines sorted; :class:`Shortener` writes terms with the prefixes where
Turtle allows. JSON-LD is :mod:`cfkb.io.exportjsonld`, the nanopublication
profile :mod:`cfkb.io.exportnanopub`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from cfkb.io.exportgraph import ACCEPTED_PREFIX, XSD_STRING, Graph, Pairs
from cfkb.io.tlp import NT_TYPE
from cfkb.model.vocabulary import CLAIM_PREFIX, CONFLICT_PREFIX, RDF, XSD

_LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CANONICAL_INTEGER = re.compile(r'^"-?(0|[1-9][0-9]*)$')


class Shortener:
    """N-Triples terms to Turtle, shortened with prefixes where that is safe."""

    def __init__(self, prefixes: dict[str, str], limit: int = 1_000_000) -> None:
        self.prefixes = [(f"<{ns}", p) for p, ns in prefixes.items()]
        self.cache: dict[str, str] = {f"<{RDF.type.value}>": "a"}
        self.limit = limit  # terms remembered at most (a streamed export keeps fewer)

    def iri(self, t: str) -> str:
        for ns, p in self.prefixes:
            if t.startswith(ns):
                local = t[len(ns):-1]
                if _LOCAL.match(local):
                    return f"{p}:{local}"
        return t

    def __call__(self, t: str) -> str:
        c = t[0]
        if c == '"' and t[-1] != ">":
            return t  # plain and language-tagged literals are the same in Turtle
        found = self.cache.get(t)
        if found is not None:
            return found
        if c == "<":
            found = self.iri(t)
        elif c == '"':
            lex, dtype = t.rsplit('"^^<', 1)
            dtype = dtype[:-1]
            if (dtype == XSD.boolean.value and lex in ('"true', '"false')
                    or dtype == XSD.integer.value and _CANONICAL_INTEGER.match(lex)):
                found = lex[1:]
            elif dtype == XSD_STRING:
                found = lex + '"'
            else:
                found = f'{lex}"^^{self.iri("<" + dtype + ">")}'
        else:
            found = t
        if len(self.cache) < self.limit:
            self.cache[t] = found
        return found


def turtle_block(subject: str, pairs: Pairs, short: Shortener, indent: str = "") -> str:
    """One subject's triples: ``s a T ;\n    p o1, o2 ;\n    q o .``"""
    joiner = " ;\n" + indent + "    "
    pairs = sorted(pairs)
    preds = [p for p, _ in pairs]
    if len(preds) == len(set(preds)):
        # one object per predicate, as in every claim: the sorted pairs are
        # the lines, the type first; terms mostly come from the cache
        get = short.cache.get
        parts = [f"{get(p) or short(p)} {get(o) or short(o)}" for p, o in pairs]
        if NT_TYPE in preds:
            parts.insert(0, parts.pop(preds.index(NT_TYPE)))
        return f"{indent}{get(subject) or short(subject)} {joiner.join(parts)} ."
    by_p: dict[str, list[str]] = {}
    for p, o in pairs:
        objs = by_p.get(p)
        if objs is None:
            by_p[p] = [o]
        else:
            objs.append(o)
    preds = sorted(by_p)
    if NT_TYPE in by_p:
        preds.remove(NT_TYPE)
        preds.insert(0, NT_TYPE)
    parts = []
    for p in preds:
        objs = by_p[p]
        # most predicates have one object: skip the set and the sort
        written = short(objs[0]) if len(objs) == 1 else ", ".join(sorted({short(o) for o in objs}))
        parts.append(f"{short(p)} {written}")
    return f"{indent}{short(subject)} {joiner.join(parts)} ."


def block_order(blocks: Graph) -> list[str]:
    """Claims first, then statements, conflicts, assessments, entities, blank nodes."""
    claims: list[str] = []
    derived: list[str] = []
    others: list[str] = []
    blank: list[str] = []
    claim, statement = "<" + CLAIM_PREFIX, ("<" + ACCEPTED_PREFIX, "<" + CONFLICT_PREFIX)
    for s in blocks:
        if s.startswith(claim):
            claims.append(s)
        elif s.startswith(statement):
            derived.append(s)
        elif s[0] == "_":
            blank.append(s)
        else:
            others.append(s)
    for section in (claims, derived, others, blank):
        section.sort()
    return claims + derived + others + blank


def nt_block(subject: str, pairs: Pairs, graph: str = "") -> str:
    """One subject's triples as sorted, distinct N-Triples (or N-Quads) lines."""
    lead = f"{subject} "
    end = f" {graph} .\n" if graph else " .\n"
    return lead + (end + lead).join([f"{p} {o}" for p, o in sorted(set(pairs))]) + end if pairs else ""


def prefix_lines(prefixes: dict[str, str]) -> str:
    return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in prefixes.items())


def nt_pieces(blocks: Iterable[tuple[str, Pairs]], header: tuple[str, Pairs] | None = None) -> Iterator[str]:
    """N-Triples of blocks given in their order, piece by piece: the header block, then each block."""
    if header:
        yield nt_block(*header)
    for s, pairs in blocks:
        yield nt_block(s, pairs)


def turtle_pieces(blocks: Iterable[tuple[str, Pairs]], prefixes: dict[str, str], *,
                  header: tuple[str, Pairs] | None = None, trig: bool = False,
                  short: Shortener | None = None) -> Iterator[str]:
    """Turtle (or TriG) of blocks given in their order, piece by piece: prefixes, the header, each block."""
    short = short or Shortener(prefixes)
    yield prefix_lines(prefixes)
    if trig:
        yield "\n{"  # the default graph, written as a graph block for every TriG reader
    if header:
        yield "\n# This export: who, when, what was asked, under which TLP ceiling.\n"
        yield turtle_block(header[0], header[1], short) + "\n"
    for s, pairs in blocks:
        if pairs:  # a subject left with no triple writes nothing ("s ." is not Turtle)
            yield "\n" + turtle_block(s, pairs, short) + "\n"
    if trig:
        yield "}\n"


def write_nt(blocks: Graph, header: tuple[str, Pairs] | None = None) -> str:
    """N-Triples (an N-Quads file of the default graph): the header block, then sorted blocks of sorted lines."""
    return "".join(nt_pieces([(s, blocks[s]) for s in block_order(blocks)], header))


def write_turtle(blocks: Graph, prefixes: dict[str, str], *, header: tuple[str, Pairs] | None = None,
                 trig: bool = False) -> str:
    """Turtle (or TriG, the same in a default graph block): prefixes, the header block, then sorted blocks."""
    return "".join(turtle_pieces([(s, blocks[s]) for s in block_order(blocks)], prefixes, header=header, trig=trig))
