"""The stored conflict set: used when current, ignored when stale, kept current by small imports."""

from __future__ import annotations

import json
import random

import pyoxigraph as ox

from bench.generate import generate
from cfkb import cache
from cfkb.conflicts import compile_rule, engine_keys, find_conflicts, incremental_rows, load_rules, rule_rows
from cfkb.store import KnowledgeBase
from conftest import invoke


def _keys(rows: dict[str, list[dict[str, ox.NamedNode]]]) -> set[tuple[str, frozenset[str]]]:
    return {(iri, frozenset({r["this"].value, r["value"].value})) for iri, found in rows.items() for r in found}


def _stored(kb: KnowledgeBase) -> dict:
    return json.loads((kb.path / cache.FILE).read_text(encoding="utf-8"))


def test_a_full_run_is_stored_and_read_back_until_the_base_changes(tmp_path):
    ds = generate(120, seed=11, noise_share=0.3)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.quads()))
    full = {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)}
    assert (kb.path / cache.FILE).exists()
    assert _stored(kb)["generation"] == kb.generation()

    # a stored set stamped with the base's generation is what the next run reads
    data = _stored(kb)
    dropped = next(iri for iri, rows in data["rows"].items() if rows)
    data["rows"][dropped] = []
    (kb.path / cache.FILE).write_text(json.dumps(data), encoding="utf-8")
    fewer = {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)}
    assert fewer == {k for k in full if not dropped.endswith("#" + k[0])}

    # any write that can change a conflict moves the base on: the stored set no longer counts
    kb.write(ds.claims[0].quads())
    assert _stored(kb)["generation"] != kb.generation()
    again = {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in find_conflicts(kb)}
    assert again == full
    assert _stored(kb)["generation"] == kb.generation()

    # an assessment does not: the set stays current
    generation = kb.generation()
    kb.write([ox.Quad(ox.NamedNode("https://example.org/a"), ox.NamedNode("https://example.org/p"),
                      ox.Literal("x"))], keeps_conflicts=True)
    assert kb.generation() == generation
    kb.close()


def test_small_batches_keep_the_stored_set_equal_to_a_full_run(tmp_path):
    """Claims arrive in small batches (as `cfkb import` and `cfkb claim add` bring
    them); after each, the updated stored set equals a fresh full run, including
    conflicts that a new sub-list membership takes away."""
    ds = generate(240, seed=5, noise_share=0.2)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.write(list(ds.background))
    rng = random.Random(5)
    claims = list(ds.claims)
    rng.shuffle(claims)
    first, rest = claims[:80], claims[80:]
    kb.write([q for c in first for q in c.quads()])
    rule_rows(kb)  # a full run, stored
    rules = load_rules()
    while rest:
        size = rng.randint(1, 25)
        batch, rest = rest[:size], rest[size:]
        stored = cache.load(kb, rules, kb.generation())
        assert stored is not None
        kb.write([q for c in batch for q in c.quads()])
        added = [c.iri for c in batch]
        new = {rule.iri: incremental_rows(kb, compile_rule(rule), added) for rule in rules}
        assert cache.update(kb, rules, stored, added, new)
        current = cache.load(kb, rules, kb.generation())
        assert current is not None
        assert _keys(current) == engine_keys(kb)
    assert engine_keys(kb) == ds.truth
    kb.close()


def test_undoable_rules_are_the_ones_with_a_not_exists_over_other_claims():
    undoable = {r.name for r in load_rules() if cache.undoable(r.select)}
    assert "FunctionalConflict" in undoable and "RevisionOfValue" in undoable
    assert "DirectConflict" not in undoable and "MembershipImpliesParticipation" not in undoable


def test_claim_add_keeps_the_stored_set_current(runner, store_path):
    assert invoke(runner, store_path, "conflicts").exit_code == 0
    with KnowledgeBase.open(store_path) as kb:
        assert _stored(kb)["generation"] == kb.generation()
    result = invoke(runner, store_path, "claim", "add", "--subject", "Harakat Hoquq", "--predicate",
                    "participatesIn", "--object", "December 2023 provincial elections", "--negated",
                    "--source", "Al-Iraqiya TV", "--date", "2023-09-01")
    assert result.exit_code == 0, result.output
    assert "new conflict" in result.stderr
    with KnowledgeBase.open(store_path) as kb:
        rules = load_rules()
        current = cache.load(kb, rules, kb.generation())
        assert current is not None
        assert _keys(current) == engine_keys(kb)
