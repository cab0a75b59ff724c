"""Export: formats every RDF tool reads, determinism, header, subsets, accepted view, nanopubs (issue 7)."""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox
import pytest
import rdflib

from cfkb.io.export import ExportOptions, export_base
from cfkb.model.vocabulary import CFID_NS, CFKB, RDF, rank_term
from cfkb.store.core import KnowledgeBase
from exchange_tools import (
    WHEN,
    graphs,
    read_with_pyoxigraph,
    read_with_rapper,
    read_with_rdflib,
    read_with_riot,
    same_dataset,
)

FORMATS = [("turtle", None), ("trig", None), ("jsonld", None), ("nt", None), ("nq", None),
           ("trig", "nanopub"), ("nq", "nanopub")]
EXT = {"turtle": "ttl", "trig": "trig", "jsonld": "jsonld", "nt": "nt", "nq": "nq"}
HOQUQ = CFID_NS + "harakat-hoquq"


@pytest.fixture(scope="module")
def seed_kb(seed_template):
    kb = KnowledgeBase.open(seed_template)
    yield kb
    kb.close()


def export(kb, **kw):
    return export_base(kb, ExportOptions(when=WHEN, exporter="Exporter", **kw))


@pytest.fixture(scope="module")
def exports(seed_kb):
    return {(fmt, profile): export(seed_kb, format=fmt, profile=profile) for fmt, profile in FORMATS}


@pytest.mark.parametrize("reader", ["rdflib", "pyoxigraph", "rapper", "riot"])
@pytest.mark.parametrize("fmt,profile", FORMATS)
def test_every_format_reads_back_to_the_same_graph_in_every_tool(exports, tmp_path_factory, fmt, profile, reader):
    text = exports[(fmt, profile)].text
    reference = exports[("nq", profile if fmt in ("trig", "nq") else None)].text
    workdir = tmp_path_factory.getbasetemp()
    path = workdir / f"export-{fmt}-{profile}.{EXT[fmt]}"
    path.write_text(text, encoding="utf-8")
    if reader == "rdflib":
        got = read_with_rdflib(text, fmt)
    elif reader == "pyoxigraph":
        got = read_with_pyoxigraph(text, fmt)
    elif reader == "rapper":
        got = read_with_rapper(path, fmt)
    else:
        got = read_with_riot(path, fmt, workdir)
    assert same_dataset(got, reference), f"{reader} reads the {fmt} export to a different graph"


def test_the_same_base_gives_the_same_bytes(seed_kb, exports):
    for fmt, profile in FORMATS:
        assert export(seed_kb, format=fmt, profile=profile).text == exports[(fmt, profile)].text


def test_turtle_groups_each_claim_with_its_provenance_and_uses_the_prefixes(exports):
    text = exports[("turtle", None)].text
    assert text.startswith("@prefix cfkb: <https://w3id.org/cfkb/ns#> .")
    blocks = text.split("\n\n")
    claim = next(b for b in blocks if "Moanes" in b and "cfkb:Claim" in b)
    for needed in ("rdf:subject", "cfkb:statedIn", "cfkb:statedOn", "cfkb:quote", "prov:wasAttributedTo",
                   "cfkb:citedIn", "cfkb:tlp"):
        assert needed in claim


def test_header_says_who_when_version_ceiling_licence_and_withheld_count(exports):
    g = rdflib.Graph().parse(data=exports[("turtle", None)].text, format="turtle")
    C = rdflib.Namespace("https://w3id.org/cfkb/ns#")
    DCT = rdflib.Namespace("http://purl.org/dc/terms/")
    (node,) = g.subjects(rdflib.RDF.type, C.Export)
    assert str(g.value(node, DCT.creator)) == "Exporter"
    assert g.value(node, DCT.created).toPython() == WHEN
    assert str(g.value(node, C.softwareVersion)).startswith("cfkb ")
    assert g.value(node, C.tlpCeiling) == C.TLP_GREEN
    assert str(g.value(node, DCT.license)) == "https://www.first.org/tlp/"
    assert g.value(node, C.withheldClaims).toPython() == 0
    assert g.value(node, C.claimCount).toPython() == 58


def test_batches_and_analysts_stay_home(exports):
    text = exports[("nt", None)].text
    assert "/batch/" not in text and "/analyst/" not in text and "fixture" not in text
    assert "recordedAt" not in text and "wasGeneratedBy" not in text


def claim_subjects(text):
    return {q.subject.value for q in ox.parse(text.encode(), format=ox.RdfFormat.N_TRIPLES)
            if q.predicate == RDF.type and q.object == CFKB.Claim}


def claim_values(text, predicate):
    return {q.object.value for q in ox.parse(text.encode(), format=ox.RdfFormat.N_TRIPLES) if q.predicate == predicate}


def test_entity_subset_keeps_claims_about_it_and_the_entities_they_name(seed_kb):
    result = export(seed_kb, format="nt", entity="Hoquq")
    quads = list(ox.parse(result.text.encode(), format=ox.RdfFormat.N_TRIPLES))
    claims = claim_subjects(result.text)
    assert claims and result.claims == len(claims) < 58
    for c in claims:
        about = {q.object.value for q in quads if q.subject.value == c and q.predicate in (RDF.subject, RDF.object)}
        assert HOQUQ in about
    assert any(q.subject.value == CFID_NS + "hossein-moanes" for q in quads), "the speaker is described"
    assert "filterEntity" in result.text


