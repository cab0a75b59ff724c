"""Claim tables imported in fixed-size chunks, so memory does not grow with the file.

:func:`plan_stream` reads the rows of CSV and YAML tables, resolves their
names, SHACL-checks the new claims and writes their N-Quads lines (with
this batch's ``recordedAt``, ``recordedBy`` and ``wasGeneratedBy``) to a
spool in the store directory (:mod:`cfkb.store.spool`), :data:`CHUNK_ROWS` rows
at a time; a chunk's claims, rows and check are dropped before the next is
read. What stays for the whole import is the entity index, the claims'
IRIs (to tell repeats apart) and the problems found: every problem of every
chunk is reported at once, as by :func:`cfkb.io.importplan.plan_import`. Nothing
reaches the base before :func:`commit_stream`, whose journal commit is the
one commit point; on any problem the spool is removed and the store's files
are as they were. From :data:`PARALLEL_ROWS` rows, each chunk is checked by
a second process while the next is read (:mod:`cfkb.io.chunkwork`).

An import that creates entities reads whole, as before: a new entity's
class comes from every row that names it, and the check of each claim needs
that class.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyoxigraph as ox

from cfkb.errors import InputError
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
from cfkb.io.chunkwork import InProcess, InWorker, Taken
from cfkb.io.importcheck import MAX_DETAILS, Origin, shape_error, violation_order
from cfkb.io.rdfio import guess_format
from cfkb.io.resolver import Resolver
from cfkb.io.tables import READERS, Row, read_rows
from cfkb.model.vocabulary import ONTOLOGY_GRAPH
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase
from cfkb.store.spool import Spool
from cfkb.workflow.entities import role_types

if TYPE_CHECKING:
    from cfkb.model.vocabulary import Claim
    from cfkb.shacl.validate import Violation

#: Rows read, resolved, checked and spooled at a time.
CHUNK_ROWS = 10_000
#: Rows from which the chunks are checked by a second process (:mod:`cfkb.io.chunkwork`)
#: while this one reads on: below, its start (some 0.3 s) costs more than it saves
PARALLEL_ROWS = 30_000


def streams(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool) -> bool:
    """Whether these files import in chunks: claim tables into an on-disk base, no entity created."""
    if kb.path is None or create_entities or not files:
        return False
    try:
        return all((f.format or guess_format(f.name)) in READERS for f in files)
    except InputError:
        return False  # the whole-file path reports it


@dataclass
class StreamPlan:
    """A chunked import checked and spooled, ready to commit."""

    files: list[InputFile]
    spool: Spool
    batch: ox.NamedNode
    analyst: str
    when: dt.datetime
    #: new claims, in file order
    added: list[str] = field(default_factory=list)
    #: claims the base held, or that a row repeats
    present: list[str] = field(default_factory=list)
    #: names taken as transliteration variants: (cell text, IRI, how)
    name_variants: list[tuple[str, str, str]] = field(default_factory=list)
    #: the base's generation when planned (none: not read)
    generation: str | None = None
    #: as in :class:`cfkb.io.importplan.Plan`: a table import brings no other quads
    created: list[ox.Quad] = field(default_factory=list)
    rest: list[ox.Quad] = field(default_factory=list)


class _Violations:
    """Shape violations of every chunk: how many, and the first :data:`MAX_DETAILS` in file order."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[tuple[tuple[str, int, int, str], Violation, Origin | None]] = []

    def add(self, found: Sequence[Violation], origins: dict[str, Origin]) -> None:
        self.count += len(found)
        self._kept += [(violation_order(v, origins), v, origins.get(v.focus)) for v in found]
        if len(self._kept) > 2 * MAX_DETAILS:
            self._trim()

    def _trim(self) -> None:
        self._kept.sort(key=lambda k: k[0])
        del self._kept[MAX_DETAILS:]

    def error(self) -> InputError:
        self._trim()
        origins = {v.focus: o for _, v, o in self._kept if o is not None}
        return shape_error([v for _, v, _ in self._kept], origins, self.count)


