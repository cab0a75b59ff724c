"""The SPARQL Update texts cfkb writes itself: quads added and removed, graphs dropped.

They are generated here, not kept in ``queries/own/*.rq`` files: SPARQL Update
cannot bind a value to a variable, so each text is written with its terms
(quads, graph names) serialised by pyoxigraph, which escapes every value;
no text is ever pasted into an update. The embedded store
(:meth:`cfkb.store.core.KnowledgeBase.write`) and the remote one
(:class:`cfkb.store.remote.RemoteStore`) send the same texts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox

#: Every quad of every graph removed.
DROP_ALL = "DROP SILENT ALL"
#: Every quad of the default graph removed.
CLEAR_DEFAULT = "CLEAR SILENT DEFAULT"


def data_block(quads: Iterable[ox.Quad]) -> str:
    """Quads as the body of ``INSERT DATA`` / ``DELETE DATA``: N-Triples by pyoxigraph, a
    ``GRAPH`` block for each named graph."""
    by_graph: dict[Any, list[ox.Triple]] = {}
    for q in quads:
        by_graph.setdefault(q.graph_name, []).append(q.triple)
    parts = []
    for graph, triples in by_graph.items():
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        parts.append(text if isinstance(graph, ox.DefaultGraph) else f"GRAPH {graph} {{\n{text}}}\n")
    return "".join(parts)


def insert_data(quads: Iterable[ox.Quad]) -> str:
    """One ``INSERT DATA`` of the quads."""
    return f"INSERT DATA {{\n{data_block(quads)}}}"


def data_update(remove: list[ox.Quad], add: list[ox.Quad]) -> str:
    """One update that removes ``remove``, then adds ``add`` (``DELETE DATA``; ``INSERT DATA``)."""
    update = f"DELETE DATA {{\n{data_block(remove)}}}"
    if add:
        update += f";\n{insert_data(add)}"
    return update


def drop_graphs(graphs: Iterable[ox.NamedNode | ox.BlankNode]) -> str:
    """One update that drops each of the named graphs (``SILENT``: one already gone is no error)."""
    return " ;\n".join(f"DROP SILENT GRAPH {g}" for g in graphs)
