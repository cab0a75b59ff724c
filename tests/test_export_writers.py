"""The export's writers on their own (issue 7): reading the base as N-Triples
lines, the hand-written Turtle, JSON-LD built with rdflib's own rules,
nanopublications. Same graphs in every tool, same bytes as the plain
writers they replace, whatever the terms."""

from __future__ import annotations

import gc
import json

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfkb.io import export as ex
from cfkb.io import exportgraph, exportheader, exportjsonld, exportnanopub, exportselect, exportwrite
from cfkb.io.tlp import NT_TYPE
from cfkb.model.vocabulary import CFID_NS, CFKB, PREFIXES, RDF, RDFS, SCHEMA, XSD, tlp_term
from cfkb.store.core import KnowledgeBase
from exchange_tools import (
    WHEN,
    claim,
    entity,
    read_with_pyoxigraph,
    read_with_rapper,
    read_with_rdflib,
    read_with_riot,
    same_dataset,
)

settings.register_profile("writers", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
WRITERS = settings.get_profile("writers")
NS = "https://w3id.org/cfkb/ns#"
EXT = {"turtle": "ttl", "trig": "trig", "jsonld": "jsonld", "nt": "nt", "nq": "nq"}

# IRIs that shorten to a prefix, that cannot (a slash or a dot in the local
# part), that sit outside every prefix, that are a prefix's namespace itself,
# and rdf:nil (which JSON-LD writes as an empty list)
IRIS = st.sampled_from([
    NS + "leads", NS + "quote", NS + "Person", NS + "a.b", NS, CFID_NS + "x", CFID_NS + "b/hub-1", CFID_NS,
    "http://example.org/a#b", "http://example.org/c/", "http://www.w3.org/1999/02/22-rdf-syntax-ns#nil",
    "https://schema.org/name", "http://www.w3.org/2001/XMLSchema#date",
]).map(ox.NamedNode)
PREDICATES = st.sampled_from([NS + "leads", NS + "quote", NS + "negated", "http://example.org/p",
                              "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", "https://schema.org/name",
                              NS + "odd.local"]).map(ox.NamedNode)
TEXT = st.text(alphabet='ab "\\\n\r\t.<>_:#@^\u0627\u0644\U0001f600', max_size=12)
TYPED = st.sampled_from([
    ("2023-08-01", XSD.date), ("5", XSD.integer), ("007", XSD.integer), ("-0", XSD.integer), ("0", XSD.integer),
    ("true", XSD.boolean), ("false", XSD.boolean), ("1", XSD.boolean), ("1.5E0", XSD.double),
    ("1.50", XSD.decimal), ("", XSD.string), ("x", XSD.string), ("2024-05-01T12:00:00Z", XSD.dateTime),
    ("anything", ox.NamedNode("http://example.org/dt")),
])
LITERALS = st.one_of(
    TEXT.map(ox.Literal),
    st.tuples(TEXT, st.sampled_from(["en", "ar", "en-gb", "EN-GB"])).map(lambda t: ox.Literal(t[0], language=t[1])),
    TYPED.map(lambda t: ox.Literal(t[0], datatype=t[1])),
)


@st.composite
def quad_sets(draw, bnodes=True):
    subjects = draw(st.lists(IRIS, min_size=1, max_size=4, unique=True))
    blank = [ox.BlankNode(f"b{i}") for i in range(draw(st.integers(0, 2)))] if bnodes else []
    quads = set()
    for s in subjects + blank:
        for _ in range(draw(st.integers(1, 5))):
            o = draw(st.one_of(IRIS, LITERALS, *([st.sampled_from(blank)] if blank else [])))
            quads.add(ox.Quad(s, draw(PREDICATES), o))
    return quads


def memory_store(quads) -> ox.Store:
    store = ox.Store()
    store.extend(quads)
    return store


def grouped(quads) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for q in quads:
        out.setdefault(str(q.subject), set()).add((str(q.predicate), str(q.object)))
    return out


@settings(WRITERS)
@given(quads=quad_sets())
def test_reading_the_base_keeps_every_term_exactly(quads):
    """Lines are cut at " .\\n": literals holding dots, newlines, quotes or "_:" stay whole.
    (The store keeps some literals in canonical form, "007" as "7": compare with what it holds.)"""
    store = memory_store(quads)
    graph, bnodes = exportgraph.read_base(store)
    assert {s: set(pairs) for s, pairs in graph.items()} == grouped(store)
    assert all(len(pairs) == len(set(pairs)) for pairs in graph.values())
    if any(isinstance(t, ox.BlankNode) for q in quads for t in (q.subject, q.object)):
        assert bnodes, "a base with blank nodes must say it may have them"


def plain_turtle(blocks: exportgraph.Graph) -> str:
    """The Turtle writer without its one-object-per-predicate shortcut."""
    short = exportwrite.Shortener(dict(PREFIXES))
    out = [exportwrite.prefix_lines(dict(PREFIXES))]
    for s in exportwrite.block_order(blocks):
        by_p: dict[str, list[str]] = {}
        for p, o in blocks[s]:
            by_p.setdefault(p, []).append(o)
        preds = sorted(by_p)
        if NT_TYPE in preds:
            preds.remove(NT_TYPE)
            preds.insert(0, NT_TYPE)
        parts = [f"{short(p)} {', '.join(sorted({short(o) for o in by_p[p]}))}" for p in preds]
        joined = " ;\n    ".join(parts)
        out.append(f"\n{short(s)} {joined} .\n")
    return "".join(out)


@settings(WRITERS)
@given(quads=quad_sets())
def test_turtle_is_the_same_graph_in_pyoxigraph_and_rdflib_and_the_same_bytes_as_the_plain_writer(quads):
    blocks = ex.read_graph(memory_store(quads))
    text = ex.write("turtle", blocks)
    nt = ex.write("nt", blocks)
    assert text == plain_turtle(blocks)
    assert text == ex.write("turtle", dict(reversed(list(blocks.items()))))
    reference = read_with_pyoxigraph(nt, "nt")
    assert same_dataset(read_with_pyoxigraph(text, "turtle"), reference)
    assert same_dataset(read_with_rdflib(text, "turtle"), reference)


@settings(WRITERS)
@given(quads=quad_sets())
def test_jsonld_gives_the_bytes_of_rdflibs_serialiser(quads):
    blocks = ex.read_graph(memory_store(quads))
    header = ("<https://w3id.org/cfkb/id/export/x>", [(NT_TYPE, f"<{NS}Export>")])
    ours = exportjsonld.write_jsonld(blocks, header, dict(PREFIXES))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(exportjsonld, "jsonld_nodes", lambda *args: None)  # rdflib's serialiser, as before
        theirs = exportjsonld.write_jsonld(blocks, header, dict(PREFIXES))
        again = exportjsonld.write_jsonld(blocks, header, dict(PREFIXES))
    assert ours == theirs == again, "blank nodes keep their labels on either path"


def test_jsonld_takes_rdflibs_own_path_for_what_it_treats_specially():
    plain = {"<urn:a>": [(f"<{NS}leads>", "<urn:b>"), (f"<{NS}quote>", "_:b1")]}
    assert json.loads(json.dumps(exportjsonld.jsonld_nodes(plain, None, dict(PREFIXES)))) == [
        {"@id": "urn:a", "cfkb:leads": {"@id": "urn:b"}, "cfkb:quote": {"@id": "_:b1"}}, {"@id": "_:b1"}]
    for blocks in ({"<urn:a>": [(f"<{RDF.first.value}>", "<urn:b>")]},  # RDF lists
                   {"<urn:a>": [(NT_TYPE, '"not an IRI"')]},
                   {"<urn:a>": [(f"<{NS}negated>", '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>'),
                                (f"<{NS}negated>", '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>')]}):
        assert exportjsonld.jsonld_nodes(blocks, None, dict(PREFIXES)) is None


def test_a_subject_left_without_triples_writes_no_block():
    blocks = {"<urn:a>": [], "<urn:b>": [(NT_TYPE, "<urn:c>")]}
    for fmt in ("turtle", "trig"):
        text = ex.write(fmt, blocks)
        assert "urn:a" not in text
        assert len(list(ox.parse(text.encode(), format=ox.RdfFormat.TURTLE if fmt == "turtle"
                                 else ox.RdfFormat.TRIG))) == 1


@pytest.fixture(scope="module")
def tricky_kb() -> KnowledgeBase:
    """Claims with every kind of literal, several values per predicate, blank nodes."""
    kb = KnowledgeBase.memory()
    quads = entity("org", "Organization", "CLEAR") + entity("speaker", "Person", "CLEAR")
    quads += entity("outlet", "MediaOutlet", "CLEAR")
    quotes = ['says "no" \\ twice', "line one\nline two\r\tend .", "\u0642\u0627\u0644 \u0625\u0646", "_:b0 <x> .",
              "emoji \U0001f600 @en"]
    for i, text in enumerate(quotes):
        quads += claim("speaker", "org", "outlet", level="CLEAR", quote=text, day=1 + i).quads()
    org = ox.NamedNode(CFID_NS + "org")
    address = ox.BlankNode()
    quads += [ox.Quad(org, RDFS.label, ox.Literal("Org", language="en")),
              ox.Quad(org, RDFS.label, ox.Literal("\u0645\u0646\u0638\u0645\u0629", language="ar")),
              ox.Quad(org, SCHEMA.address, address), ox.Quad(address, RDFS.label, ox.Literal('a "quoted" place')),
              ox.Quad(org, SCHEMA.foundingDate, ox.Literal("2003-04-01", datatype=XSD.date)),
              ox.Quad(org, SCHEMA.numberOfEmployees, ox.Literal("007", datatype=XSD.integer))]
    kb.write(quads)
    return kb


@pytest.fixture(scope="module")
def tricky_exports(tricky_kb):
    return {(fmt, profile): ex.export_base(tricky_kb, ex.ExportOptions(format=fmt, profile=profile, when=WHEN,
                                                                        exporter="Exporter"))
            for fmt, profile in [("turtle", None), ("trig", None), ("jsonld", None), ("nt", None), ("nq", None),
                                 ("trig", "nanopub"), ("nq", "nanopub")]}


@pytest.mark.parametrize("reader", ["rdflib", "pyoxigraph", "rapper", "riot"])
@pytest.mark.parametrize("fmt,profile", [("turtle", None), ("trig", None), ("jsonld", None), ("trig", "nanopub")])
def test_tricky_literals_read_back_the_same_in_every_tool(tricky_exports, tmp_path, fmt, profile, reader):
    text = tricky_exports[(fmt, profile)].text
    reference = tricky_exports[("nq", profile)].text
    assert tricky_exports[(fmt, profile)].claims == 5
    path = tmp_path / f"tricky.{EXT[fmt]}"
    path.write_text(text, encoding="utf-8")
    got = {"rdflib": lambda: read_with_rdflib(text, fmt), "pyoxigraph": lambda: read_with_pyoxigraph(text, fmt),
           "rapper": lambda: read_with_rapper(path, fmt), "riot": lambda: read_with_riot(path, fmt, tmp_path)}[reader]()
    assert same_dataset(got, reference), f"{reader} reads the {fmt} export to a different graph"


def test_nanopubs_do_not_depend_on_the_order_claims_come_in(tricky_kb):
    graph, bnodes = exportgraph.read_base(tricky_kb.store)
    from cfkb.io.tlp import release

    rel = release(graph, "GREEN", "AMBER")
    sel = exportselect.select(tricky_kb, graph, rel, ex.ExportOptions(), bnodes=bnodes)
    opts = ex.ExportOptions(format="trig", profile="nanopub", exporter="Exporter")
    header = exportheader.header(opts, ceiling=rel.ceiling, default=rel.default, withheld=rel.withheld_claims,
                                 claims=len(sel.claims), when=WHEN, filters={})
    for fmt in ("trig", "nq"):
        one = exportnanopub.write_nanopub(fmt, header[0], header[1], sel.blocks, set(sel.claims), WHEN, opts)
        other = exportnanopub.write_nanopub(fmt, header[0], header[1], dict(reversed(list(sel.blocks.items()))),
                            set(sorted(sel.claims, reverse=True)), WHEN, opts)
        assert one == other


def test_an_entity_reached_only_through_a_blank_node_of_a_released_claim_stays_home_if_withheld_claims_name_it():
    """The entity is mentioned directly only by a RED claim, so it must not
    appear, not even inside the blank node a released claim points at."""
    kb = KnowledgeBase.memory()
    quads = entity("org", "Organization", "CLEAR") + entity("speaker", "Person", "CLEAR")
    quads += entity("outlet", "MediaOutlet", "CLEAR") + entity("hidden-person", "Person", "CLEAR")
    released = claim("speaker", "org", "outlet", level="CLEAR", quote="RELEASED-QUOTE", day=1)
    red = claim("hidden-person", "org", "outlet", level="RED", quote="PLANTED-RED-QUOTE", day=2)
    place = ox.BlankNode()
    quads += [*released.quads(), *red.quads()]
    quads += [ox.Quad(ox.NamedNode(released.iri), SCHEMA.location, place),
              ox.Quad(place, RDFS.seeAlso, ox.NamedNode(CFID_NS + "hidden-person")),
              ox.Quad(ox.NamedNode(CFID_NS + "org"), CFKB.tlp, tlp_term("CLEAR"))]
    kb.write(quads)
    for fmt in ("nt", "turtle", "jsonld"):
        result = ex.export_base(kb, ex.ExportOptions(format=fmt, ceiling="AMBER", when=WHEN))
        assert "hidden-person" not in result.text and "PLANTED-RED-QUOTE" not in result.text
        assert result.claims == 1 and "RELEASED-QUOTE" in result.text


@pytest.mark.parametrize("enabled", [True, False])
def test_export_leaves_the_garbage_collector_as_it_found_it(tricky_kb, enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        ex.export_base(tricky_kb, ex.ExportOptions(format="nt", when=WHEN))
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()


def test_jsonld_of_a_base_with_blank_nodes_gives_the_same_bytes_twice(tricky_kb, tricky_exports):
    """rdflib's parser draws new blank node labels each time; the export keeps its canonical ones."""
    again = ex.export_base(tricky_kb, ex.ExportOptions(format="jsonld", when=WHEN, exporter="Exporter"))
    assert again.text == tricky_exports[("jsonld", None)].text
    assert '"_:b' in again.text
