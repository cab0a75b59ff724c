"""Import: claim tables and RDF files in, all or nothing.

Every file of one call is read, resolved and SHACL-checked before anything is
written; then one :meth:`~cfkb.store.core.KnowledgeBase.write_many` adds it all
(a transaction, or for a big batch the journalled bulk load). On any error
the store is as it was. Each call is recorded as a PROV activity (an import batch) that every
new claim points to.

:func:`import_into` is the on-disk protocol the CLI uses: it takes the
store's import lock, plans the import on a *read-only* view (so a rejected
import never opens the database for writing and leaves every file of the
store byte for byte as it was), and only then opens the store for writing to
commit. :func:`import_files` does plan and commit on a base already open.
Claim tables imported into an on-disk store without creating entities are
planned in fixed-size chunks (:mod:`cfkb.io.importstream`), so memory does not
grow with the file; the checks, errors and commit are the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from cfkb.errors import InputError, ParseError, ShapeError, StoreLockedError
from cfkb.io.batch import (
    ImportReport,
    InputFile,
    Progress,
    batch_iri,
    batch_quads,
    claim_text,
    now,
    raise_problems,
)
from cfkb.io.importcheck import COLUMN_FIELDS, Origin, check_shapes
from cfkb.io.importstream import StreamPlan, commit_stream, plan_stream, streams
from cfkb.io.rdfio import RDF_FORMATS, claims_from_quads, data_only, guess_format, locate, parse_rdf
from cfkb.io.resolver import Resolver
from cfkb.io.tables import Row, read_rows
from cfkb.io.tlp import default_level
from cfkb.model.terms import RoleTypes
from cfkb.model.vocabulary import (
    CFKB,
    RDF,
    RDFS,
    SKOS,
    Claim,
    curie,
    tlp_term,
)
from cfkb.resources import data_dir
from cfkb.store.backend import value_of
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase
from cfkb.store.location import MARKER, Location
from cfkb.store.remotesettings import RemoteSettings, is_remote
from cfkb.workflow.entities import role_types

#: Which class a created entity gets, by the column that named it.
_COLUMN_TYPES = {"source": "MediaOutlet", "cited_in": "Document", "speaker": "Person", "area": "Province",
                 "election": "Election"}


@dataclass
class Plan:
    """An import read, resolved and checked, ready to commit."""

    files: list[InputFile]
    claims: list[Claim]
    iris: list[str]
    #: the claims to add (not in the base when planned), by IRI, in file order
    new_claims: dict[str, Claim]
    rest: list[ox.Quad]
    created: list[ox.Quad]
    entities_created: list[tuple[str, str, str]]
    origins: dict[str, Origin]
    left_out: dict[str, int] = field(default_factory=dict)
    #: names taken as transliteration variants: (cell text, IRI, how)
    name_variants: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def claim_quads(self) -> dict[str, list[ox.Quad]]:
        """The quads of each claim to add (made on demand: a commit writes them as text)."""
        return {iri: claim.quad_list(iri=iri) for iri, claim in self.new_claims.items()}


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


def plan_import(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool = False,
                validate: bool = True, progress: Progress | None = None, new_entities: bool = False) -> Plan:
    """Read, resolve and SHACL-check the files against ``kb`` (read-only is enough).

    Raises:
        InputError: a file does not parse, names an unknown entity, or
            violates the shapes (with the file, line and column of the row).
    """
    with collector_paused():
        return _plan_import(kb, files, create_entities=create_entities, validate=validate, progress=progress,
                            new_entities=new_entities)


def _plan_import(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool, validate: bool,
                 progress: Progress | None, new_entities: bool = False) -> Plan:
    prepared = read_inputs(kb, files, create_entities=create_entities, progress=progress,
                           new_entities=new_entities)
    problems = prepared.problems
    created = created_entity_quads(kb, prepared.resolver, problems)
    new_claims: dict[str, Claim] = {}
    present = kb.claims_present(dict.fromkeys(prepared.iris))
    for iri, claim in zip(prepared.iris, prepared.claims, strict=True):
        if iri not in new_claims and iri not in present:
            new_claims[iri] = claim
    plan = Plan(
        files=list(files),
        claims=prepared.claims,
        iris=prepared.iris,
        new_claims=new_claims,
        rest=prepared.rest,
        created=created,
        entities_created=[(iri, lbl, col) for iri, (lbl, col, _) in prepared.resolver.created.items()],
        origins=prepared.origins,
        left_out=prepared.left_out,
        name_variants=[(text, iri, how) for (text, iri), how in prepared.resolver.variants.items()],
    )
    if validate and (new_claims or prepared.rest):
        try:
            check_shapes(kb, created + prepared.rest, prepared.origins, records=list(new_claims.items()))
        except ShapeError as exc:
            problems.append(exc)
    raise_problems(problems)
    plan.rest = plan.rest + markings_kept(kb, plan.rest)
    return plan


def markings_kept(kb: KnowledgeBase, quads: Sequence[ox.Quad]) -> list[ox.Quad]:
    """What keeps a file from lowering the marking of something the base holds.

    A ``cfkb:tlp`` a file gives a claim, entity or source the base already
    holds unmarked would replace the base's default (several markings count
    as the strictest, but none counts as the default): the default is
    written beside it, so the marking can only go up.
    """

    marked = {q.subject for q in quads if q.predicate == CFKB.tlp and isinstance(q.subject, ox.NamedNode)}
    extra = []
    default = None
    for node in sorted(marked, key=str):
        if next(kb.store.quads_for_pattern(node, CFKB.tlp, None, None), None) is not None:
            continue  # marked already: several marks count as the strictest
        if next(kb.store.quads_for_pattern(node, None, None, None), None) is None:
            continue  # new to the base: the file's marking is all there is
        default = default or tlp_term(default_level(kb))
        extra.append(ox.Quad(node, CFKB.tlp, default))
    return extra


def commit(kb: KnowledgeBase, plan: Plan, *, analyst: str, when: dt.datetime | None = None,
           partner: str | None = None) -> ImportReport:
    """Write a checked plan, all or nothing (``kb`` must be writable).

    One :meth:`~cfkb.store.core.KnowledgeBase.write_many`: a transaction for a
    small plan, the journalled bulk load for a big one.

    Claims the base already holds are counted, not written again. ``partner``
    names the institute the files came from; the batch records it.
    """
    with collector_paused():
        return _commit(kb, plan, analyst=analyst, when=when, partner=partner)


def _commit(kb: KnowledgeBase, plan: Plan, *, analyst: str, when: dt.datetime | None,
            partner: str | None) -> ImportReport:
    when = when or now()
    batch = batch_iri(when, analyst, plan.files)
    report = ImportReport(batch=batch.value, files=[f.name for f in plan.files],
                          entities_created=list(plan.entities_created), left_out=dict(plan.left_out),
                          name_variants=list(plan.name_variants))
    # each new claim's quads and its record of this batch, as N-Quads text (no quad objects)
    text = claim_text(batch, analyst, when)
    lines: list[str] = []
    seen: set[str] = set()
    # the plan may have been made on another view of the store: look again, all at once
    present = kb.claims_present(plan.new_claims)
    for iri in plan.iris:
        if iri in seen:
            report.claims_present.append(iri)
            continue
        seen.add(iri)
        claim = plan.new_claims.get(iri)
        if claim is None or iri in present:
            report.claims_present.append(iri)
            continue
        report.claims_added.append(iri)
        lines.append(text.lines(claim, iri))
    report.other_triples = len(plan.rest) + len(plan.created)
    if lines or plan.created or plan.rest:
        nquads = "".join(lines).encode("utf-8")
        lines.clear()  # 100k claims are about 200 MB of text: hold it once
        kb.write_many(plan.created + plan.rest + batch_quads(batch, plan.files, analyst, when, partner),
                      nquads=nquads)
    return report


def import_files(kb: KnowledgeBase, files: Sequence[InputFile], *, analyst: str,
                 create_entities: bool = False, validate: bool = True, when: dt.datetime | None = None,
                 progress: Progress | None = None, partner: str | None = None,
                 new_entities: bool = False) -> ImportReport:
    """Import files into a base open for writing, as one transaction.

    Raises:
        InputError: a file does not parse, names an unknown entity, or
            violates the shapes. The store's data is unchanged.
    """
    plan = plan_import(kb, files, create_entities=create_entities, validate=validate, progress=progress,
                       new_entities=new_entities)
    return commit(kb, plan, analyst=analyst, when=when, partner=partner)


@contextmanager
def import_lock(path: Location) -> Iterator[None]:
    """Hold the store's import lock: one importer at a time.

    The lock is an advisory ``flock`` on the store's marker file, taken
    without writing anything, so a refused or failed import leaves every
    file of the store as it was. (The database's own lock, taken when the
    store is opened for writing, still guards against every other writer.)

    Raises:
        StoreLockedError: another process is importing into the store.
    """
    if is_remote(path):
        # a shared server keeps writers apart with its own transactions
        KnowledgeBase.open(path).close()
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the database lock alone
        yield
        return
    assert not isinstance(path, RemoteSettings)  # a server's settings are remote, handled above
    KnowledgeBase.open(path).close()  # a clear error if there is no store
    fd = os.open(Path(path) / MARKER, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLockedError(
                f"store in use: another cfkb process is importing into {path}; try again when it has finished"
            ) from None
        yield
    finally:
        os.close(fd)


def import_into(path: Location, files: Sequence[InputFile], *, analyst: str, create_entities: bool = False,
                validate: bool = True, when: dt.datetime | None = None, progress: Progress | None = None,
                count_conflicts: bool = False, partner: str | None = None, new_entities: bool = False
                ) -> ImportReport:
    """Import files into the on-disk store at ``path``, all or nothing.

    The import is planned and checked on a read-only view; the store is
    opened for writing only to commit a plan that passed every check.

    Raises:
        InputError: bad input; the store's files are untouched.
        StoreLockedError: another process is writing ("store in use").
    """

    plan: Plan | StreamPlan
    with import_lock(path):
        with KnowledgeBase.open(path) as kb:
            if streams(kb, files, create_entities=create_entities):
                plan = plan_stream(kb, files, analyst=analyst, validate=validate, when=when, progress=progress)
            else:
                plan = plan_import(kb, files, create_entities=create_entities, validate=validate,
                                   progress=progress, new_entities=new_entities)
        with _spool_dropped_on_failure(plan), KnowledgeBase.open(path, write=True) as kb:
            report = commit_stream(kb, plan, partner=partner) if isinstance(plan, StreamPlan) \
                else commit(kb, plan, analyst=analyst, when=when, partner=partner)
            if count_conflicts:  # a conflict that involves a new claim is a new conflict
                report.new_conflicts = _conflicts_involving(kb, report.claims_added)
    return report


def _conflicts_involving(kb: KnowledgeBase, claims: Sequence[str]) -> int:
    """How many conflicts involve one of ``claims``, from the conflict index
    (which the write has just brought up to date)."""
    if not claims:
        return 0
    from cfkb.engine.index import open_index  # deferred: loads duckdb

    with open_index(kb) as index:
        return index.page({}, claims=claims, limit=0)[0]


@contextmanager
def _spool_dropped_on_failure(plan: object) -> Iterator[None]:
    """Remove a streamed plan's spool if its commit does not happen (the store cannot be opened)."""
    try:
        yield
    except BaseException:
        spool = getattr(plan, "spool", None)
        if spool is not None:
            spool.discard()
        raise


