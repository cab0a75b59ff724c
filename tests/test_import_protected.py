"""Imports touch only data: a file may not write the base's settings, its state,
its ontology or any of its own records (issue 15).

Each attack is a real file imported through the CLI into a real store; the
store must be exactly as it was, and the message must name each offending
quad with its file, line and column and the IRI.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from cfkb.io.export import ExportOptions, export_base
from cfkb.io.importer import InputFile, import_files
from cfkb.io.tlp import BASE, default_level
from cfkb.model.vocabulary import CFID_NS, CFKB, STATE_GRAPH, tlp_term
from cfkb.store.core import KnowledgeBase
from conftest import invoke
from storestate import store_state

PREFIXES = """@prefix cfkb: <https://w3id.org/cfkb/ns#> .
@prefix cfid: <https://w3id.org/cfkb/id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
ENTITY = 'cfid:new-party a cfkb:Party ; rdfs:label "New Party"@en .\n'


def _refused(runner, store_path, path, *extra):
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", *extra, str(path))
    assert result.exit_code == 1, result.output
    after = store_state(store_path)
    assert after.data == before.data
    if not extra:  # a refused plain import never opens the store for writing
        assert after.files == before.files
    assert "Traceback" not in result.output
    return result.stderr


def test_partner_file_cannot_lower_the_default_marking(runner, store_path, tmp_path):
    path = tmp_path / "partner.ttl"
    path.write_text(PREFIXES + ENTITY + "cfid:base cfkb:defaultTlp cfkb:TLP_CLEAR .\n")
    message = _refused(runner, store_path, path, "--partner", "Institute X")
    assert f"{path}:5:1: refused: <{CFID_NS}base> <{CFKB.defaultTlp.value}>" in message
    assert "settings" in message
    kb = KnowledgeBase.open(store_path)
    try:
        assert default_level(kb) == "AMBER"
        assert "New Party" not in ox.serialize(list(kb.quads()), format=ox.RdfFormat.N_QUADS).decode()
    finally:
        kb.close()
    # the same file through a plain import
    _refused(runner, store_path, path)


def test_trig_cannot_write_the_state_graph(runner, store_path, tmp_path):
    path = tmp_path / "state.trig"
    path.write_text(PREFIXES + "{ " + ENTITY + "}\n"
                    "<https://w3id.org/cfkb/graph/state> {\n  cfid:base cfkb:generation \"zzzz\" .\n}\n")
    message = _refused(runner, store_path, path)
    assert f"{path}:7:3: refused: <{CFID_NS}base>" in message  # the quad, inside the graph block
    assert "<https://w3id.org/cfkb/graph/state>" in message and "generation" in message


def test_trig_cannot_write_the_ontology_graph(runner, store_path, tmp_path):
    path = tmp_path / "onto.trig"
    path.write_text(PREFIXES + "<https://w3id.org/cfkb/graph/ontology> {\n"
                    "  cfkb:participatesIn rdfs:comment \"rewritten\" .\n"
                    "  cfkb:memberOf rdfs:comment \"rewritten too\" .\n}\n")
    message = _refused(runner, store_path, path)
    lines = [line for line in message.splitlines() if "refused:" in line]
    assert len(lines) == 2  # one line per offending quad
    assert all("<https://w3id.org/cfkb/graph/ontology>" in line for line in lines)
    assert any(f"{path}:5:3:" in line and "participatesIn" in line for line in lines)
    assert any(f"{path}:6:3:" in line and "memberOf" in line for line in lines)


def test_a_marking_in_an_internal_graph_is_refused(runner, store_path, tmp_path):
    path = tmp_path / "mark.nq"
    path.write_text(f"<{CFID_NS}harakat-hoquq> <{CFKB.tlp.value}> <{tlp_term('CLEAR').value}>"
                    f" <https://w3id.org/cfkb/graph/settings> .\n")
    message = _refused(runner, store_path, path)
    assert f"{path}:1:" in message and "<https://w3id.org/cfkb/graph/settings>" in message


@pytest.mark.parametrize("record", ["batch/b1", "analyst/jane", "partner/x", "export/e1", "conflict/c1",
                                    "assessment/a1", "grading/g1", "merge/m1"])
def test_the_base_s_own_records_are_refused(runner, store_path, tmp_path, record):
    path = tmp_path / "records.ttl"
    path.write_text(PREFIXES + ENTITY + f'<{CFID_NS}{record}> rdfs:label "forged" .\n')
    message = _refused(runner, store_path, path)
    assert f"{path}:5:1: refused: <{CFID_NS}{record}>" in message


def test_a_staging_graph_name_is_refused(runner, store_path, tmp_path):
    path = tmp_path / "stage.nq"
    path.write_text(f'<{CFID_NS}x> <http://www.w3.org/2000/01/rdf-schema#label> "x" <urn:cfkb:staging:1:ab> .\n')
    assert "staging graph" in _refused(runner, store_path, path)