class _Planner:
    def __init__(self, kb: KnowledgeBase, plan: StreamPlan, resolver: Resolver, check: InProcess | None) -> None:
        self.kb = kb
        self.plan = plan
        self.resolver = resolver
        self.check = check
        self.text = claim_text(plan.batch, plan.analyst, plan.when)
        self.seen: set[str] = set()
        self.problems: list[InputError] = []
        self.violations = _Violations()
        #: chunks given to ``check`` and not taken back yet: their outcome, claims and origins
        self.pending: deque[tuple[Taken | None, list[tuple[str, Claim]], dict[str, Origin]]] = deque()

    def read(self, f: InputFile, progress: Progress | None, chunk_rows: int) -> None:
        chunk: list[tuple[Claim, Row]] = []
        done = 0
        try:
            for row in read_rows(f.name, f.data, f.format or guess_format(f.name)):
                try:
                    chunk.append((self.resolver.claim(row), row))
                except InputError as exc:
                    self.problems.append(exc)
                if len(chunk) >= chunk_rows:
                    self.take(f.name, chunk)
                    chunk = []
                if progress and row.line > done:
                    progress(row.line - done)
                    done = row.line
        except InputError as exc:  # the file stops parsing here
            self.problems.append(exc)
        self.take(f.name, chunk)
        if progress and f.lines > done:
            progress(f.lines - done)

    def take(self, path: str, chunk: list[tuple[Claim, Row]]) -> None:
        """Check a chunk's new claims and spool their lines (while nothing is wrong)."""
        iris = [claim.iri for claim, _ in chunk]
        base = self.kb.claims_present(dict.fromkeys(i for i in iris if i not in self.seen))
        records: list[tuple[str, Claim]] = []
        origins: dict[str, Origin] = {}
        for iri, (claim, row) in zip(iris, chunk, strict=True):
            if iri in self.seen or iri in base:
                self.plan.present.append(iri)
                self.seen.add(iri)
                continue
            self.seen.add(iri)
            self.plan.added.append(iri)
            records.append((iri, claim))
            origins[iri] = Origin(path, row=row, claim=claim)
        if not records:
            return
        check = self.check
        outcome = check.submit(records) if check is not None else None
        self.pending.append((outcome, records, origins))
        while len(self.pending) > (check.ahead if check else 0):
            self.take_back()

    def take_back(self) -> None:
        """The first pending chunk's violations, and its lines spooled (while nothing is wrong)."""
        outcome, records, origins = self.pending.popleft()
        found = outcome.result() if outcome is not None else []
        if found:
            self.violations.add(found, origins)
        if not self.problems and not self.violations.count:
            # (ClaimText writes IRIs and literals only: no blank node to look for in 25 MB a chunk)
            self.plan.spool.write("".join([self.text.lines(claim, iri) for iri, claim in records]), blank_nodes=False)


def plan_stream(kb: KnowledgeBase, files: Sequence[InputFile], *, analyst: str, validate: bool = True,
                when: dt.datetime | None = None, progress: Progress | None = None,
                chunk_rows: int | None = None) -> StreamPlan:
    """Read, resolve, check and spool claim tables in chunks (``kb``, on disk, may be read-only).

    The caller holds the store's import lock (the spool is the import's).

    Raises:
        InputError: every problem found, located as by
            :func:`cfkb.io.importplan.plan_import`; the spool is removed.
    """

    assert kb.path is not None
    when = when or now()
    resolver = Resolver(kb.entity_index(), kb.predicates(), roles=role_types(kb))
    plan = StreamPlan(list(files), Spool(kb.path), batch_iri(when, analyst, files), analyst, when,
                      generation=kb.generation())
    rows = chunk_rows or CHUNK_ROWS
    try:
        check = None
        if validate:
            beside = sum(f.lines for f in files) >= PARALLEL_ROWS
            check = (InWorker if beside else InProcess)(list(kb.quads(ONTOLOGY_GRAPH)), kb.entity_index().types)
        with collector_paused(), contextlib.closing(check) if check else contextlib.nullcontext():
            planner = _Planner(kb, plan, resolver, check)
            for f in files:
                planner.read(f, progress, rows)
            while planner.pending:
                planner.take_back()
        problems = planner.problems
        if planner.violations.count:
            problems.append(planner.violations.error())
        raise_problems(problems)
    except BaseException:
        plan.spool.discard()
        raise
    plan.name_variants = [(text, iri, how) for (text, iri), how in resolver.variants.items()]
    return plan


def commit_stream(kb: KnowledgeBase, plan: StreamPlan, *, partner: str | None = None) -> ImportReport:
    """Write a spooled plan, all or nothing (``kb`` must be writable); the spool is used up."""
    report = ImportReport(batch=plan.batch.value, files=[f.name for f in plan.files],
                          name_variants=list(plan.name_variants))
    try:
        # the plan was made on a read-only view: a claim written since (which moved the
        # generation) is not written again
        since = kb.claims_present(plan.added) if kb.generation() != plan.generation else set()
        if since:
            plan.spool.drop_subjects(since)
        report.claims_added = [iri for iri in plan.added if iri not in since]
        report.claims_present = plan.present + [iri for iri in plan.added if iri in since]
        if not report.claims_added:
            plan.spool.discard()
            return report
    except BaseException:
        plan.spool.discard()
        raise
    kb.write_many(batch_quads(plan.batch, plan.files, plan.analyst, plan.when, partner), spool=plan.spool)
    return report
