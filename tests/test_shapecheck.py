"""The compiled shape check and pySHACL (the reference) agree on bad and good batches."""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox
import pytest
import rdflib

from cfkb.model.vocabulary import CFID_NS, CFKB, ONTOLOGY_GRAPH, PROV, RDF, SH_NS, XSD, Claim
from cfkb.resources import shapes_dir
from cfkb.shacl.compiler import NotCompilableError, compile_shapes, compiled
from cfkb.shacl.shapecheck import check, type_quads
from cfkb.shacl.validate import load_shapes, run_pyshacl, to_rdflib
from cfkb.store.core import KnowledgeBase

SHAPES = (shapes_dir() / "claims.ttl",)
GOOD = Claim(subject=CFID_NS + "kataib-hezbollah", predicate=CFKB.participatesIn.value,
             object=CFID_NS + "iraq-provincial-elections-2023", source=CFID_NS + "al-iraqiya-tv",
             negated=True, speaker=CFID_NS + "qais-al-khazali", date=dt.date(2023, 8, 22),
             area=CFID_NS + "diyala", election=CFID_NS + "iraq-provincial-elections-2023",
             cited_in=CFID_NS + "winep-cf-four-way-split-part-1", reliability="B", credibility=2, tlp="CLEAR",
             quote="x", quote_lang="en")
C = ox.NamedNode(GOOD.iri)


def lit(v: str, t: ox.NamedNode = XSD.string) -> ox.Literal:
    return ox.Literal(v, datatype=t)


def swap(p: ox.NamedNode, *objects: ox.Term) -> list[ox.Quad]:
    """The good claim with property ``p`` given ``objects`` instead."""
    return [q for q in GOOD.quads() if q.predicate != p] + [ox.Quad(C, p, o) for o in objects]


BATCHES = {
    "good": list(GOOD.quads()),
    "no date": swap(CFKB.statedOn),
    "two dates": swap(CFKB.statedOn, lit("2023-08-22", XSD.date), lit("2023-08-23", XSD.date)),
    "ill-formed date": swap(CFKB.statedOn, lit("2023-13-45", XSD.date)),
    "date as string": swap(CFKB.statedOn, lit("2023-08-22")),
    "no subject": swap(RDF.subject),
    "literal subject": swap(RDF.subject, lit("KH")),
    "two objects": swap(RDF.object, ox.NamedNode(CFID_NS + "iraq-provincial-elections-2023"),
                        ox.NamedNode(CFID_NS + "diyala")),
    "object of wrong type": swap(RDF.object, ox.NamedNode(CFID_NS + "tahalof-nabni")),
    "subject of wrong type": swap(RDF.subject, ox.NamedNode(CFID_NS + "diyala")),
    "untyped subject": swap(RDF.subject, ox.NamedNode(CFID_NS + "nobody-knows")),
    "not a claim predicate": swap(RDF.predicate, RDF.type),
    "source a person": swap(CFKB.statedIn, ox.NamedNode(CFID_NS + "qais-al-khazali")),
    "no source": swap(CFKB.statedIn),
    "cited in an outlet": swap(CFKB.citedIn, ox.NamedNode(CFID_NS + "al-iraqiya-tv")),
    "area an election": swap(CFKB.inArea, ox.NamedNode(CFID_NS + "iraq-provincial-elections-2023")),
    "reliability G": swap(CFKB.reliability, lit("G")),
    "reliability lowercase": swap(CFKB.reliability, lit("b")),
    "credibility 7": swap(CFKB.credibility, lit("7", XSD.integer)),
    "credibility 0 and 3": swap(CFKB.credibility, lit("0", XSD.integer), lit("3", XSD.integer)),
    "credibility as text": swap(CFKB.credibility, lit("3")),
    "credibility not a number": swap(CFKB.credibility, lit("three", XSD.integer)),
    "tlp unknown": swap(CFKB.tlp, CFKB.TLP_PURPLE),
    "negated not boolean": swap(CFKB.negated, lit("maybe", XSD.boolean)),
    "negated missing": swap(CFKB.negated),
    "two speakers": swap(PROV.wasAttributedTo, ox.NamedNode(CFID_NS + "qais-al-khazali"),
                         ox.NamedNode(CFID_NS + "hossein-moanes")),
    "two quotes": swap(CFKB.quote, ox.Literal("a", language="en"), ox.Literal("b", language="ar")),
    "blank-node claim": [ox.Quad(ox.BlankNode("c1"), q.predicate, q.object) for q in GOOD.quads()][:5],
}


@pytest.fixture(scope="module")
def base(seed_template) -> KnowledgeBase:
    kb = KnowledgeBase.open(seed_template)
    yield kb
    kb.close()


def _context(kb: KnowledgeBase, batch: list[ox.Quad]) -> list[ox.Quad]:
    nodes = {q.object for q in batch if isinstance(q.object, ox.NamedNode)}
    nodes |= {q.subject for q in batch if isinstance(q.subject, ox.NamedNode)}
    return type_quads(nodes, kb.entity_index().types)


def _reference(batch: list[ox.Quad], context: list[ox.Quad]) -> set[tuple[str, str, str]]:
    conforms, report = run_pyshacl(to_rdflib(batch + context), load_shapes(SHAPES))
    SH = rdflib.Namespace(SH_NS)
    out = set()
    for r in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        focus = report.value(r, SH.focusNode)
        path = report.value(r, SH.resultPath)
        out.add((str(focus) if isinstance(focus, rdflib.URIRef) else "_blank", str(path or ""),
                 str(report.value(r, SH.sourceConstraintComponent))))
    return out


def _compiled(kb: KnowledgeBase, batch: list[ox.Quad], context: list[ox.Quad]) -> set[tuple[str, str, str]]:
    found = check(compiled(SHAPES), batch, context, list(kb.quads(ONTOLOGY_GRAPH)))
    return {(v.focus if not v.focus.startswith("_:") else "_blank", v.path or "", v.constraint or "")
            for v in found}


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_compiled_check_agrees_with_pyshacl(base, name):
    batch = BATCHES[name]
    context = _context(base, batch)
    reference = _reference(batch, context)
    assert _compiled(base, batch, context) == reference
    assert bool(reference) == (name != "good")


def test_the_seed_conforms_in_both(base):
    from cfkb.io.export import data_quads

    quads = list(data_quads(base.store))
    assert not check(compiled(SHAPES), quads, [], list(base.quads(ONTOLOGY_GRAPH)))


def test_shapes_with_features_not_compiled_are_refused_for_pyshacl():
    g = ox.Store()
    g.load("""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ( ex:a ex:b ) ; sh:minCount 1 ] .
    """, format=ox.RdfFormat.TURTLE)
    with pytest.raises(NotCompilableError, match="complex sh:path"):
        compile_shapes(g)
    g2 = ox.Store()
    g2.load("""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:a ; sh:pattern "^x" ] .
    """, format=ox.RdfFormat.TURTLE)
    with pytest.raises(NotCompilableError, match="pattern"):
        compile_shapes(g2)
