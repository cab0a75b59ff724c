"""The export reads the base piece by piece as pyoxigraph dumps it: the same graph, the same bytes
as reading the whole dump at once (issue 21)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb.io import export, exportgraph
from cfkb.io.export import FORMATS, ExportOptions, export_base
from cfkb.model.vocabulary import CFKB, INTERNAL_GRAPHS, TLP_LEVELS
from cfkb.store.core import KnowledgeBase

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _read_whole(store: ox.Store) -> tuple[exportgraph.Graph, bool]:
    """The reader before: every dump held whole, then split into lines."""
    chunks = [store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())]
    for g in store.named_graphs():
        if g not in INTERNAL_GRAPHS:
            chunks.append(store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=g))
        else:
            marks = [ox.Triple(q.subject, q.predicate, q.object)
                     for q in store.quads_for_pattern(None, CFKB.tlp, None, g)]
            if marks:
                chunks.append(ox.serialize(marks, format=ox.RdfFormat.N_TRIPLES))
    graph: exportgraph.Graph = {}
    bnodes = False
    for chunk in chunks:
        if not chunk:
            continue
        bnodes = bnodes or b"_:" in chunk
        lines = chunk.decode("utf-8").split(" .\n")
        if lines[-1] == "":
            lines.pop()
        for line in lines:
            s, p, o = line.split(" ", 2)
            graph.setdefault(s, []).append((p, o))
    return graph, bnodes


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base from the conflict generator, with a named graph, a blank node and Arabic text beside it."""
    from bench.generate import write_nquads

    path = tmp_path_factory.mktemp("generated")
    data = path / "claims.nq"
    write_nquads(400, 3, data)
    kb = KnowledgeBase.create(path / "kb")
    kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
    kb.store.load(b'<https://w3id.org/cfkb/id/x> <http://www.w3.org/2000/01/rdf-schema#label>'
                  b' "\xd8\xad\xd9\x82\xd9\x88\xd9\x82"@ar .\n'
                  b'<https://w3id.org/cfkb/id/x> <https://w3id.org/cfkb/ns#note> _:n .\n'
                  b'_:n <http://www.w3.org/2000/01/rdf-schema#comment> "a \\"quoted\\" . line" .\n',
                  format=ox.RdfFormat.N_TRIPLES)
    kb.store.add(ox.Quad(ox.NamedNode("https://w3id.org/cfkb/id/y"), CFKB.tlp, CFKB.term("TLP_GREEN"),
                         ox.NamedNode("https://example.org/graph")))
    kb.close()
    return path / "kb"


@pytest.mark.parametrize("base", ["seed", "generated"])
def test_the_graph_read_piece_by_piece_is_the_graph_read_whole(base, seed_template, generated):
    with KnowledgeBase.open(seed_template if base == "seed" else generated) as kb:
        assert exportgraph.read_base(kb.store) == _read_whole(kb.store)


def test_pieces_cut_anywhere_give_the_same_graph(generated):
    with KnowledgeBase.open(generated) as kb:
        dump = kb.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    expected: exportgraph.Graph = {}
    for line in dump.decode("utf-8").split(" .\n")[:-1]:
        s, p, o = line.split(" ", 2)
        expected.setdefault(s, []).append((p, o))
    rng = random.Random(4)
    for _ in range(5):
        reader = exportgraph.Reader()
        at = 0
        while at < len(dump):
            step = rng.choice([1, 2, 3, 7, 64, 4096])
            reader.write(dump[at:at + step])
            at += step
        reader.close()
        assert reader.graph == expected


@pytest.mark.parametrize("base", ["seed", "generated"])
@pytest.mark.parametrize("ceiling", TLP_LEVELS)
def test_the_export_gives_the_bytes_of_the_whole_dump_reader(base, ceiling, seed_template, generated, monkeypatch):
    store = seed_template if base == "seed" else generated
    with KnowledgeBase.open(store) as kb:
        now = {f: export_base(kb, ExportOptions(format=f, ceiling=ceiling, when=WHEN)).text for f in FORMATS}
        monkeypatch.setattr(export, "read_base", _read_whole)
        before = {f: export_base(kb, ExportOptions(format=f, ceiling=ceiling, when=WHEN)).text for f in FORMATS}
    assert now == before
