"""The export reads the base piece by piece as pyoxigraph dumps it: the same graph, the same bytes
as reading the whole dump at once; Turtle, TriG, N-Triples and N-Quads are written as they are made,
the claims spilled to files, and give the bytes of the export that holds the base (issue 21)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb.io import export, exportgraph
from cfkb.io.export import FORMATS, ExportOptions, export_base
from cfkb.model.vocabulary import CFKB, INTERNAL_GRAPHS, TLP_LEVELS, tlp_term
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


def _generated_base(path: Path, claims: int, seed: int) -> KnowledgeBase:
    """A new base at ``path / "kb"`` holding ``claims`` claims from the conflict generator, open."""
    from bench.generate import write_nquads

    data = path / "claims.nq"
    write_nquads(claims, seed, data)
    kb = KnowledgeBase.create(path / "kb")
    kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
    return kb


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base from the conflict generator, with a named graph, a blank node and Arabic text beside it."""
    path = tmp_path_factory.mktemp("generated")
    kb = _generated_base(path, 400, 3)
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


def test_the_dump_read_while_it_is_written_in_small_pieces_is_the_graph_read_whole(generated, monkeypatch):
    """The dump file read a kilobyte at a time as pyoxigraph writes it, its read part given back to the disk
    every 4 KB: the same graph."""
    monkeypatch.setattr(exportgraph, "_PIECE", 1024)
    monkeypatch.setattr(exportgraph, "_RELEASE", 4096)
    with KnowledgeBase.open(generated) as kb:
        assert exportgraph.read_base(kb.store) == _read_whole(kb.store)


class _SlowDump:
    """A store whose dump writes its file a few lines at a time, with pauses, then fails if told to."""

    def __init__(self, lines: list[bytes], fail: bool = False) -> None:
        self.lines, self.fail = lines, fail
        self.finished = False

    def dump(self, output: str, **_: object) -> None:
        import time

        with open(output, "wb") as f:  # truncates the file the reader has open, as pyoxigraph does
            for i in range(0, len(self.lines), 7):
                f.write(b"".join(self.lines[i:i + 7]))
                f.flush()
                time.sleep(0.002)
        self.finished = True
        if self.fail:
            raise OSError(28, "No space left on device")


def test_a_dump_written_slowly_is_read_whole_and_its_file_removed(tmp_path):
    lines = [f"<https://example.org/s{i}> <https://example.org/p> \"{i}\" .\n".encode() for i in range(200)]
    reader = exportgraph.Reader()
    exportgraph._dump_beside(_SlowDump(lines), reader, ox.DefaultGraph(), tmp_path)  # type: ignore[arg-type]
    reader.close()
    assert sorted(reader.graph) == sorted(f"<https://example.org/s{i}>" for i in range(200))
    assert list(tmp_path.iterdir()) == []


