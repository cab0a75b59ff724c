"""The knowledge base: an on-disk Oxigraph store with cfkb's conventions.

A store is a directory holding ``oxigraph/`` (the RocksDB files) and
``cfkb.json`` (what made it). The ontology lives in its own named graph;
everything else in the default graph. Queries see the union.

Writers take the store's lock: a second writer gets :class:`StoreLockedError`
("store in use"). Readers open it read-only and never block.

A location that is an ``http(s)`` URL is a shared SPARQL server instead
(:mod:`cfkb.remote`); the base is then the server's whole dataset, and the
ontology graph marks it as a cfkb base. The server's transactions, not a
lock, keep concurrent writers apart. Everything else is the same: both
stores satisfy :class:`cfkb.backend.Backend`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Union

import pyoxigraph as ox

from cfkb import __version__
from cfkb.backend import Backend
from cfkb.errors import (
    QueryError,
    StoreError,
    StoreExistsError,
    StoreLockedError,
    StoreMissingError,
)
from cfkb.guard import check_query
from cfkb.model import CFKB_NS, ONTOLOGY_GRAPH, PREFIXES, STATE_GRAPH
from cfkb.names import EntityIndex
from cfkb.remote import RemoteSettings, bind_values, check_url, is_remote

MARKER = "cfkb.json"
Binding = ox.NamedNode | ox.Literal | ox.BlankNode
Row = dict[str, Any]
#: Where a base is: a directory, or a SPARQL server (URL text or :class:`RemoteSettings`).
Location = Union[str, "os.PathLike[str]", RemoteSettings]


_STATE = ox.NamedNode("https://w3id.org/cfkb/id/base")
_GENERATION = ox.NamedNode(CFKB_NS + "generation")


def _settings(location: str | RemoteSettings) -> RemoteSettings:
    return location if isinstance(location, RemoteSettings) else RemoteSettings(check_url(str(location)))


class KnowledgeBase:
    """A claims base over a store: :class:`pyoxigraph.Store` or a :class:`~cfkb.remote.RemoteStore`.

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
        if is_remote(location):
            return _settings(location).connect(read_only=True).contains_named_graph(ONTOLOGY_GRAPH)  # type: ignore[arg-type]
        return (Path(location) / MARKER).is_file()  # type: ignore[arg-type]

    @classmethod
    def create(cls, location: Location) -> KnowledgeBase:
        """Create an empty store (with the ontology) at ``location``.

        Raises:
            StoreExistsError: a store is already there.
            StoreError: the path is a non-empty directory that is not a store,
                or the server holds data that is not a cfkb base.
        """
        if is_remote(location):
            return cls._create_remote(_settings(location))  # type: ignore[arg-type]
        path = Path(location)  # type: ignore[arg-type]
        if cls.exists(path):
            raise StoreExistsError(f"a cfkb store already exists at {path}")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise StoreError(f"{path} exists and is not a cfkb store; choose an empty or new path")
        try:
            path.mkdir(parents=True, exist_ok=True)
            store = ox.Store(str(path / "oxigraph"))
        except OSError as exc:
            raise StoreError(f"cannot create a store at {path}: {exc}") from exc
        kb = cls(store, path)
        try:
            kb.load_ontology()
            (path / MARKER).write_text(
                json.dumps({"format": 1, "created_by": f"cfkb {__version__}"}, indent=2) + "\n",
                encoding="utf-8",
            )
        except BaseException:
            kb.close()
            shutil.rmtree(path, ignore_errors=True)
            raise
        return kb

    @classmethod
    def _create_remote(cls, settings: RemoteSettings) -> KnowledgeBase:
        store = settings.connect()
        if store.contains_named_graph(ONTOLOGY_GRAPH):
            raise StoreExistsError(f"a cfkb base already exists at {settings}")
        if not store.is_empty():
            raise StoreError(f"{settings} holds data that is not a cfkb base; use an empty dataset")
        kb = cls(store, None, location=str(settings))
        kb.load_ontology()
        return kb

    @classmethod
    def open(cls, location: Location, *, write: bool = False) -> KnowledgeBase:
        """Open the store at ``location``, read-only unless ``write``.

        Raises:
            StoreMissingError: no store there.
            StoreLockedError: ``write`` and another process is writing.
            StoreError: the directory is not a cfkb store, or its database is damaged.
            RemoteError: the server cannot be reached or fails.
        """
        if is_remote(location):
            settings = _settings(location)  # type: ignore[arg-type]
            store = settings.connect(read_only=not write)
            if not store.contains_named_graph(ONTOLOGY_GRAPH):
                raise StoreMissingError(f"no cfkb base at {settings}; create one with 'cfkb --store {settings} init'")
            return cls(store, None, writable=write, location=str(settings))
        path = Path(location)  # type: ignore[arg-type]
        if not cls.exists(path):
            if path.exists():
                raise StoreError(f"{path} is not a cfkb store (no {MARKER}); run 'cfkb init' on a new path")
            raise StoreMissingError(f"no store at {path}; create one with 'cfkb init --store {path}'")
        _check_marker(path)
        db = path / "oxigraph"
        # RocksDB would quietly create an empty database where one is missing
        if not (db / "CURRENT").is_file():
            raise StoreError(f"{path} is not a complete cfkb store (no database in {db.name}/);"
                             " restore it from a backup")
        try:
            store = ox.Store(str(db)) if write else ox.Store.read_only(str(db))
        except OSError as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"store in use: another cfkb process is writing to {path}; try again when it has finished"
                ) from exc
            raise StoreError(f"cannot open the store at {path}: {_one_line(exc)}") from exc
        except (RuntimeError, ValueError) as exc:
            raise StoreError(f"the store at {path} is damaged and cannot be opened: {_one_line(exc)};"
                             " restore it from a backup") from exc
        return cls(store, path, writable=write)

    @classmethod
    def drop(cls, location: Location) -> None:
        """Delete the base at ``location``: the store directory, or every graph on the server.

        Raises:
            StoreLockedError: another process is writing to the store.
        """
        if is_remote(location):
            cls.open(location, write=True).destroy()
            return
        cls.open(location, write=True).close()  # refuses while another process writes
        shutil.rmtree(Path(location))  # type: ignore[arg-type]

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
            raise StoreError(f"could not finish writing the store to disk: {_one_line(exc)}") from exc
        finally:
            del self.store

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reading -------------------------------------------------------

    def query(self, sparql: str, bindings: Mapping[str, Binding] | None = None, *,
              union: bool = True, name: str | None = None, plan_with_bindings: bool = False) -> Any:
        """Run a SPARQL query with values bound to variables (never pasted).

        Every query passes :func:`cfkb.guard.check_query` first: SERVICE,
        LOAD, FROM and updates never run, whoever asks.

        Bindings are pyoxigraph substitutions, applied after the query is
        planned. With ``plan_with_bindings`` they become a ``VALUES`` block at
        the top of the WHERE clause instead (each term written by pyoxigraph
        as one escaped term), which Oxigraph's planner sees: a join then
        starts from the bound claim instead of scanning the base.

        Raises:
            QueryError: the query does not parse.
            QueryRefusedError: the query would reach outside the base, or is an update.
        """
        check_query(sparql, name)
        subs = {ox.Variable(k): v for k, v in (bindings or {}).items()}
        if plan_with_bindings and subs:
            sparql, subs = bind_values(sparql, subs), {}
        try:
            return self.store.query(sparql, prefixes=dict(PREFIXES), use_default_graph_as_union=union,
                                    substitutions=subs or None)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}", name) from exc
        except (ValueError, TypeError, RuntimeError) as exc:
            if _damaged(exc):
                raise StoreError(f"the store at {self.path} is damaged: {_one_line(exc)}; restore it from a"
                                 " backup") from exc
            # pyoxigraph's word for a bound variable the query does not select, and the like
            raise QueryError(str(exc), name) from exc
        except OSError as exc:
            raise StoreError(f"store error while querying: {_one_line(exc)}") from exc

    def select(self, sparql: str, bindings: Mapping[str, Binding] | None = None, *,
               plan_with_bindings: bool = False) -> list[Row]:
        """A SELECT query's rows as dicts of variable name to term (unbound left out)."""
        results = self.query(sparql, bindings, plan_with_bindings=plan_with_bindings)
        names = [v.value for v in results.variables]
        rows = []
        for solution in results:
            rows.append({n: solution[n] for n in names if solution[n] is not None})
        return rows

    def contains(self, subject: ox.NamedNode, predicate: ox.NamedNode | None = None,
                 obj: Binding | None = None) -> bool:
        for _ in self.store.quads_for_pattern(subject, predicate, obj, None):
            return True
        return False

    def claim_count(self) -> int:
        rows = self.select("SELECT (COUNT(?c) AS ?n) WHERE { ?c a cfkb:Claim }")
        return int(rows[0]["n"].value)

    def entity_index(self) -> EntityIndex:
        """Every named entity with its labels and types (cached until a write)."""
        if self._index is None:
            index = EntityIndex()
            for sol in self.query(
                "SELECT ?e ?l ?alt WHERE { { ?e rdfs:label ?l } UNION { ?e skos:altLabel ?l BIND(true AS ?alt) }"
                " FILTER(isIRI(?e)) FILTER NOT EXISTS { ?e a cfkb:Claim } }",
                union=False,
            ):
                lit = sol["l"]
                preferred = sol["alt"] is None and lit.language in (None, "en")
                index.add(sol["e"].value, lit.value, preferred=preferred)
            for sol in self.query("SELECT ?e ?t WHERE { ?e a ?t FILTER(?t != cfkb:Claim) }", union=False):
                if isinstance(sol["e"], ox.NamedNode):
                    index.types[sol["e"].value].add(sol["t"].value)
            for q in self.store.quads_for_pattern(None, ox.NamedNode(CFKB_NS + "mergedInto"), None, None):
                index.merged[q.subject.value] = q.object.value
            self._index = index
        return self._index

    def predicates(self) -> dict[str, str]:
        """Local name to IRI of every claim predicate in the ontology."""
        if self._predicates is None:
            self._predicates = {
                s["p"].value[len(CFKB_NS):] if s["p"].value.startswith(CFKB_NS) else s["p"].value: s["p"].value
                for s in self.query("SELECT ?p WHERE { ?p a cfkb:ClaimPredicate }")
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

    def generation(self) -> str:
        """The generation of the base's data: it changes, in the same
        transaction, with every write that can change a conflict (so a
        stored conflict set says which state of the base it belongs to).
        Empty for a base no such write has touched."""
        found = [q.object.value for q in self.store.quads_for_pattern(_STATE, _GENERATION, None, STATE_GRAPH)]
        return max(found) if found else ""

    def _next_generation(self) -> tuple[ox.Quad, list[ox.Quad]]:
        """A generation quad later than every one in the store, and those."""
        old = list(self.store.quads_for_pattern(_STATE, _GENERATION, None, STATE_GRAPH))
        now = time.time_ns()
        latest = max((int(q.object.value.split("-")[0]) for q in old), default=0)
        value = f"{max(now, latest + 1):020d}-{uuid.uuid4().hex[:12]}"
        return ox.Quad(_STATE, _GENERATION, ox.Literal(value), STATE_GRAPH), old

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
        if (add or remove) and not keeps_conflicts:
            new, old = self._next_generation()
            add.append(new)
            if remove:  # an update anyway: drop the superseded generations with it
                remove.extend(old)
        try:
            if remove:
                self.store.update(_data_update(remove, add))
            elif add:
                self.store.extend(add)
        except (OSError, SyntaxError, RuntimeError) as exc:
            self._write_failed = True
            raise StoreError(f"write failed, nothing was changed: {_one_line(exc)}") from exc
        finally:
            self._invalidate()

    def _invalidate(self) -> None:
        self._index = None
        self._predicates = None


def _check_marker(path: Path) -> None:
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        marker = None
    if not isinstance(marker, dict) or marker.get("format") != 1:
        raise StoreError(f"{path} is not a cfkb store this version can open ({MARKER} is not cfkb's);"
                         " check the path")


def _damaged(exc: BaseException) -> bool:
    text = str(exc)
    return text.startswith(("Corruption", "IO error")) or "No such file or directory" in text


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _data_block(quads: list[ox.Quad]) -> str:
    """Quads as the body of INSERT DATA / DELETE DATA.

    Terms are written by pyoxigraph's own N-Triples serialiser, which escapes
    every value, so no text is pasted into the update.
    """
    by_graph: dict[Any, list[ox.Triple]] = {}
    for q in quads:
        by_graph.setdefault(q.graph_name, []).append(q.triple)
    parts = []
    for graph, triples in by_graph.items():
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        parts.append(text if isinstance(graph, ox.DefaultGraph) else f"GRAPH {graph} {{\n{text}}}\n")
    return "".join(parts)


def _data_update(remove: list[ox.Quad], add: list[ox.Quad]) -> str:
    update = f"DELETE DATA {{\n{_data_block(remove)}}}"
    if add:
        update += f";\nINSERT DATA {{\n{_data_block(add)}}}"
    return update

