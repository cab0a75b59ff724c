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
The files are read by :mod:`cfkb.io.importread` and the plan made and checked
by :mod:`cfkb.io.importplan`; this module commits it.
Claim tables imported into an on-disk store without creating entities are
planned in fixed-size chunks (:mod:`cfkb.io.importstream`), so memory does not
grow with the file; the checks, errors and commit are the same.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cfkb.errors import StoreLockedError
from cfkb.io.batch import ImportReport, InputFile, Progress, batch_iri, batch_quads, claim_text, now
from cfkb.io.importplan import Plan, plan_import
from cfkb.io.importstream import StreamPlan, commit_stream, plan_stream, streams
from cfkb.resources import data_dir
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase
from cfkb.store.location import MARKER, Location, check_directory, where


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
    place = where(path)  # the remote client is imported only for a server
    if not isinstance(place, Path):
        # a shared server keeps writers apart with its own transactions
        KnowledgeBase.open(path).close()
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the database lock alone
        yield
        return
    check_directory(place)  # a clear error if there is no store (the open that follows checks it all)
    fd = os.open(place / MARKER, os.O_RDONLY)
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
    """How many conflicts involve one of ``claims``: as the write's own upkeep
    found them (in the conflict index, or in the claim table's key-lookup copy
    for a small write), else from the index."""
    if not claims:
        return 0
    from cfkb.engine.common import filed_for

    known = filed_for(kb.generation(), claims)  # what the write's own upkeep filed
    if known is not None:
        return known
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
