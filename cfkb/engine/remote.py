"""Keeping a remote base's claim table and conflict index current, by delta.

A base on a shared SPARQL server keeps its claim table in the user's cache
(:func:`cfkb.engine.table.table_path`), stamped with the server's
generation. After a write made through cfkb, :func:`follow_remote_write`
brings it along as :func:`cfkb.engine.upkeep.follow_write` does for a base on
disk, with two differences that a server imposes:

* the statements the write touched and that the table held (or that lost
  quads) are read again in a few batched requests (a ``VALUES`` block of
  terms, :meth:`cfkb.store.remote.RemoteStore.quads_for_subjects`), never one
  request per statement;
* no lock keeps other clients out, so the write's own generation is not
  proof that the server holds only this write's changes. After the reads,
  the server's ``cfkb:generation`` values are read once more: they must be
  exactly those the write found, less those it removed, plus its own. Any
  other value is another client's write, made between this write's first
  read and now; then nothing is applied and the stamp stays at the old
  generation, so the next open sees it stale and makes the table again.

As on disk, the stamp moves only if the table was current at the write's
``before`` generation, and only in the DuckDB transaction that applies the
delta to the claims and the index.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

import duckdb
import pyoxigraph as ox

from cfkb.engine.facts import CLAIM, FIELDS, INCLUDES, KIND_CLASSES, TYPE, load_facts, read_lines, small_tables
from cfkb.engine.table import table_path
from cfkb.engine.upkeep import SMALL_WRITE, Also, open_current, replace_rows, written_facts
from cfkb.model.vocabulary import CFKB_NS, STATE_GRAPH
from cfkb.store.backend import quads_of_subjects, value_of
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase

log = logging.getLogger("cfkb.engine")

_STATE = ox.NamedNode("https://w3id.org/cfkb/id/base")
_GENERATION = ox.NamedNode(CFKB_NS + "generation")
#: the predicates the claim table reads, fetched again for the statements a write touched
_READ = (*(ox.NamedNode(p) for p in FIELDS), TYPE)


def _generations(quads: list[ox.Quad]) -> set[Any]:
    return {q.object for q in quads if q.predicate == _GENERATION and q.subject == _STATE
            and q.graph_name == STATE_GRAPH}


def written_alone(kb: KnowledgeBase, add: list[ox.Quad], remove: list[ox.Quad]) -> str | None:
    """The generation this write made, if the server holds exactly what the
    write left (the generations it read, less those it removed, plus its own);
    None if another client wrote meanwhile (or the values cannot be told)."""
    ours = _generations(add)
    if len(ours) != 1:
        return None
    expected = (set(kb.generations_read) - _generations(remove)) | ours
    now = {q.object for q in kb.store.quads_for_pattern(_STATE, _GENERATION, None, STATE_GRAPH)}
    if now != expected:
        return None
    return value_of(next(iter(ours)))


def follow_remote_write(kb: KnowledgeBase, before: str, add: list[ox.Quad], remove: list[ox.Quad],
                        nquads: Any = b"", also: Also | None = None) -> None:
    """Apply a committed write on a server to the local claim table (and,
    through ``also``, the conflict index), if the table was current at
    ``before`` and no other client wrote meanwhile (module docs).

    Any failure, or a write by another client, leaves the old stamp: the
    next open finds the table stale and makes it again from the graph.
    """
    path = table_path(kb)
    if path is None or not path.is_file():
        return
    con = open_current(path, before, small_write=not nquads and len(add) + len(remove) <= SMALL_WRITE)
    if con is None:
        return
    try:
        with collector_paused():
            if nquads:  # a batch's lines, parsed only for a table that is kept
                add = [*add, *ox.parse(nquads, format=ox.RdfFormat.N_QUADS)]
            added: dict[str, list[ox.Quad]] = {}
            for q in add:
                if isinstance(q.subject, ox.NamedNode) and q.graph_name != STATE_GRAPH:
                    added.setdefault(q.subject.value, []).append(q)
            removed = {q.subject.value for q in remove
                       if isinstance(q.subject, ox.NamedNode) and q.graph_name != STATE_GRAPH}
            # a subject whose touched quads hold no field of a row keeps its row (or its lack of
            # one): an analyst's or a batch's record is not read back, however many quads it has
            relevant = {q.subject.value for q in (*add, *remove) if isinstance(q.subject, ox.NamedNode)
                        and (q.predicate.value in FIELDS or (q.predicate == TYPE and q.object == CLAIM))}
            added = {iri: quads for iri, quads in added.items() if iri in relevant}
            removed &= relevant
            subjects = set(added) | removed
            small = any(q.predicate == INCLUDES or (q.predicate == TYPE and value_of(q.object) in KIND_CLASSES)
                        for q in (*add, *remove))
            con.execute("BEGIN")
            con.execute("CREATE TEMP TABLE touched (iri VARCHAR)")
            if subjects:
                read_lines(con, "touched", subjects, str(path.parent))
            held = {r[0] for r in con.execute("SELECT iri FROM claims SEMI JOIN touched USING (iri)").fetchall()}
            reread = held | (subjects - set(added)) | removed
            facts = written_facts(added, reread)
            # the statements to read again: a few batched requests, never one per statement
            for q in quads_of_subjects(kb.store, (ox.NamedNode(i) for i in sorted(reread)), _READ):
                facts.add(q.subject, q.predicate.value, q.object)
            load_facts(con, facts.lines, str(path.parent))
            if small:
                small_tables(con, kb.store)
            # every read of the graph is done: they saw this write alone, or the table waits for a rebuild
            generation = written_alone(kb, add, remove)
            if generation is None:
                log.info("another client wrote to %s meanwhile: its claim table is made again when next read",
                         kb.location)
                con.execute("ROLLBACK")
                return
        # the small tables were made again above, before the generation check
        replace_rows(con, before, generation, held=bool(held), small=small, facts=facts,
                     also=None if also is None else functools.partial(also, add=add), small_tables_from=None)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
