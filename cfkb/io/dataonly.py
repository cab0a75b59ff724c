"""Imports carry data only: what an RDF file may not write, and what of a cfkb export is left out.

:func:`data_only` refuses a file that writes the base's own graphs
(ontology, state, settings, staging) or its own records (the settings node,
batches, analysts, partners, exports, conflicts, decisions, gradings,
merges), naming the file, line and column of each such quad; and it leaves
out, counting them, what a cfkb export carries about the sending base
itself: its header and its decisions and conflict records
(:data:`CARRIED_RECORDS`; the receiving base keeps its own).
"""

from __future__ import annotations

import functools
import re

import pyoxigraph as ox

from cfkb.errors import ProtectedDataError
from cfkb.io.rdfio import locate
from cfkb.model.vocabulary import (
    BASE_IRI,
    CFID_NS,
    CFKB,
    CFKB_NS,
    DCT,
    GRAPH_NS,
    OWN_RECORDS,
    RDF,
    STAGING_GRAPH_PREFIX,
)

#: What the header of a cfkb export may say about the export (its own record).
_EXPORT_HEADER = frozenset({
    RDF.type.value, DCT.created.value, DCT.license.value, DCT.creator.value, CFKB.softwareVersion.value,
    CFKB.tlpCeiling.value, CFKB.tlp.value, CFKB.claimCount.value, CFKB.withheldClaims.value,
    CFKB.defaultTlp.value,
})
_EXPORT_PREFIX = CFID_NS + "export/"


def _internal_graph(graph: object) -> str | None:
    """What a graph name is, if it is one of the base's own graphs."""
    if not isinstance(graph, ox.NamedNode):
        return None
    if graph.value.startswith(GRAPH_NS):
        return "the base's own graph"
    if graph.value.startswith(STAGING_GRAPH_PREFIX):
        return "a staging graph of the base"
    return _own_record(graph.value)


def _own_record(iri: str) -> str | None:
    """What an IRI is, if the base mints it for its own records or settings."""
    if iri == BASE_IRI:
        return "the base's settings and state"
    for prefix, what in OWN_RECORDS.items():
        if iri.startswith(prefix):
            return what
    return None


def _export_headers(quads: list[ox.Quad]) -> set[ox.NamedNode]:
    """Subjects that are the header of a cfkb export and nothing else.

    A cfkb export starts with a record of itself (who, when, ceiling): it
    describes the file, the import batch records the file, and it is not
    stored. Anything else said about an export record is refused.
    """
    typed = {q.subject for q in quads if q.predicate == RDF.type and q.object == CFKB.Export
             and isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(_EXPORT_PREFIX)}
    if not typed:
        return set()
    bad = {q.subject for q in quads if q.subject in typed
           and (not isinstance(q.graph_name, ox.DefaultGraph) or isinstance(q.object, ox.BlankNode)
                or (q.predicate.value not in _EXPORT_HEADER
                    and not q.predicate.value.startswith(CFKB_NS + "filter")))}
    return typed - bad


#: Records of the sending base a cfkb export carries (its decisions, its
#: conflicts), by class: never stored by the receiving base, which keeps its
#: own. A decision is known by its class or by ``cfkb:assesses``, whatever
#: its IRI (the base reads a conflict's status from any node that assesses it).
CARRIED_RECORDS = {CFKB.Assessment: "decision", CFKB.Conflict: "conflict record"}
#: Classes of the base's own bookkeeping: refused whatever the node's IRI.
OWN_RECORD_CLASSES = {CFKB.ImportBatch: "an import batch", CFKB.PartnerGrading: "a partner's grading",
                      CFKB.EntityMerge: "an entity merge record", CFKB.EntityUnmerge: "an entity unmerge record",
                      CFKB.Export: "an export record"}


def _carried(quads: list[ox.Quad]) -> tuple[dict[object, str], dict[object, str]]:
    """The sending base's decisions and conflict records in a file, and the
    nodes typed as the base's own bookkeeping, each by what it is."""
    carried: dict[object, str] = {}
    own: dict[object, str] = {}
    for q in quads:
        if q.predicate == RDF.type and isinstance(q.object, ox.NamedNode):
            if q.object in CARRIED_RECORDS:
                carried[q.subject] = CARRIED_RECORDS[q.object]
            elif q.object in OWN_RECORD_CLASSES:
                own[q.subject] = OWN_RECORD_CLASSES[q.object]
        elif q.predicate == CFKB.assesses:
            carried.setdefault(q.subject, "decision")
    return carried, own


def left_out_text(counts: dict[str, int]) -> str:
    """'2 decisions and 1 conflict record', from counts by kind."""
    parts = [f"{n} {what}{'' if n == 1 else 's'}" for what, n in sorted(counts.items()) if n]
    return " and ".join(parts)