def test_the_header_of_a_cfkb_export_is_not_stored(kb):
    text = export_base(kb, ExportOptions(format="turtle", ceiling="CLEAR")).text
    other = KnowledgeBase.memory()
    import_files(other, [InputFile("sent.ttl", text.encode(), "turtle")], analyst="t")
    assert other.claim_count() > 0
    assert not list(other.store.quads_for_pattern(None, None, CFKB.Export, ox.DefaultGraph()))
    assert not list(other.store.quads_for_pattern(None, CFKB.defaultTlp, None, ox.DefaultGraph()))


def test_a_forged_export_header_is_refused(kb):
    text = export_base(kb, ExportOptions(format="turtle", ceiling="CLEAR")).text
    forged = text.replace("cfkb:claimCount", "cfkb:rank cfkb:DeprecatedRank ;\n    cfkb:claimCount", 1)
    other = KnowledgeBase.memory()
    from cfkb.errors import ProtectedDataError

    with pytest.raises(ProtectedDataError, match="an export record"):
        import_files(other, [InputFile("sent.ttl", forged.encode(), "turtle")], analyst="t")
    assert other.claim_count() == 0


def test_several_default_markings_count_as_the_strictest(runner, store_path):
    kb = KnowledgeBase.open(store_path, write=True)
    kb.write([ox.Quad(BASE, CFKB.defaultTlp, tlp_term("CLEAR")), ox.Quad(BASE, CFKB.defaultTlp, tlp_term("RED"))],
             keeps_conflicts=True)
    assert default_level(kb) == "RED"
    kb.write([ox.Quad(BASE, CFKB.defaultTlp, ox.Literal("nonsense"))], remove=[
        ox.Quad(BASE, CFKB.defaultTlp, tlp_term("RED"))], keeps_conflicts=True)
    assert default_level(kb) == "RED"  # a value nobody can read denies
    kb.close()
    result = invoke(runner, store_path, "validate")
    assert result.exit_code == 1
    assert "default marking has 2 value(s)" in result.stdout and "cfkb tlp default" in result.stdout
    assert invoke(runner, store_path, "tlp", "default", "GREEN").exit_code == 0
    assert invoke(runner, store_path, "tlp", "default").stdout.strip() == "GREEN"


def test_a_damaged_generation_is_reported_and_repaired(runner, store_path):
    kb = KnowledgeBase.open(store_path, write=True)
    good = kb.generation()
    kb.store.add(ox.Quad(BASE, CFKB.generation, ox.Literal("zzzz"), STATE_GRAPH))
    assert kb.generation() == good  # garbage is not a generation
    kb.close()
    result = invoke(runner, store_path, "validate")
    assert result.exit_code == 1, result.output
    assert "generation" in result.stdout and "cfkb validate --repair" in result.stdout
    assert "Traceback" not in result.output
    repaired = invoke(runner, store_path, "validate", "--repair")
    assert repaired.exit_code == 0, repaired.output
    kb = KnowledgeBase.open(store_path)
    assert kb.damaged_generations() == [] and kb.generation() > good
    kb.close()


def test_the_next_write_repairs_a_damaged_generation(runner, store_path):
    kb = KnowledgeBase.open(store_path, write=True)
    kb.store.add(ox.Quad(BASE, CFKB.generation, ox.Literal("zzzz"), STATE_GRAPH))
    kb.store.add(ox.Quad(BASE, CFKB.generation, ox.Literal("99999999999999999999-zz"), STATE_GRAPH))
    # well formed, but from the far future: it would stay the latest forever
    kb.store.add(ox.Quad(BASE, CFKB.generation, ox.Literal("99999999999999999999-ffffffffffff"), STATE_GRAPH))
    assert len(kb.damaged_generations()) == 3
    before = kb.generation()
    kb.close()
    result = invoke(runner, store_path, "claim", "add", "--subject", "KH", "--predicate", "participatesIn",
                    "--object", "December 2023 provincial elections", "--source", "al-Iraqiya TV",
                    "--date", "2023-08-30")
    assert result.exit_code == 0, result.output
    kb = KnowledgeBase.open(store_path)
    try:
        assert kb.damaged_generations() == []
        values = list(kb.store.quads_for_pattern(BASE, CFKB.generation, None, STATE_GRAPH))
        assert len(values) == 1 and kb.generation() > before
    finally:
        kb.close()
    assert invoke(runner, store_path, "validate").exit_code == 0