def test_a_dump_that_fails_raises_its_error_and_leaves_no_file(tmp_path):
    lines = [b"<https://example.org/s> <https://example.org/p> <https://example.org/o> .\n"] * 30
    with pytest.raises(OSError, match="No space left"):
        exportgraph._dump_beside(_SlowDump(lines, fail=True), exportgraph.Reader(), ox.DefaultGraph(),  # type: ignore[arg-type]
                                 tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_reading_that_fails_does_not_wait_for_the_dump_and_leaves_no_file(tmp_path):
    class Failing(exportgraph.Reader):
        def write(self, data: bytes) -> int:
            raise ValueError("the reading failed")

    lines = [f"<https://example.org/s{i}> <https://example.org/p> \"{i}\" .\n".encode() for i in range(6000)]
    dump = _SlowDump(lines)  # at least 1.7 s of writing: 857 pauses
    with pytest.raises(ValueError, match="the reading failed"):
        exportgraph._dump_beside(dump, Failing(), ox.DefaultGraph(), tmp_path)  # type: ignore[arg-type]
    assert not dump.finished and list(tmp_path.iterdir()) == []  # gone while the dump still writes


def test_the_read_part_of_the_dump_file_is_given_back_to_the_disk(tmp_path):
    path = tmp_path / "dump.nt"
    path.write_bytes(b"x" * (8 << 20))
    import os

    with open(path, "r+b") as f:  # as the dump file is read: through the handle it was made with
        os.fsync(f.fileno())
        before = os.fstat(f.fileno()).st_blocks
        exportgraph._give_back(f.fileno(), 4 << 20)
        after = os.fstat(f.fileno()).st_blocks
    if after == before:
        pytest.skip("this file system keeps the blocks of a punched hole")
    assert after * 512 <= (4 << 20) + (1 << 16) and path.stat().st_size == 8 << 20
    assert path.read_bytes()[(4 << 20):] == b"x" * (4 << 20)


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
        before = {f: export.export_whole(kb, ExportOptions(format=f, ceiling=ceiling, when=WHEN)).text
                  for f in FORMATS}
    assert now == before


# -- the streamed export against the export that holds the base --------------------------

SUBSETS = {
    "seed": [{}, {"entity": "Hoquq"}, {"source": "Al-Rabaa TV"}, {"area": "Diyala"},
             {"since": dt.date(2023, 8, 1), "until": dt.date(2023, 8, 31)}, {"conflicts_only": True},
             {"accepted_view": True}, {"conflicts_only": True, "accepted_view": True},
             {"entity": "Hoquq", "conflicts_only": True}],
    "generated": [{}, {"area": "https://w3id.org/cfkb/id/b/r2"}, {"since": dt.date(2023, 3, 1)},
                  {"entity": "https://w3id.org/cfkb/id/b/hub-list-3"}, {"conflicts_only": True},
                  {"accepted_view": True}],
}


def _outcome(run: object, kb: KnowledgeBase, opts: ExportOptions) -> tuple[object, ...]:
    try:
        r = run(kb, opts)  # type: ignore[operator]
    except Exception as exc:  # the same refusal both ways
        return type(exc).__name__, str(exc)
    return r.text, r.claims, r.withheld, r.triples, r.iri, r.filters


def _same(kb: KnowledgeBase, **kw: object) -> None:
    opts = ExportOptions(when=WHEN, exporter="Exporter", **kw)  # type: ignore[arg-type]
    streamed, whole = _outcome(export_base, kb, opts), _outcome(export.export_whole, kb, opts)
    assert streamed[0] == whole[0], kw
    assert streamed == whole, kw


@pytest.mark.parametrize("base", ["seed", "generated"])
@pytest.mark.parametrize("ceiling", ["GREEN", "AMBER+STRICT"])
def test_the_streamed_export_gives_the_bytes_of_the_whole_export(base, ceiling, seed_template, generated):
    with KnowledgeBase.open(seed_template if base == "seed" else generated) as kb:
        for fmt in export.STREAMED:
            _same(kb, format=fmt, ceiling=ceiling)


@pytest.mark.parametrize("base", ["seed", "generated"])
@pytest.mark.parametrize("fmt", ["turtle", "nq", "jsonld"])
@pytest.mark.parametrize("ceiling", ["GREEN", "AMBER+STRICT"])
def test_a_streamed_subset_gives_the_bytes_of_the_whole_export(base, fmt, ceiling, seed_template, generated):
    with KnowledgeBase.open(seed_template if base == "seed" else generated) as kb:
        for subset in SUBSETS[base][1:]:
            _same(kb, format=fmt, ceiling=ceiling, **subset)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated base with claims and entities at every marking, a mark in the base's own graph,
    a claim IRI that names no claim, a claim outside the claims' namespace, assessments and blank nodes."""
    from bench.generate import write_nquads

    path = tmp_path_factory.mktemp("mixed")
    data = path / "claims.nq"
    write_nquads(800, 5, data)
    kb = KnowledgeBase.create(path / "kb")
    kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
    rng = random.Random(7)
    claims = sorted(q.subject for q in kb.store.quads_for_pattern(None, ox.NamedNode(
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), CFKB.Claim, None))
    entities = sorted({q.object for q in kb.store.quads_for_pattern(None, ox.NamedNode(
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#subject"), None, None)}, key=str)
    levels = [tlp_term(lv) for lv in TLP_LEVELS]
    quads = []
    for c in rng.sample(claims, 250):
        quads.append(ox.Quad(c, CFKB.tlp, rng.choice(levels)))
    for c in rng.sample(claims, 30):  # a mark in the base's own graph, beside its claim
        quads.append(ox.Quad(c, CFKB.tlp, rng.choice(levels), INTERNAL_GRAPHS[1]))
    for e in rng.sample(entities, 20):
        quads.append(ox.Quad(e, CFKB.tlp, rng.choice(levels)))
    claim_ns = claims[0].value.rsplit("/", 1)[0] + "/"
    ghost = ox.NamedNode(claim_ns + "0000ghost")  # a claim IRI that names no claim: a mark alone
    quads.append(ox.Quad(ghost, CFKB.tlp, levels[0]))
    foreign = ox.NamedNode("https://example.org/claims/1")  # a claim outside the claims' namespace
    quads += [ox.Quad(foreign, q.predicate, q.object) for q in kb.store.quads_for_pattern(claims[1], None, None, None)]
    node = ox.BlankNode("note")
    quads += [ox.Quad(claims[2], CFKB.term("note"), node), ox.Quad(node, CFKB.term("says"), ox.Literal("x")),
              ox.Quad(entities[0], CFKB.term("note"), ox.BlankNode("other")),
              ox.Quad(ox.BlankNode("other"), CFKB.term("about"), claims[3])]
    for i, c in enumerate(claims[10:20]):  # assessments of claims and of a ghost
        a = ox.NamedNode(f"https://w3id.org/cfkb/id/assessment/{i}")
        quads += [ox.Quad(a, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), CFKB.Assessment),
                  ox.Quad(a, CFKB.term("about"), c), ox.Quad(a, CFKB.term("status"), ox.Literal("seen"))]
        if i % 3 == 0:
            quads.append(ox.Quad(a, CFKB.term("about"), ghost))
    # unmarked nodes count as GREEN: what a GREEN export carries differs from an AMBER one
    quads.append(ox.Quad(ox.NamedNode("https://w3id.org/cfkb/id/base"), CFKB.defaultTlp, levels[1]))
    kb.store.extend(quads)
    kb.close()
    return path / "kb"


@pytest.mark.parametrize("fmt", ["turtle", "nq", "jsonld", "trig nanopub", "nq nanopub"])
@pytest.mark.parametrize("ceiling", ["GREEN", "AMBER"])
def test_a_mixed_base_gives_the_same_bytes_streamed(mixed, fmt, ceiling):
    fmt, _, profile = fmt.partition(" ")
    with KnowledgeBase.open(mixed) as kb:
        for subset in ({}, {"since": dt.date(2023, 6, 1)}, {"conflicts_only": True}, {"accepted_view": True}):
            _same(kb, format=fmt, ceiling=ceiling, profile=profile or None, **subset)


@pytest.mark.parametrize("base", ["seed", "generated"])
@pytest.mark.parametrize("fmt", ["trig", "nq"])
def test_the_nanopub_profile_is_streamed_with_the_same_bytes(base, fmt, seed_template, generated, monkeypatch):
    with KnowledgeBase.open(seed_template if base == "seed" else generated) as kb:
        for ceiling in ("GREEN", "AMBER+STRICT"):
            for subset in SUBSETS[base][:4] + [{"conflicts_only": True}, {"accepted_view": True}]:
                _same(kb, format=fmt, ceiling=ceiling, profile="nanopub", **subset)
        whole = export.export_whole(kb, ExportOptions(format=fmt, profile="nanopub", ceiling="AMBER", when=WHEN))
        _whole_refused(monkeypatch)
        pieces: list[str] = []
        export.export_to(kb, pieces.append, ExportOptions(format=fmt, profile="nanopub", ceiling="AMBER", when=WHEN))
    assert "".join(pieces) == whole.text


@pytest.mark.parametrize("fmt", ["nt", "jsonld"])
def test_buckets_split_when_they_grow_give_the_same_bytes(generated, monkeypatch, fmt):
    from cfkb.io import exportspill

    with KnowledgeBase.open(generated) as kb:
        before = export.export_whole(kb, ExportOptions(format=fmt, ceiling="AMBER", when=WHEN)).text
        monkeypatch.setattr(exportspill, "BUCKET_BYTES", 2000)
        monkeypatch.setattr(exportspill, "FLUSH_BYTES", 3000)
        assert export_base(kb, ExportOptions(format=fmt, ceiling="AMBER", when=WHEN)).text == before


def _whole_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the export held the base")

    monkeypatch.setattr(export, "_export", refuse)


@pytest.mark.parametrize("base", ["seed", "generated"])
def test_jsonld_is_streamed(base, seed_template, generated, monkeypatch):
    with KnowledgeBase.open(seed_template if base == "seed" else generated) as kb:
        whole = export.export_whole(kb, ExportOptions(format="jsonld", ceiling="AMBER", when=WHEN)).text
        _whole_refused(monkeypatch)
        pieces: list[str] = []
        export.export_to(kb, pieces.append, ExportOptions(format="jsonld", ceiling="AMBER", when=WHEN))
    assert "".join(pieces) == whole


@pytest.fixture(scope="module")
def unplain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated base, and beside it a claim IRI whose compacted name sorts elsewhere than its IRI."""
    path = tmp_path_factory.mktemp("unplain")
    _generated_base(path, 60, 2).close()
    return path / "kb"


_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _copies(claim: ox.NamedNode, store: ox.Store, *names: str) -> list[ox.Quad]:
    """The claim's triples said again by other claims of the claims' namespace."""
    ns = claim.value.rsplit("/", 1)[0] + "/"
    return [ox.Quad(ox.NamedNode(ns + n), q.predicate, q.object)
            for n in names for q in store.quads_for_pattern(claim, None, None, ox.DefaultGraph())]


@pytest.mark.parametrize(("case", "fmt"), [("order", "jsonld"), ("dropped", "jsonld"), ("list", "jsonld"),
                                           ("order", "nq nanopub"), ("order", "trig nanopub")])
def test_what_can_not_be_streamed_is_written_whole_with_the_same_bytes(unplain, tmp_path, monkeypatch, case, fmt):
    import shutil

    shutil.copytree(unplain, tmp_path / "kb")
    with KnowledgeBase.open(tmp_path / "kb", write=True) as kb:
        claim = min(q.subject for q in kb.store.quads_for_pattern(None, ox.NamedNode(_RDF + "type"), CFKB.Claim, None))
        assert isinstance(claim, ox.NamedNode)
        if case == "order":
            # compacted, "ffabc" sorts before "ffabc-x"; as IRIs, "<...ffabc-x>" before "<...ffabc>"
            quads = _copies(claim, kb.store, "ffabc", "ffabc-x")
        elif case == "dropped":  # two values for one key, one of them "": rdflib keeps one
            quads = [ox.Quad(claim, CFKB.term("note"), ox.Literal(v)) for v in ("", "x")]
        else:  # an RDF list: rdflib writes it
            first = ox.BlankNode("l1")
            quads = [ox.Quad(claim, CFKB.term("note"), first),
                     ox.Quad(first, ox.NamedNode(_RDF + "first"), ox.Literal("1")),
                     ox.Quad(first, ox.NamedNode(_RDF + "rest"), ox.NamedNode(_RDF + "nil"))]
        kb.store.extend(quads)
    held: list[bool] = []
    whole = export._export
    monkeypatch.setattr(export, "_export", lambda *args: held.append(True) or whole(*args))
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        fmt, _, profile = fmt.partition(" ")
        opts = ExportOptions(format=fmt, profile=profile or None, ceiling="AMBER", when=WHEN)
        pieces: list[str] = []
        export.export_to(kb, pieces.append, opts)
        assert held == [True]
        assert "".join(pieces) == export.export_whole(kb, opts).text
