"""TLP 2.0: what leaves an export at each ceiling, and what never does (issue 7)."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import yaml

from cfkb.errors import InputError
from cfkb.io.export import ExportOptions, export_base
from cfkb.io.importer import InputFile, import_files
from cfkb.io.tlp import allowed, default_level, effective_ceiling, normalise, order, set_default_level
from cfkb.model.vocabulary import CFID_NS, CFKB, PROV, RDF, RDFS, SCHEMA, TLP_LEVELS, tlp_term
from cfkb.store.core import KnowledgeBase
from exchange_tools import WHEN, claim, entity

FORMATS = [("turtle", None), ("trig", None), ("jsonld", None), ("nt", None), ("nq", None), ("trig", "nanopub")]
CEILINGS = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


def test_levels_are_ordered_and_red_never_leaves():
    assert [order(level) for level in TLP_LEVELS] == [0, 1, 2, 3, 4]
    assert effective_ceiling("RED") == "AMBER+STRICT"
    assert not any(allowed("RED", c) for c in CEILINGS)
    assert allowed("AMBER+STRICT", "RED") and not allowed("AMBER", "GREEN")


def test_normalise_accepts_common_spellings_and_refuses_others():
    assert normalise("tlp:amber_strict") == "AMBER+STRICT"
    assert normalise("WHITE") == "CLEAR"
    with pytest.raises(InputError, match="not a TLP 2.0 level"):
        normalise("purple")


def test_default_marking_is_amber_until_set_and_is_kept_in_the_base():
    kb = KnowledgeBase.memory()
    assert default_level(kb) == "AMBER"
    set_default_level(kb, "green")
    set_default_level(kb, "CLEAR")
    assert default_level(kb) == "CLEAR"
    assert len(list(kb.store.quads_for_pattern(None, CFKB.defaultTlp, None, None))) == 1


@pytest.fixture(scope="module")
def planted() -> KnowledgeBase:
    """Claims, sources and entities at every level, a RED quote, a RED blank node,
    an entity only a RED claim names, assessments and an import batch."""
    kb = KnowledgeBase.memory()
    quads: list[ox.Quad] = []
    for i, level in enumerate(TLP_LEVELS):
        quads += entity(f"person-l{i}", "Person", level) + entity(f"org-l{i}", "Organization", level)
        quads += entity(f"outlet-l{i}", "MediaOutlet", level)
    quads += entity("person-unmarked", "Person", None) + entity("org-onlyred", "Organization", "CLEAR")
    org = ox.NamedNode(CFID_NS + "org-l0")
    clear_b, red_b = ox.BlankNode(), ox.BlankNode()
    quads += [ox.Quad(org, SCHEMA.address, clear_b), ox.Quad(clear_b, RDFS.label, ox.Literal("bnode-clear")),
              ox.Quad(org, SCHEMA.location, red_b), ox.Quad(red_b, RDFS.label, ox.Literal("bnode-red")),
              ox.Quad(red_b, CFKB.tlp, tlp_term("RED"))]
    claims = []
    for i, level in enumerate(TLP_LEVELS):
        claims.append(claim("person-l0", "org-l0", "outlet-l0", level=level, quote=f"claim-quote-l{i}", day=1 + i))
        claims.append(claim("person-l0", "org-l0", f"outlet-l{i}", level="CLEAR", quote=f"source-quote-l{i}",
                            day=10 + i))
        claims.append(claim(f"person-l{i}", f"org-l{i}", "outlet-l0", level="CLEAR", quote=f"entity-quote-l{i}",
                            day=20 + i))
    claims.append(claim("person-l0", "org-l0", "outlet-l0", level=None, quote="unmarked-quote", day=28))
    claims.append(claim("person-unmarked", "org-l0", "outlet-l0", level="CLEAR", quote="unmarked-entity-quote",
                        day=29))
    red = claim("person-l0", "org-onlyred", "outlet-l0", level="RED", quote="PLANTED-RED-QUOTE", day=30)
    claims.append(red)
    for c in claims:
        quads += c.quads()
    analyst = ox.NamedNode(CFID_NS + "analyst/secret-analyst")
    for name, target, reason in (("a-red", red.iri, "REASON-RED-TOKEN"),
                                 ("a-clear", claims[0].iri, "REASON-CLEAR-TOKEN")):
        node = ox.NamedNode(CFID_NS + "assessment/" + name)
        quads += [ox.Quad(node, RDF.type, CFKB.Assessment), ox.Quad(node, CFKB.assesses, ox.NamedNode(target)),
                  ox.Quad(node, CFKB.reason, ox.Literal(reason)), ox.Quad(node, PROV.wasAssociatedWith, analyst)]
    quads += [ox.Quad(analyst, RDFS.label, ox.Literal("Secret Analyst Name"))]
    kb.write(quads)
    row = {"subject": "cfid:person-l0", "predicate": "leads", "object": "cfid:org-l1", "source": "cfid:outlet-l0",
           "date": "2023-07-01", "tlp": "CLEAR", "quote": "imported-quote"}
    import_files(kb, [InputFile("t.yaml", yaml.safe_dump([row]).encode(), "yaml")], analyst="Batch Analyst Name")
    return kb


def expectations(ceiling: str) -> tuple[list[str], list[str], int]:
    """(tokens that must be absent, tokens that must be present, claims withheld)."""
    k = order(effective_ceiling(ceiling))
    absent = ["PLANTED-RED-QUOTE", "org-onlyred", "bnode-red", "REASON-RED-TOKEN", "Secret Analyst Name",
              "secret-analyst", "Batch Analyst Name", "batch-analyst", "/batch/", "recordedBy", "recordedAt",
              "wasGeneratedBy", "cfkb/id/base"]
    present = ["bnode-clear", "REASON-CLEAR-TOKEN", "imported-quote"]
    withheld = 1
    for i in range(5):
        tokens = [f"claim-quote-l{i}", f"source-quote-l{i}", f"entity-quote-l{i}", f"person-l{i}", f"outlet-l{i}"]
        if i > k or i == 4:
            absent += tokens
            withheld += 3
        else:
            present += tokens
    if k < 2:  # the base default, AMBER, is above the ceiling
        absent += ["unmarked-quote", "person-unmarked", "unmarked-entity-quote"]
        withheld += 2
    else:
        present += ["unmarked-quote", "person-unmarked", "unmarked-entity-quote"]
    if k < 1:  # org-l1 is GREEN, so the imported claim is withheld too
        absent.append("imported-quote")
        present.remove("imported-quote")
        withheld += 1
    return absent, present, withheld


@pytest.mark.parametrize("ceiling", CEILINGS)
@pytest.mark.parametrize("fmt,profile", FORMATS)
def test_nothing_above_the_ceiling_leaves_in_any_format(planted, ceiling, fmt, profile):
    result = export_base(planted, ExportOptions(format=fmt, ceiling=ceiling, profile=profile, when=WHEN,
                                                exporter="Exporting Analyst"))
    absent, present, withheld = expectations(ceiling)
    data = result.text.encode("utf-8")
    leaked = [t for t in absent if t.encode() in data]
    assert not leaked, f"withheld values in the {fmt} export at {ceiling}: {leaked}"
    missing = [t for t in present if t.encode() not in data]
    assert not missing, f"releasable values missing from the {fmt} export at {ceiling}: {missing}"
    assert result.withheld == withheld
    assert f'"{withheld}"'.encode() in data or f"withheldClaims {withheld}".encode() in data or \
        f'"cfkb:withheldClaims": {withheld}'.encode() in data


@pytest.mark.parametrize("ceiling", CEILINGS)
def test_every_exported_claim_and_entity_is_marked_within_the_ceiling(planted, ceiling):
    result = export_base(planted, ExportOptions(format="nt", ceiling=ceiling, when=WHEN))
    k = order(effective_ceiling(ceiling))
    quads = list(ox.parse(result.text.encode(), format=ox.RdfFormat.N_TRIPLES))
    subjects = {q.subject for q in quads if q.predicate == RDF.type and q.object in
                (CFKB.Claim, CFKB.Person, CFKB.Organization, CFKB.MediaOutlet)}
    marks = {q.subject: q.object.value.rsplit("#TLP_", 1)[1].replace("_", "+")
             for q in quads if q.predicate == CFKB.tlp}
    assert subjects and all(s in marks for s in subjects), "every claim and entity carries its marking"
    assert all(order(marks[s]) <= k for s in subjects)
    assert not any(q.object == tlp_term("RED") for q in quads)


def test_cli_sets_and_shows_the_default_marking(runner, store_path):
    from conftest import invoke

    assert invoke(runner, store_path, "tlp", "default").stdout.strip() == "AMBER"
    assert invoke(runner, store_path, "tlp", "default", "green").stdout.strip() == "GREEN"
    assert invoke(runner, store_path, "tlp", "default").stdout.strip() == "GREEN"
    bad = invoke(runner, store_path, "tlp", "default", "purple")
    assert bad.exit_code == 2 and "not a TLP 2.0 level" in bad.stderr  # a bad argument: a usage error


def test_a_filter_on_a_withheld_entity_is_refused(planted):
    with pytest.raises(InputError, match="above the TLP ceiling"):
        export_base(planted, ExportOptions(ceiling="GREEN", entity="cfid:person-l2"))