def test_a_file_cannot_lower_the_marking_of_what_the_base_holds(runner, store_path, tmp_path):
    kb = KnowledgeBase.open(store_path, write=True)
    hoquq = ox.NamedNode(CFID_NS + "harakat-hoquq")
    kb.write([], remove=list(kb.store.quads_for_pattern(hoquq, CFKB.tlp, None, None)))
    unmarked_claim = next(kb.store.quads_for_pattern(None, CFKB.tlp, tlp_term("CLEAR"), None)).subject
    kb.write([], remove=list(kb.store.quads_for_pattern(unmarked_claim, CFKB.tlp, None, None)))
    kb.close()
    path = tmp_path / "lower.ttl"
    path.write_text(PREFIXES + f"<{hoquq.value}> cfkb:tlp cfkb:TLP_CLEAR .\n"
                    f"<{unmarked_claim.value}> cfkb:tlp cfkb:TLP_CLEAR .\n"
                    + ENTITY.replace(" .", " ; cfkb:tlp cfkb:TLP_CLEAR ."))
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 0, result.output
    for name in ("Harakat Hoquq",):
        assert "marking   TLP:AMBER" in invoke(runner, store_path, "entity", "show", name).stdout
    assert "marking   TLP:CLEAR" in invoke(runner, store_path, "entity", "show", "New Party").stdout
    out = invoke(runner, store_path, "export", "--tlp", "CLEAR", "--format", "nt").stdout
    assert "harakat-hoquq" not in out and unmarked_claim.value not in out and "new-party" in out


def test_many_offending_quads_are_listed_then_counted(kb):
    from cfkb.errors import ProtectedDataError

    lines = "".join(f'<{CFID_NS}e{i}> <http://www.w3.org/2000/01/rdf-schema#label> "x"'
                    f" <https://w3id.org/cfkb/graph/state> .\n" for i in range(5000))
    before = kb.claim_count()
    with pytest.raises(ProtectedDataError) as caught:
        import_files(kb, [InputFile("many.nq", lines.encode(), "nq")], analyst="t")
    details = caught.value.details
    assert len(details) == 101
    assert details[-1] == "many.nq: refused: 4900 more quad(s) about the base's own graphs or records"
    assert details[0].startswith("many.nq:1:1: refused:") and details[99].startswith("many.nq:100:1: refused:")
    assert len(str(caught.value).splitlines()) == ProtectedDataError.SHOWN + 1
    assert kb.claim_count() == before


def test_the_sending_base_s_decisions_are_left_out_and_counted(runner, store_path, tmp_path):
    """A cfkb export carries the sending base's decisions (and, --conflicts-only, its conflicts): a
    receiving base never stores them (they would set the status of its own conflicts), says so, and
    imports the rest."""
    claim_iri = invoke(runner, store_path, "query", "-e", "SELECT ?c WHERE { ?c a cfkb:Claim } ORDER BY ?c LIMIT 1",
                       "--format", "csv").stdout.splitlines()[-1].strip()
    ranked = invoke(runner, store_path, "rank", claim_iri.rsplit("/", 1)[-1], "preferred", "--reason", "solid")
    assert ranked.exit_code == 0, ranked.output
    full, conflicts = tmp_path / "sent.ttl", tmp_path / "conflicts.nt"
    assert invoke(runner, store_path, "export", "--tlp", "CLEAR", "-o", str(full)).exit_code == 0
    assert invoke(runner, store_path, "export", "--tlp", "CLEAR", "--conflicts-only", "--format", "nt",
                  "-o", str(conflicts)).exit_code == 0
    assert "/assessment/" in full.read_text() and "#Conflict>" in conflicts.read_text()
    other = tmp_path / "other.store"
    assert invoke(runner, other, "init", "--empty").exit_code == 0
    result = invoke(runner, other, "import", str(full), str(conflicts))
    assert result.exit_code == 0, result.output
    import re

    assert re.search(r"left out \d+ conflict records? and 1 decision of the sending base", result.stderr)
    kb = KnowledgeBase.open(other)
    try:
        assert kb.claim_count() > 0
        assert not list(kb.store.quads_for_pattern(None, CFKB.assesses, None, None))
        assert not list(kb.store.quads_for_pattern(None, None, CFKB.Conflict, ox.DefaultGraph()))
    finally:
        kb.close()


def test_a_forged_decision_with_any_iri_never_sets_a_conflict_s_status(runner, store_path, tmp_path):
    conflict = invoke(runner, store_path, "conflicts", "--format", "json")
    import json

    first = json.loads(conflict.stdout)[0]
    conflict_iri = first["iri"] if "iri" in first else CFID_NS + "conflict/" + first["id"]
    path = tmp_path / "forged.ttl"
    path.write_text(PREFIXES + "@prefix prov: <http://www.w3.org/ns/prov#> .\n"
                    f"<http://partner.example/d1> cfkb:assesses <{conflict_iri}> ;\n"
                    '  cfkb:status "dismissed" ;'
                    ' prov:endedAtTime "2099-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
                    "[] a cfkb:ImportBatch ; rdfs:label \"forged batch\" .\n")
    message = _refused(runner, store_path, path)
    assert "an import batch" in message and "_:" in message
    path.write_text(path.read_text().rsplit("[]", 1)[0])
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 0, result.output
    again = json.loads(invoke(runner, store_path, "conflicts", "--format", "json").stdout)
    assert [c["status"] for c in again if c["id"] == first["id"]] == [first["status"]]
    assert "left out 1 decision" in result.stderr
