"""The import's reading: every file read and its rows resolved to claims, nothing checked or written.

:func:`read_inputs` reads claim tables (:mod:`cfkb.io.tables`, resolved by
:mod:`cfkb.io.resolver`) and RDF files (parsed by :mod:`cfkb.io.rdfio`,
kept to data by :mod:`cfkb.io.dataonly`, claims read by
:mod:`cfkb.io.rdfclaims`) in order, so that a table may name the entities an
RDF file before it defines, follows merged entities to the kept ones, and
collects every problem rather than the first (:class:`Prepared`).
:func:`created_entity_quads` gives the entities an import creates their
class and label. The plan built on this is :mod:`cfkb.io.importplan`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import InputError, ParseError
from cfkb.io.batch import InputFile, Progress, raise_problems
from cfkb.io.dataonly import data_only
from cfkb.io.importcheck import COLUMN_FIELDS, Origin
from cfkb.io.rdfclaims import claims_from_quads
from cfkb.io.rdfio import RDF_FORMATS, guess_format, locate, parse_rdf
from cfkb.io.resolver import Resolver
from cfkb.io.tables import Row, read_rows
from cfkb.model.terms import RoleTypes
from cfkb.model.vocabulary import RDF, RDFS, SKOS, Claim, curie
from cfkb.store.backend import value_of
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.entities import role_types


@dataclass
class Prepared:
    """The files read and resolved (nothing checked, nothing written)."""

    claims: list[Claim]
    rest: list[ox.Quad]
    resolver: Resolver
    origins: dict[str, Origin]
    iris: list[str] = field(default_factory=list)
    #: records of the sending base the files carried, left out (decisions, conflict records), by kind
    left_out: dict[str, int] = field(default_factory=dict)
    #: problems found reading and resolving (the rows with them are left out)
    problems: list[InputError] = field(default_factory=list)


def read_inputs(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool = False,
                progress: Progress | None = None, new_entities: bool = False) -> Prepared:
    """Read and resolve every file; nothing is checked or written.

    Every problem is collected, not only the first: a bad row is left out
    and the next one read; a file that stops parsing is left there and the
    next file read. The caller raises them (see :func:`raise_problems`).
    """

    resolver = Resolver(kb.entity_index(), kb.predicates(), create=create_entities, roles=role_types(kb),
                        new=new_entities)
    try:
        return _read_inputs(kb, files, resolver, progress, new_entities)
    finally:
        if resolver.index.grown:
            # the files' names were added for this read only: the base's own index is built afresh
            kb._index = None  # noqa: SLF001


def _read_inputs(kb: KnowledgeBase, files: Sequence[InputFile], resolver: Resolver, progress: Progress | None,
                 new_entities: bool) -> Prepared:
    claims: list[Claim] = []
    iris: list[str] = []  # the claims' content-hash IRIs, computed once
    rest: list[ox.Quad] = []
    origins: dict[str, Origin] = {}
    left_out: dict[str, int] = {}
    problems: list[InputError] = []
    for f in files:
        fmt = f.format or guess_format(f.name)
        if fmt in RDF_FORMATS:
            try:
                quads = parse_rdf(f.name, f.data, fmt)
                if not f.own:
                    quads, dropped = data_only(f.name, f.data, quads)
                    for what, count in dropped.items():
                        left_out[what] = left_out.get(what, 0) + count
                file_claims, file_rest, renamed = claims_from_quads(f.name, quads)
            except InputError as exc:
                problems.append(exc)
                continue
            if resolver.index.merged:
                file_claims = [_follow_merges(c, resolver.index.merged) for c in file_claims]
            by_iri = {v: k for k, v in renamed.items()}
            for c in file_claims:
                iri = c.iri
                iris.append(iri)
                if iri not in origins:
                    origins[iri] = Origin(f.name, data=f.data, node=by_iri.get(iri), claim=c)
            claims.extend(file_claims)
            rest.extend(file_rest)
            if not new_entities:
                problems += _new_entity_clashes(resolver, f, file_rest)
            # entities the file defines can be named by the tables that follow
            resolver.index.grown = resolver.index.grown or bool(file_rest)
            for q in file_rest:
                if q.predicate in (RDFS.label, SKOS.altLabel) and isinstance(q.object, ox.Literal):
                    resolver.index.add(value_of(q.subject), q.object.value,
                                       preferred=q.predicate == RDFS.label and q.object.language in (None, "en"))
                elif q.predicate == RDF.type and isinstance(q.subject, ox.NamedNode):
                    resolver.index.types[q.subject.value].add(value_of(q.object))
            resolver.forget()
            if progress:
                progress(f.lines)
        else:
            done = 0
            try:
                for row in read_rows(f.name, f.data, fmt):
                    try:
                        claim = resolver.claim(row)
                    except InputError as exc:
                        problems.append(exc)
                        continue
                    claims.append(claim)
                    iri = claim.iri
                    iris.append(iri)
                    if iri not in origins:
                        origins[iri] = Origin(f.name, row=row, claim=claim)
                    if progress and row.line > done:
                        progress(row.line - done)
                        done = row.line
            except InputError as exc:  # the file stops parsing here
                problems.append(exc)
            if progress and f.lines > done:
                progress(f.lines - done)
    return Prepared(claims, rest, resolver, origins, iris, left_out=left_out, problems=problems)


def _new_entity_clashes(resolver: Resolver, f: InputFile, quads: list[ox.Quad]) -> list[InputError]:
    """Entities an RDF file adds whose names equal, or are close to, names of other entities in the base."""
    index, rt = resolver.index, resolver.roles
    classes = set(rt.classes) if rt is not None else set()
    types: dict[str, set[str]] = {}
    names: dict[str, list[str]] = {}
    for q in quads:
        if not isinstance(q.subject, ox.NamedNode):
            continue
        s = q.subject.value
        if s in index or s in index.merged:
            continue  # an entity the base has: the file may repeat or add to its names
        if q.predicate == RDF.type and value_of(q.object) in classes:
            types.setdefault(s, set()).add(value_of(q.object))
        elif q.predicate in (RDFS.label, SKOS.altLabel) and isinstance(q.object, ox.Literal):
            names.setdefault(s, []).append(q.object.value)
    out: list[InputError] = []
    for s, cls in types.items():
        allowed: set[str] | None = None
        if rt is not None:
            allowed = set().union(*(rt.related(c) for c in cls))
        for name in dict.fromkeys(names.get(s, ())):
            close = [m for m in index.near_duplicates(name, allowed) if m.iri != s]
            same = [m for m in index.matches(name, limit=0) if m.tier == "exact" and m.iri != s]
            close = same + [m for m in close if m.iri not in {x.iri for x in same}]
            if not close:
                continue
            line, column = locate(f.data, s)
            listed = "; ".join(f"{index.describe(m.iri)} <{m.iri}> ({m.how})" for m in close[:5])
            what = "is the name of" if same else "is close to"
            out.append(ParseError(f.name, line, column,
                                  f"new entity <{s}> named {name!r}: the name {what} {listed}; use the existing"
                                  " IRI (or state cfkb:mergedInto it), or import with --new to keep a separate"
                                  " entity"))
            break
    return out


def _follow_merges(claim: Claim, merged: dict[str, str]) -> Claim:
    """The claim with entities merged into others replaced by the kept ones."""
    changes = {}
    for name in COLUMN_FIELDS.values():
        iri = getattr(claim, name)
        if iri in merged:
            for _ in range(16):
                iri = merged.get(iri, iri)
            changes[name] = iri
    return dataclasses.replace(claim, **changes) if changes else claim


def prepare(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool = False,
            progress: Progress | None = None, new_entities: bool = False
            ) -> tuple[list[Claim], list[ox.Quad], Resolver]:
    """Read and resolve every file; nothing is written.

    Returns the claims, the other quads (entities, documents, assessments)
    and the resolver (which knows the entities it created).
    """
    p = read_inputs(kb, files, create_entities=create_entities, progress=progress, new_entities=new_entities)
    raise_problems(p.problems)
    return p.claims, p.rest, p.resolver


def created_entity_quads(kb: KnowledgeBase, resolver: Resolver, problems: list[InputError] | None = None
                         ) -> list[ox.Quad]:
    """Types and labels of the entities an import creates.

    A created entity's class is the most specific one that every role it
    has in the batch allows (each predicate's domain for a subject, range
    for an object, the column's class for a source, speaker, area...), a
    column's own class (a MediaOutlet for a source) when all roles allow it.
    When no class fits, the two rows that disagree are named: added to
    ``problems`` if given, else raised.
    """

    rt = resolver.roles if resolver.roles is not None else role_types(kb)
    quads = []
    for iri, (label, _column, _predicate) in resolver.created.items():
        uses: Mapping[tuple[str, str | None], Row | None] = resolver.uses.get(iri) or {(_column, _predicate): None}
        cls = rt.infer(uses)
        if cls is None:
            error = _type_clash(label, uses, rt)
            if problems is None:
                raise error
            problems.append(error)
            continue
        node = ox.NamedNode(iri)
        quads.append(ox.Quad(node, RDF.type, ox.NamedNode(cls)))
        quads.append(ox.Quad(node, RDFS.label, ox.Literal(label, language="en")))
    return quads


def _type_clash(label: str, uses: Mapping[tuple[str, str | None], Row | None], rt: object) -> InputError:
    """The error for a new entity whose roles need classes that no class has."""

    assert isinstance(rt, RoleTypes)
    items = list(uses.items())
    for i, ((col_a, pred_a), row_a) in enumerate(items):
        for (col_b, pred_b), row_b in items[i + 1:]:
            if rt.infer([(col_a, pred_a), (col_b, pred_b)]) is None:
                need_a, need_b = rt.required(col_a, pred_a) or "", rt.required(col_b, pred_b) or ""

                def role(col: str, pred: str | None) -> str:
                    return f"{col} of {curie(pred)}" if pred else col

                where_a = f"{row_a.path}:{row_a.line}" if row_a is not None else "?"
                message = (f"new entity {label!r} cannot be a {curie(need_b)} (as {role(col_b, pred_b)} here)"
                           f" and a {curie(need_a)} (as {role(col_a, pred_a)} at {where_a}); name an existing"
                           " entity in one of the rows, or add it first with 'cfkb entity add --type'")
                if row_b is not None:
                    return row_b.error(col_b, message)
                return InputError(message)
    return InputError(f"new entity {label!r}: no class fits all its roles; add it first with 'cfkb entity add'")