# -- the bundled corpus ----------------------------------------------------

def seed_files() -> list[InputFile]:
    """The bundled corpus: the gazetteer, then the claim tables."""

    paths = sorted(data_dir().glob("*.ttl")) + sorted(data_dir().glob("*.yaml"))
    return [InputFile(p.name, p.read_bytes()) for p in paths]


def init_store(path: Location, *, empty: bool = False, analyst: str) -> tuple[KnowledgeBase, ImportReport | None]:
    """Create a store at ``path`` and load the bundled corpus unless ``empty``.

    If loading fails the half-made store is removed.
    """
    kb = KnowledgeBase.create(path)
    if empty:
        return kb, None
    try:
        return kb, import_files(kb, seed_files(), analyst=analyst)
    except BaseException:
        kb.destroy()
        raise


def prepare_quads(kb: KnowledgeBase, f: InputFile) -> list[ox.Quad]:
    """The quads a file would add (claims, entities, the rest), without writing."""
    claims, rest, resolver = prepare(kb, [f], create_entities=True)
    quads = [q for c in claims for q in c.quads()]
    mentioned = {q.object for q in quads + rest if isinstance(q.object, ox.NamedNode)}
    context = [ox.Quad(ox.NamedNode(s.value), RDF.type, ox.NamedNode(t))
               for s in mentioned for t in kb.entity_index().types.get(s.value, ())]
    return quads + rest + created_entity_quads(kb, resolver) + context
