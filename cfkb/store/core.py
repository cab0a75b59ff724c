"""The knowledge base: an on-disk Oxigraph store with cfkb's conventions.

A store is a directory holding ``oxigraph/`` (the RocksDB files) and
``cfkb.json`` (what made it). The ontology lives in its own named graph;
everything else in the default graph. Queries see the union.

Writers take the store's lock: a second writer gets :class:`StoreLockedError`
("store in use"). Readers open it read-only; they wait only while a bulk
write is being applied (:mod:`cfkb.store.locks`).

Big additions (:meth:`KnowledgeBase.write_many`) skip RocksDB's transaction
and go through a redo journal and the bulk loader, all or nothing even under
``kill -9`` or a full disk; the next open finishes a committed one
(:mod:`cfkb.store.journal`).

A location that is an ``http(s)`` URL is a shared SPARQL server instead
(:mod:`cfkb.store.remote`); the base is then the server's whole dataset, and the
ontology graph marks it as a cfkb base. The server's transactions, not a
lock, keep concurrent writers apart. Everything else is the same: both
stores satisfy :class:`cfkb.store.backend.Backend`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

import pyoxigraph as ox

from cfkb.errors import (
    QueryError,
    StoreError,
    StoreLockedError,
    one_line,
)
from cfkb.model.names import EntityIndex, Match
from cfkb.model.spelling import expand_curie
from cfkb.model.vocabulary import CFKB, CFKB_NS, MARK_PREDICATES, ONTOLOGY_GRAPH, PREFIXES, RDF
from cfkb.store import entityindex, generations, journal, namescache
from cfkb.store.backend import Backend, Subject, Term
from cfkb.store.guard import check_query
from cfkb.store.location import (
    Location,
    check_directory,
    check_empty_server,
    check_server,
    is_store,
    names_server,
    new_directory,
    where,
    write_marker,
)
from cfkb.store.locks import apply_lock, mark_writer, open_db, writer_active
from cfkb.store.owntexts import own_query
from cfkb.store.sparqltext import bind_many, bind_values
from cfkb.store.spool import Prefix, Spool
from cfkb.store.updatetext import data_update

if TYPE_CHECKING:
    from cfkb.store.remotesettings import RemoteSettings

#: Additions of at least this many quads go through the journal and the bulk loader.
BULK_MIN_QUADS = 20_000
#: How long (seconds) opening waits for a bulk write in progress to be applied.
APPLY_WAIT = 300.0
Binding = ox.NamedNode | ox.Literal | ox.BlankNode
Row = dict[str, Any]


class KnowledgeBase:
    """A claims base over a store: :class:`pyoxigraph.Store` or a :class:`~cfkb.store.remote.RemoteStore`.

    Open one with :meth:`create`, :meth:`open` or :meth:`memory`.

    >>> kb = KnowledgeBase.memory()
    >>> kb.claim_count()
    0
    """

    def __init__(self, store: Backend, path: Path | None = None, *, writable: bool = True,
                 location: str | None = None) -> None:
        self.store = store
        self.path = path
        self.writable = writable
        #: Where the base is, for messages (never holds credentials).
        self.location = location or (str(path) if path is not None else ":memory:")
        self._index: EntityIndex | None = None
        self._predicates: dict[str, str] | None = None
        #: a write failed (a full disk): closing does not flush, so its error stays the one reported
        self._write_failed = False
        #: a committed bulk write could not be applied: this handle must not be used any more
        self._unapplied = False
        #: the writer's mark on the database directory (:func:`~cfkb.store.locks.mark_writer`), held until closing
        self._writer_mark: int | None = None
        #: the ``cfkb:generation`` values the last write found (a remote write's upkeep
        #: checks that the server holds exactly those it left, and its own)
        self.generations_read: frozenset[ox.Literal | ox.NamedNode | ox.BlankNode | ox.Triple] = frozenset()

    # -- opening -------------------------------------------------------

    @classmethod
    def memory(cls, *, ontology: bool = True) -> KnowledgeBase:
        """An in-memory base (for tests and scratch work), with the ontology."""
        kb = cls(ox.Store(), None)
        if ontology:
            kb.load_ontology()
        return kb

    @staticmethod
    def exists(location: Location) -> bool:
        """Whether a cfkb base is at ``location`` (a server is asked)."""
        place = where(location)
        if not isinstance(place, Path):
            with place.connect(read_only=True) as store:
                return store.contains_named_graph(ONTOLOGY_GRAPH)
        return is_store(place)

    @classmethod
    def create(cls, location: Location) -> KnowledgeBase:
        """Create an empty store (with the ontology) at ``location``.

        Raises:
            StoreExistsError: a store is already there.
            StoreError: the path is a non-empty directory that is not a store,
                or the server holds data that is not a cfkb base.
        """
        path = where(location)
        if not isinstance(path, Path):
            return cls._create_remote(path)
        kb = cls(new_directory(path), path)
        try:
            kb._writer_mark = mark_writer(path)
            kb.load_ontology()
            write_marker(path)
        except BaseException:
            kb.close()
            shutil.rmtree(path, ignore_errors=True)
            raise
        return kb

    @classmethod
    def _create_remote(cls, settings: RemoteSettings) -> KnowledgeBase:
        store = settings.connect()
        check_empty_server(store, settings)
        kb = cls(store, None, location=str(settings))
        kb.load_ontology()
        return kb

    @classmethod
    def open(cls, location: Location, *, write: bool = False, wait: float = APPLY_WAIT) -> KnowledgeBase:
        """Open the store at ``location``, read-only unless ``write``.

        A bulk write that committed but was not applied (its process was
        killed, or the disk was full) is applied first, so the base is seen
        with all of it. A read waits up to ``wait`` seconds for a bulk write
        that another process is applying.

        Raises:
            StoreMissingError: no store there.
            StoreLockedError: ``write`` and another process is writing, or a
                bulk write is still being applied after ``wait`` seconds.
            StoreError: the directory is not a cfkb store, or its database is
                damaged, or an unapplied bulk write cannot be applied (a full disk).
            RemoteError: the server cannot be reached or fails.
        """
        path = where(location)
        if not isinstance(path, Path):
            return cls._open_remote(path, write=write)
        check_directory(path)
        if write:
            kb = cls(open_db(path, write=True), path, writable=True)
            try:
                kb._writer_mark = mark_writer(path)
                journal.finish_bulk_write(path, kb.store)
            except BaseException:
                kb._write_failed = True
                kb.close()
                raise
            return kb
        return cls(journal.open_reading(path, wait, lambda p: cls.open(p, write=True).close()), path, writable=False)

    @classmethod
    def _open_remote(cls, settings: RemoteSettings, *, write: bool) -> KnowledgeBase:
        store = settings.connect(read_only=not write)
        try:
            staging = check_server(store, settings)
            store.drop_staging(staging)  # an orphan of a killed import must never be read as data
        except BaseException:
            store.close()
            raise
        return cls(store, None, writable=write, location=str(settings))

    @classmethod
    def drop(cls, location: Location) -> None:
        """Delete the base at ``location``: the store directory, or every graph on the server.

        Raises:
            StoreLockedError: another process is writing to the store.
        """
        place = where(location)
        if not isinstance(place, Path):
            cls.open(place, write=True).destroy()
            return
        cls.open(place, write=True).close()  # refuses while another process writes
        shutil.rmtree(place)

    def destroy(self) -> None:
        """Delete this base and close it (a half-made one, when loading it failed)."""
        if self.path is None:
            self.store.clear()
            self.close()
        else:
            self.close()
            shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        """Release the store (and its lock).

        Raises:
            StoreError: what was written could not be flushed to disk (a full disk).
        """
        try:
            if self.writable and self.path is not None and not self._write_failed:
                self.store.flush()
        except (OSError, RuntimeError) as exc:
            raise StoreError(f"could not finish writing the store to disk: {one_line(exc)}") from exc
        finally:
            del self.store
            if self._writer_mark is not None:
                os.close(self._writer_mark)  # releases the mark
                self._writer_mark = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reading -------------------------------------------------------

    def query(self, sparql: str, bindings: Mapping[str, Binding] | None = None, *,
              union: bool = True, name: str | None = None, plan_with_bindings: bool = False,
              values: tuple[str, Sequence[Term]] | None = None) -> Any:
        """Run a SPARQL query with values bound to variables (never pasted).

        Every query passes :func:`cfkb.store.guard.check_query` first: SERVICE,
        LOAD, FROM and updates never run, whoever asks.

        Bindings are pyoxigraph substitutions, applied after the query is
        planned. With ``plan_with_bindings`` they become a ``VALUES`` block at
        the top of the WHERE clause instead (each term written by pyoxigraph
        as one escaped term), which Oxigraph's planner sees: a join then
        starts from the bound claim instead of scanning the base.
        ``values`` binds one variable to each of several terms the same way
        (one solution each).

        Raises:
            QueryError: the query does not parse.
            QueryRefusedError: the query would reach outside the base, or is an update.
        """
        check_query(sparql, name)
        if self._unapplied:
            raise StoreError(_UNAPPLIED.format(path=self.path))
        subs: dict[ox.Variable, Term] = {ox.Variable(k): v for k, v in (bindings or {}).items()}
        if plan_with_bindings and subs:
            sparql, subs = bind_values(sparql, subs), {}
        if values is not None:
            sparql = bind_many(sparql, ox.Variable(values[0]), values[1])
        try:
            return self.store.query(sparql, prefixes=dict(PREFIXES), use_default_graph_as_union=union,
                                    substitutions=subs or None)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}", name) from exc
        except (ValueError, TypeError, RuntimeError) as exc:
            if _damaged(exc):
                if not self.writable and self.path is not None and writer_active(self.path):
                    raise StoreLockedError(f"store in use: another cfkb process changed the files of {self.path}"
                                           " while this query read them; run it again") from exc
                raise StoreError(f"the store at {self.path} is damaged: {one_line(exc)}; restore it from a"
                                 " backup") from exc
            # pyoxigraph's word for a bound variable the query does not select, and the like
            raise QueryError(str(exc), name) from exc
        except OSError as exc:
            raise StoreError(f"store error while querying: {one_line(exc)}") from exc

    def select(self, sparql: str, bindings: Mapping[str, Binding] | None = None, *,
               plan_with_bindings: bool = False, values: tuple[str, Sequence[Term]] | None = None) -> list[Row]:
        """A SELECT query's rows as dicts of variable name to term (unbound left out)."""
        results = self.query(sparql, bindings, plan_with_bindings=plan_with_bindings, values=values)
        names = [v.value for v in results.variables]
        rows = []
        for solution in results:
            rows.append({n: solution[n] for n in names if solution[n] is not None})
        return rows

    def contains(self, subject: Subject, predicate: ox.NamedNode | None = None,
                 obj: Binding | None = None) -> bool:
        for _ in self.store.quads_for_pattern(subject, predicate, obj, None):
            return True
        return False

    def claims_present(self, iris: Iterable[str]) -> set[str]:
        """Which of the given IRIs are claims in the base (one point lookup each;
        none in a base on disk that holds no claim yet, as a new base's first import)."""
        found: set[str] = set()
        # (a server would send every claim for this question: there each IRI is asked for)
        if isinstance(self.store, ox.Store) and next(self.store.quads_for_pattern(None, RDF.type, CFKB.Claim),
                                                     None) is None:
            return found
        for iri in iris:
            for _ in self.store.quads_for_pattern(ox.NamedNode(iri), RDF.type, CFKB.Claim, None):
                found.add(iri)
                break
        return found

    def claim_count(self) -> int:
        rows = self.select(own_query("store_claim_count"))
        return int(rows[0]["n"].value)

    def entity_index(self) -> EntityIndex:
        """Every named entity with its labels and types (cached until a write: :mod:`cfkb.store.entityindex`),
        from the file a big base keeps them in when it is current (:mod:`cfkb.store.namescache`)."""
        if self._index is None:
            self._index = entityindex.read_index(self) if self.path is None else namescache.index_of(self, self.path)
        return self._index

    def entity_match(self, name: str, allowed: set[str] | None = None, *, accept: str = "variant") -> Match:
        """The one entity ``name`` means, as :meth:`EntityIndex.lookup` finds it.

        An IRI or CURIE is looked up alone while the index is not read: a few
        point lookups, where reading the names of a million-claim base takes
        seconds.

        Raises:
            UnknownNameError: no entity matches (with the suggestions, explained).
            AmbiguousNameError: several match (with every candidate).
        """
        iri = expand_curie(name)
        if iri is None or self._index is not None:
            return self.entity_index().lookup(name, allowed, accept=accept)
        return entityindex.match_iri(self.store, name, iri)

    def resolve_entity(self, name: str, allowed: set[str] | None = None) -> str:
        """The IRI of the one entity ``name`` means (:meth:`entity_match`, exact or a specific variant)."""
        return self.entity_match(name, allowed).iri

    def entity_labels(self, iris: Iterable[str]) -> dict[str, str]:
        """The display label of each of these entities that has one, as
        :meth:`entity_index` picks it, read for them alone (a few batched
        requests on a server, where the whole index is megabytes)."""
        iris = sorted(set(iris))
        if self._index is not None:
            return {i: self._index.labels[i] for i in iris if i in self._index.labels}
        return entityindex.labels_of(self.store, iris)

    def predicates(self) -> dict[str, str]:
        """Local name to IRI of every claim predicate in the ontology."""
        if self._predicates is None:
            self._predicates = {
                s["p"].value[len(CFKB_NS):] if s["p"].value.startswith(CFKB_NS) else s["p"].value: s["p"].value
                for s in self.query(own_query("store_claim_predicates"))
            }
        return self._predicates

    def quads(self, graph: ox.NamedNode | ox.DefaultGraph | None = None) -> Iterator[ox.Quad]:
        return iter(self.store.quads_for_pattern(None, None, None, graph))

    # -- writing -------------------------------------------------------

    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError("the store is open read-only")

    def load_ontology(self) -> None:
        """(Re)load the shipped ontology into its named graph."""
        from cfkb.resources import ontology_path

        self._require_writable()
        if self.store.contains_named_graph(ONTOLOGY_GRAPH):
            self.store.remove_graph(ONTOLOGY_GRAPH)
        self.store.load(path=str(ontology_path()), format=ox.RdfFormat.TURTLE, to_graph=ONTOLOGY_GRAPH)
        self.store.extend([self._next_generation()[0]])  # the rules read the ontology's annotations
        self._invalidate()

    @property
    def on_server(self) -> bool:
        """Whether the base is on a SPARQL server."""
        return names_server(self.location)

    @property
    def in_memory(self) -> bool:
        """Whether the base is in memory only: neither on disk nor on a server (so it keeps no
        claim table, nor anything else, beside it)."""
        return self.path is None and not self.on_server

    def generation(self) -> str:
        """The generation of the base's data (:mod:`cfkb.store.generations`): it changes, in the same
        transaction, with every write that can change a conflict (so a
        claim table and the conflict index say which state of the base they belong to).
        Empty for a base no such write has touched."""
        return generations.latest(self.store)

    def marks_revision(self) -> str:
        """The revision of the base's grades and markings (:data:`MARK_PREDICATES`):
        it changes, in the same transaction, with every write that keeps the
        generation but changes a grade or a marking, so a copy of them kept
        beside the graph is current when it holds both this and the generation."""
        return generations.marks_revision(self.store)

    def damaged_generations(self) -> list[str]:
        """Values of ``cfkb:generation`` that cfkb did not write (the next write drops them)."""
        return [str(q.object) for q in generations.damaged(self.store)]

    def repair_state(self) -> int:
        """Drop :meth:`damaged_generations` and move the base to a new generation; returns how many."""
        damaged = generations.damaged(self.store)
        if damaged:
            self.write(remove=damaged)
        return len(damaged)

    def _next_generation(self) -> tuple[ox.Quad, list[ox.Quad]]:
        """A generation quad later than every one in the store, and those.

        Values cfkb did not write (garbage a file or another program put
        there) are ignored and returned with the others, to be dropped.
        """
        old = generations.stamps(self.store)
        self.generations_read = frozenset(q.object for q in old)
        return generations.next_stamp(old), old

    def write(self, add: Iterable[ox.Quad] = (), remove: Iterable[ox.Quad] = (), *,
              keeps_conflicts: bool = False) -> None:
        """Add and remove quads in one transaction: all of it happens or none.

        Unless ``keeps_conflicts`` (an assessment, a rank, a grading: nothing
        a conflict rule reads), the same transaction moves the base to a new
        :meth:`generation`.

        Raises:
            StoreError: the write failed; the store is as it was.
        """
        self._require_writable()
        add, remove = list(add), list(remove)
        if self._unapplied:
            raise StoreError(_UNAPPLIED.format(path=self.path))
        before = None
        names_before = namescache.state_if_kept(self.path, self.store)
        if (add or remove) and not keeps_conflicts:
            new, old = self._next_generation()
            before = generations.previous(old)
            add.append(new)
            damaged = [q for q in old if not generations.is_generation(q.object)]
            if remove or damaged:  # an update anyway (or a repair): drop the superseded generations with it
                remove.extend(old)
        else:
            if any(q.predicate.value in MARK_PREDICATES for q in (*add, *remove)):
                revision, old = generations.next_marks_revision(self.store)
                before = self.generation()  # the followers see the generation kept, the revision moved
                add.append(revision)
                remove.extend(old)
            if any(q.predicate in entityindex.INDEXED for q in (*add, *remove)):
                revision, old = generations.next_marks_revision(self.store, generations.NAMES_REVISION)
                add.append(revision)
                remove.extend(old)
        try:
            if remove:
                self.store.update(data_update(remove, add))
            elif add:
                self.store.extend(add)
        except (OSError, SyntaxError, RuntimeError) as exc:
            self._write_failed = True
            self._invalidate()
            raise StoreError(f"write failed, nothing was changed: {one_line(exc)}") from exc
        except BaseException:
            self._invalidate()
            raise
        self._written(add, remove, names_before)
        if before is not None:
            generations.follow(self, before, add, remove)

    def write_many(self, add: Iterable[ox.Quad] = (), *, nquads: bytes = b"", spool: Spool | None = None) -> None:
        """Add many quads: all of them or none, even if the process is killed.

        Every bulk addition goes through here. Fewer than
        :data:`BULK_MIN_QUADS` quads (or a base not on disk) take
        :meth:`write`'s transaction; more go through the redo journal and
        the bulk loader (:mod:`cfkb.store.journal`), which is many times faster
        for big batches.

        ``nquads`` holds more quads to add, already written as N-Quads lines
        (default graph) by pyoxigraph's term serialiser, e.g. by
        :class:`cfkb.model.vocabulary.ClaimText`: for a big batch the text goes into the
        journal as it is, with no Python object per quad. ``spool`` holds
        such lines in a file of the store directory (:mod:`cfkb.store.spool`),
        which becomes the journal; it is used up (or removed) either way.

        Raises:
            StoreError: the write failed. The message says whether nothing
                was changed, or the batch committed and will be applied when
                the store is next opened (after a full disk is freed).
        """
        self._require_writable()
        add = add if isinstance(add, list) else list(add)
        if spool is not None and (self.path is None or len(add) + spool.lines < BULK_MIN_QUADS):
            try:
                nquads = spool.read() + nquads
            finally:
                spool.discard()
            spool = None
        if spool is None and (self.path is None or len(add) + nquads.count(b"\n") < BULK_MIN_QUADS):
            if nquads:
                add = add + list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
            self.write(add)
            return
        if self._unapplied:
            if spool is not None:
                spool.discard()
            raise StoreError(_UNAPPLIED.format(path=self.path))
        new, old = self._next_generation()
        before = generations.previous(old)
        add = [*add, new]  # the new generation comes with the batch, or not at all
        try:
            written = self._bulk_write(add, nquads, spool)
        finally:
            self._invalidate()
        if written is None:
            generations.follow(self, before, add, [], nquads)
            return
        with written:  # the journal's claim lines, readable after the journal is removed
            generations.follow(self, before, add, [], Prefix(written, spool.size) if spool is not None else b"")

    def _bulk_write(self, add: list[ox.Quad], nquads: bytes = b"", spool: Spool | None = None) -> BinaryIO | None:
        """Journal, commit and apply (:mod:`cfkb.store.journal`); with a spool, the journal open
        for reading from its start."""
        assert self.path is not None
        committed = False
        written: BinaryIO | None = None
        try:
            record, written = journal.write_journal(self.path, add, nquads, spool)
            with apply_lock(self.path, exclusive=True):
                journal.commit_journal(self.path, record)
                committed = True
                journal.apply_journal(self.path, self.store)
        except (OSError, SyntaxError, RuntimeError, ValueError) as exc:
            if written is not None:
                written.close()
            self._write_failed = True
            if not committed:
                journal.discard_uncommitted(self.path)
                if spool is not None:
                    spool.discard()
                raise StoreError(f"write failed, nothing was changed: {one_line(exc)}") from exc
            self._unapplied = True
            raise StoreError(f"write failed after it was committed: {one_line(exc)}; the batch is kept in"
                             f" {self.path / journal.JOURNAL} and is applied, whole, the next time the store is"
                             " opened (free some disk space first)") from exc
        return written

    def _invalidate(self) -> None:
        self._index = None
        self._predicates = None

    def _written(self, add: list[ox.Quad], remove: list[ox.Quad], names_before: str | None = None) -> None:
        """After a committed write: the cached entity index takes the names
        of entities the write made, or is dropped (:func:`cfkb.store.entityindex.follow_write`);
        so does the names file, if it was current before the write (:func:`cfkb.store.namescache.follow`)."""
        self._predicates = None
        if self._index is not None and not entityindex.follow_write(self._index, self.store, add, remove):
            self._invalidate()
        if names_before is not None and self.path is not None:
            namescache.follow(self.path, names_before, self._index, self.store, add, remove)


_UNAPPLIED = ("the store at {path} has a committed bulk write that is not applied yet; close it and open it"
              " again to apply it")


def _damaged(exc: BaseException) -> bool:
    text = str(exc)
    return text.startswith(("Corruption", "IO error")) or "No such file or directory" in text