def _where(data: bytes, graph: str | None, subject: object) -> tuple[int | None, int | None]:
    """Line and column of a quad: its subject's first mention (after its graph's name, in a graph)."""
    node = subject.value if isinstance(subject, ox.NamedNode) else None
    if graph is None:
        return locate(data, node) if node else (None, None)
    line, col = locate(data, graph)
    if line is None or node is None:
        return line, col
    start = sum(len(text) + 1 for text in data.split(b"\n")[: line - 1])
    sub_line, sub_col = locate(data[start:], node)
    return (line + sub_line - 1, sub_col) if sub_line is not None else (line, col)


@functools.lru_cache(maxsize=1)
def _suspect() -> re.Pattern[bytes]:
    """Any IRI :func:`data_only` looks at, in N-Quads text (where every IRI is
    written in full, whatever prefixes or escapes the file used)."""
    iris = [GRAPH_NS, STAGING_GRAPH_PREFIX, *OWN_RECORDS]
    exact = [BASE_IRI, CFKB.assesses.value, *(c.value for c in (*CARRIED_RECORDS, *OWN_RECORD_CLASSES))]
    root = "https://w3id.org/cfkb/"
    tails = [re.escape(i[len(root):]) for i in iris if i.startswith(root)]
    tails += [re.escape(i[len(root):] + ">") for i in exact if i.startswith(root)]
    others = [re.escape(i) for i in iris if not i.startswith(root)] + [re.escape(i + ">") for i in exact
                                                                        if not i.startswith(root)]
    # one literal prefix, then the alternatives: the scan stops at few places
    pattern = "<(?:" + re.escape(root) + "(?:" + "|".join(tails) + ")" + "".join("|" + o for o in others) + ")"
    return re.compile(pattern.encode())


#: Offending quads located (file, line, column) one by one; more are counted.
MAX_LOCATED = 100


def data_only(path: str, data: bytes, quads: list[ox.Quad]) -> tuple[list[ox.Quad], dict[str, int]]:
    """The quads of an imported file, refused if any writes the base's own
    graphs (ontology, state, settings, staging) or its own records (the
    settings node, batches, analysts, partners, exports, conflicts,
    decisions, gradings, merges).

    What a cfkb export carries about the sending base itself is left out and
    counted: its header (see :func:`_export_headers`), and its decisions and
    conflict records (:data:`CARRIED_RECORDS`; the receiving base keeps its
    own). Returns the quads to import and the count of what was left out,
    by kind.

    Raises:
        ProtectedDataError: one line per offending quad (the first
            :data:`MAX_LOCATED`, then how many more), with the file, line
            and column of the quad and the IRI; nothing is imported.
    """
    if not _suspect().search(ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""):
        return quads, {}  # nothing names the base's own graphs, records or their classes: the usual case
    headers = _export_headers(quads)
    carried, typed_own = _carried(quads)
    problems: list[str] = []
    more = 0
    kept: list[ox.Quad] = []
    left_out: dict[object, str] = {}
    graphs: dict[object, str | None] = {}  # a file names few graphs: each decided once
    places: dict[tuple[str | None, object], tuple[int | None, int | None]] = {}
    for q in quads:
        s, g = q.subject, q.graph_name
        subject = None
        if isinstance(s, ox.NamedNode):
            iri_text = s.value
            if iri_text.startswith(CFID_NS):
                subject = _own_record(iri_text)
        if subject is None and (typed_own or carried):
            subject = typed_own.get(s) or ("a record of the sending base" if s in carried else None)
        graph = graphs.get(g, "")
        if graph == "":
            graph = graphs[g] = _internal_graph(g)
        if graph is None and subject is None:
            kept.append(q)
            continue
        if graph is None and s in headers:
            continue
        if graph is None and s in carried and s not in typed_own:
            left_out[s] = carried[s]
            continue
        if len(problems) >= MAX_LOCATED:
            more += 1
            continue
        if graph and not isinstance(g, ox.DefaultGraph):
            iri = g.value
        else:
            iri = str(s)[1:-1] if isinstance(s, ox.NamedNode) else str(s)
        what = f"writes into {graph} <{iri}>" if graph else f"is about {subject} <{iri}>"
        key = (iri if graph else None, s)
        if key not in places:
            places[key] = _where(data, key[0], s)
        line, col = places[key]
        where = path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        problems.append(f"{where}: refused: {s} {q.predicate} ... {what};"
                        " an import carries data only (claims, entities, sources): remove it from the file")
    if more:
        problems.append(f"{path}: refused: {more} more quad(s) about the base's own graphs or records")
    if problems:
        raise ProtectedDataError(problems)
    counts: dict[str, int] = {}
    for what in left_out.values():
        counts[what] = counts.get(what, 0) + 1
    return kept, counts