def test_source_date_and_area_subsets(seed_kb):
    by_rabaa = export(seed_kb, format="nt", source="Al-Rabaa TV")
    assert by_rabaa.claims >= 1 and claim_values(by_rabaa.text, CFKB.statedIn) <= {CFID_NS + "al-rabaa-tv"}
    august = export(seed_kb, format="nt", since=dt.date(2023, 8, 1), until=dt.date(2023, 8, 31))
    assert august.claims >= 3
    assert all("2023-08" in d for d in claim_values(august.text, CFKB.statedOn))
    diyala = export(seed_kb, format="nt", area="Diyala")
    assert diyala.claims >= 5
    assert claim_values(diyala.text, CFKB.inArea) == {CFID_NS + "diyala"}


def test_conflicts_only_exports_whole_conflicts_with_their_claims(seed_kb):
    result = export(seed_kb, format="nt", conflicts_only=True)
    quads = list(ox.parse(result.text.encode(), format=ox.RdfFormat.N_TRIPLES))
    conflicts = {q.subject for q in quads if q.predicate == RDF.type and q.object == CFKB.Conflict}
    involved = {q.object.value for q in quads if q.predicate == CFKB.involves}
    assert conflicts and involved == claim_subjects(result.text)


def test_accepted_view_asserts_preferred_and_uncontested_claims_only(kb):
    from cfkb.io.exportconflicts import conflict_keys

    keys = conflict_keys(kb)
    contested = {c[1:-1] for k in keys for c in k.clashing}
    assert keys, "the seed has conflicts"

    def negated(c):
        return any(q.object.value == "true" for q in kb.store.quads_for_pattern(ox.NamedNode(c), CFKB.negated, None))

    # prefer the side that asserts (a negated claim has no bare triple to assert)
    preferred, loser = sorted((c[1:-1] for c in keys[0].clashing), key=negated)
    kb.write([ox.Quad(ox.NamedNode(preferred), CFKB.rank, rank_term("preferred")),
              ox.Quad(ox.NamedNode(loser), CFKB.rank, rank_term("deprecated"))])
    result = export(kb, format="nt", accepted_view=True)
    quads = list(ox.parse(result.text.encode(), format=ox.RdfFormat.N_TRIPLES))
    supported = {q.object.value for q in quads if q.predicate == CFKB.supportedBy}
    assert preferred in supported and loser not in supported
    assert not (supported & contested) - {preferred}
    statement = next(q.subject for q in quads if q.predicate == CFKB.supportedBy and q.object.value == preferred)
    s, p, o = (next(q.object for q in quads if q.subject == statement and q.predicate == x)
               for x in (RDF.subject, RDF.predicate, RDF.object))
    assert not negated(preferred)
    assert ox.Quad(s, p, o) in set(quads), "the bare triple is asserted"
    uncontested = claim_subjects(export(kb, format="nt").text) - contested
    assert len(supported) > len(uncontested) // 2


def test_nanopub_profile_gives_each_claim_four_graphs(exports):
    quads = list(ox.parse(exports[("trig", "nanopub")].text.encode(), format=ox.RdfFormat.TRIG))
    np = "http://www.nanopub.org/nschema#"
    pubs = {q.subject for q in quads if q.object == ox.NamedNode(np + "Nanopublication")}
    assert len(pubs) == 58
    names = {q.graph_name.value for q in quads if isinstance(q.graph_name, ox.NamedNode)}
    for pub in pubs:
        for part in ("head", "assertion", "provenance", "pubinfo"):
            assert f"{pub.value}#{part}" in names
    by_graph = graphs(exports[("nq", "nanopub")].text)
    assertion = next(g for name, g in by_graph.items() if name.endswith("#assertion"))
    assert (None, rdflib.URIRef("https://w3id.org/cfkb/ns#quote"), None) not in assertion


def test_nanopub_needs_a_format_with_graphs(seed_kb):
    from cfkb.errors import UnknownFormatError

    with pytest.raises(UnknownFormatError, match="named graphs"):
        export(seed_kb, format="turtle", profile="nanopub")


def test_cli_export_writes_atomically_and_reports(runner, store_path, tmp_path):
    from conftest import invoke

    out = tmp_path / "base.trig"
    result = invoke(runner, store_path, "export", "--format", "trig", "--tlp", "amber", "--when",
                    "2024-05-01T12:00:00Z", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 58 claims" in result.stderr and "0 withheld" in result.stderr
    assert out.read_text().startswith("@prefix cfkb:")
    assert not list(tmp_path.glob(".*tmp*"))
    again = invoke(runner, store_path, "export", "--format", "trig", "--tlp", "AMBER", "--when",
                   "2024-05-01T12:00:00+00:00")
    assert again.stdout == out.read_text()
    bad = invoke(runner, store_path, "export", "--tlp", "purple")
    assert bad.exit_code == 2
    unknown = invoke(runner, store_path, "export", "--entity", "Nobody At All")
    assert unknown.exit_code == 1 and "unknown entity" in unknown.stderr
