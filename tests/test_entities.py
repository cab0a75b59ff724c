"""The gazetteer commands: add, alias, show, merge and its undo (issue 5)."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from cfkb.errors import InputError, NotFoundError
from cfkb.model.vocabulary import CFID_NS, CFKB, PROV, RDF, STATE_GRAPH
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.entities import add_alias, add_entity, get_merge, merge_entities, show_entity, unmerge
from conftest import invoke
from storestate import store_state


def test_add_entity_with_type_and_aliases(kb):
    iri = add_entity(kb, "Harakat Babiliyoun", "party", analyst="t", aliases=("Babiliyoun", "حركة بابليون"))
    assert iri == CFID_NS + "harakat-babiliyoun"
    index = kb.entity_index()
    assert index.resolve("babiliyoun") == iri
    assert index.resolve("حركه بابليون") == iri   # taa marbuta folded
    info = show_entity(kb, "Babiliyoun")
    assert info.types == ["cfkb:Party"]
    assert ("حركة بابليون", "ar") in info.aliases


def test_add_refuses_a_name_already_taken_and_unknown_types(kb):
    with pytest.raises(InputError, match="already names Haidar al-Abadi"):
        add_entity(kb, "Haider al-Abadi", "Person", analyst="t")
    with pytest.raises(InputError, match="unknown entity type 'Militia'; use one of .*ArmedGroup"):
        add_entity(kb, "Someone New", "Militia", analyst="t")


def test_alias_refuses_to_make_names_ambiguous(kb):
    iri, new = add_alias(kb, "Hadi al-Ameri", "Abu Hassan al-Ameri")
    assert new and kb.entity_index().resolve("Abu Hassan al-Amiri") == iri
    assert add_alias(kb, "Hadi al-Ameri", "Hadi al-Amiri") == (iri, False)
    with pytest.raises(InputError, match="already names Nouri al-Maliki"):
        add_alias(kb, "Hadi al-Ameri", "Maliki")


def _claims_naming(kb: KnowledgeBase, iri: str) -> set[str]:
    rows = kb.select("SELECT ?c ?e WHERE { ?c a cfkb:Claim ; ?p ?e }", {"e": ox.NamedNode(iri)})
    return {r["c"].value for r in rows}


def test_merge_rewrites_claims_keeps_their_ids_records_and_undoes(store_path):
    kb = KnowledgeBase.open(store_path, write=True)
    dup = add_entity(kb, "Falah Fayyadh (duplicate)", "Person", analyst="t", force=True)
    claim = add_claim_naming(kb, dup)
    before = sorted(str(q) for q in kb.quads() if q.graph_name != STATE_GRAPH)  # the generation moves on
    kept = CFID_NS + "falah-al-fayyadh"
    claims_before = _claims_naming(kb, kept)

    record = merge_entities(kb, "Falah al-Fayyadh", dup, analyst="Jane", reason="same man, two spellings")
    assert record.claims_rewritten == 1
    assert _claims_naming(kb, kept) == claims_before | {claim}   # same claim IRI, now naming the kept entity
    assert not _claims_naming(kb, dup)
    assert kb.contains(ox.NamedNode(claim), CFKB.rewrittenBy, ox.NamedNode(record.iri))
    # the old IRI and the old name still find the kept entity
    assert kb.entity_index().resolve(f"<{dup}>") == kept
    assert kb.entity_index().resolve("Falah Fayyadh (duplicate)") == kept
    # who, when, why
    stored = get_merge(kb, record.id)
    assert (stored.analyst, stored.reason, stored.status) == ("Jane", "same man, two spellings", "active")
    assert kb.contains(ox.NamedNode(record.iri), RDF.type, PROV.Activity)

    unmerge(kb, record.id, analyst="Jane", reason="two different men after all")
    after = sorted(str(q) for q in kb.quads()
                   if q.graph_name != STATE_GRAPH and not str(q.subject).startswith(f"<{record.iri}")
                   and str(q.subject) != f"<{CFID_NS}analyst/jane>")
    assert after == before
    assert get_merge(kb, record.id).status == "undone"
    with pytest.raises(InputError, match="already undone"):
        unmerge(kb, record.id, analyst="Jane")
    kb.close()


def add_claim_naming(kb: KnowledgeBase, iri: str) -> str:
    from cfkb.io.importer import InputFile, import_files

    data = (f"subject,predicate,object,source,date\n<{iri}>,leads,Ataa,al-Iraqiya TV,2023-08-01\n").encode()
    (claim,) = import_files(kb, [InputFile("x.csv", data)], analyst="t").claims_added
    return claim


def test_merge_refuses_incompatible_types_and_needs_a_reason(kb):
    with pytest.raises(InputError, match="is a cfkb:Person but Hikma is a cfkb:Party"):
        merge_entities(kb, "Falah al-Fayyadh", "Hikma", analyst="t", reason="x")
    with pytest.raises(InputError, match="needs a reason"):
        merge_entities(kb, "Falah al-Fayyadh", "Ameri", analyst="t", reason=" ")
    with pytest.raises(InputError, match="already the same entity"):
        merge_entities(kb, "Falah al-Fayyadh", "Faleh al-Fayyad", analyst="t", reason="x")
    with pytest.raises(NotFoundError):
        unmerge(kb, "0" * 24, analyst="t")


def test_entity_cli_add_alias_show_merge_unmerge(runner, store_path):
    added = invoke(runner, store_path, "entity", "add", "Kataib Hezbollah Media Office", "--type", "Organization",
                   "--alias", "KH media")
    assert added.exit_code == 0, added.output
    iri = added.stdout.strip()
    alias = invoke(runner, store_path, "entity", "alias", "KH media", "KH press office")
    assert alias.exit_code == 0 and "now names" in alias.stderr
    shown = invoke(runner, store_path, "entity", "show", "KH press office", "--format", "json")
    info = json.loads(shown.stdout)
    assert info["iri"] == iri and info["types"] == ["cfkb:Organization"]
    merged = invoke(runner, store_path, "entity", "merge", "Kataib Hezbollah", "KH media", "--reason", "same")
    assert merged.exit_code == 0, merged.output
    merge_id = merged.stdout.strip()
    assert f"undo with: cfkb entity unmerge {merge_id}" in merged.stderr
    text = invoke(runner, store_path, "entity", "show", "KH")
    assert f"merge     {merge_id}" in text.stdout and "KH press office" in text.stdout
    undone = invoke(runner, store_path, "entity", "merge", "--undo", merge_id)
    assert undone.exit_code == 0, undone.output
    assert "separate" in undone.stderr
    again = invoke(runner, store_path, "entity", "unmerge", merge_id)
    assert again.exit_code == 1 and "already undone" in again.stderr
    usage = invoke(runner, store_path, "entity", "merge", "KH")
    assert usage.exit_code == 2


def test_entity_show_of_unknown_or_ambiguous_names(runner, store_path):
    before = store_state(store_path)
    result = invoke(runner, store_path, "entity", "show", "Kataib Hezbolla Brigade")
    assert result.exit_code == 1
    assert "did you mean 'Kataib Hezbollah'" in result.stderr
    assert store_state(store_path) == before


def test_entity_duplicates_finds_planted_pairs_scored_and_explained(runner, store_path):
    seed = invoke(runner, store_path, "entity", "duplicates", "--format", "json")
    assert seed.exit_code == 0 and json.loads(seed.stdout) == []   # the seed gazetteer has none
    for label, kind in [("Kataib Sayyid al-Shuhadaa", "ArmedGroup"), ("Supreme Islamic Iraqi Council", "Party"),
                        ("Asaib", "ArmedGroup"), ("Hamdi Malek", "Party")]:
        assert invoke(runner, store_path, "entity", "add", label, "--type", kind, "--new").exit_code == 0
    result = invoke(runner, store_path, "entity", "duplicates", "--format", "json")
    pairs = {frozenset((p["a"]["label"], p["b"]["label"])): p for p in json.loads(result.stdout)}
    kss = pairs[frozenset(("Kataib Sayyid al-Shuhada", "Kataib Sayyid al-Shuhadaa"))]
    assert kss["score"] >= 95 and any("spelling variants" in r for r in kss["reasons"])
    isci = pairs[frozenset(("Islamic Supreme Council of Iraq", "Supreme Islamic Iraqi Council"))]
    assert any("same" in r and "words" in r for r in isci["reasons"])
    assert frozenset(("Asaib", "Asaib Ahl al-Haq")) in pairs
    # a person and a party are never one entity, however alike their names
    assert not any("Hamdi Malek" in key for key in pairs)
    table = invoke(runner, store_path, "entity", "duplicates")
    assert "cfkb entity merge" in table.stdout and "likely duplicate pair(s)" in table.stderr


def _names_of(index) -> tuple:
    """What an entity index answers: labels, types, merges, and what names resolve to."""
    probes = ["Kataib Hezbollah", "KH", "Hoquq", "Fatah", "Badr", "Nujaba Movement", "Harakat al-Nujaba",
              "Tahalof al-Nujaba", "Al-Rabaa TV", "Qais al-Khazali"]
    return (dict(index.labels), {k: set(v) for k, v in index.types.items() if v}, dict(index.merged),
            {name: sorted(m.iri for m in index.matches(name)) for name in probes})


def test_the_cached_entity_index_follows_writes_as_a_fresh_read_would(kb):
    """After each write, the index a process holds (kept by the write where it
    only adds new entities' names, read again otherwise) answers as one read
    from the graph does."""
    from cfkb.model.vocabulary import Claim

    def fresh() -> tuple:
        other = KnowledgeBase.open(kb.path)  # read-only, beside the writer: its own index from the graph
        try:
            return _names_of(other.entity_index())
        finally:
            other.close()

    kb.entity_index()
    steps = [
        lambda: add_entity(kb, "Nujaba Movement", "ArmedGroup", analyst="test", force=True),
        lambda: add_entity(kb, "Tahalof al-Nujaba", "Coalition", analyst="test", aliases=("Nujaba Alliance",)),
        lambda: add_alias(kb, "Tahalof al-Nujaba", "Harakat al-Nujaba"),
        lambda: kb.write(Claim(subject=kb.entity_index().resolve("KH"), predicate=CFKB.supports.value,
                               object=kb.entity_index().resolve("Tahalof al-Nujaba"),
                               source=kb.entity_index().resolve("Al-Rabaa TV"), speaker=None, area=None,
                               election=None, date=None, tlp="CLEAR").quads()),
        lambda: merge_entities(kb, "Tahalof al-Nujaba", "Nujaba Movement", analyst="test", reason="one group",
                               force=True),
    ]
    kept = []
    for step in steps:
        held = kb.entity_index()
        step()
        kept.append(kb.entity_index() is held)
        assert _names_of(kb.entity_index()) == fresh()
    # a new entity and a claim keep the index held; a new name for a known entity and a merge read it again
    assert kept == [True, True, False, True, False]


def test_an_iri_or_curie_is_looked_up_alone_as_the_index_would_find_it(store_path):
    from cfkb.errors import UnknownNameError

    kb = KnowledgeBase.open(store_path, write=True)
    dup = add_entity(kb, "Falah Fayyadh (duplicate)", "Person", analyst="t", force=True)
    merge_entities(kb, "Falah al-Fayyadh", dup, analyst="Jane", reason="same man, two spellings")
    claim = kb.select("SELECT ?c WHERE { ?c a cfkb:Claim } LIMIT 1")[0]["c"].value
    kb.close()
    index = KnowledgeBase.open(store_path).entity_index()
    names = ["cfid:harakat-hoquq", f"<{CFID_NS}kataib-hezbollah>", f"{CFID_NS}ihec", dup, f"<{claim}>",
             "cfid:no-such-entity", *sorted(index.labels)[:40]]
    for name in names:
        kb = KnowledgeBase.open(store_path)  # the index not read: a few lookups of this one IRI
        try:
            expected = index.lookup(name)
        except UnknownNameError as exc:
            with pytest.raises(UnknownNameError) as got:
                kb.entity_match(name)
            assert str(got.value) == str(exc)
        else:
            assert kb.entity_match(name) == expected
        assert kb._index is None
        kb.close()
    assert index.lookup(dup).iri == CFID_NS + "falah-al-fayyadh"  # a merged entity's IRI leads to the kept one
    with pytest.raises(UnknownNameError):
        index.lookup(f"<{claim}>")  # a claim is no entity
