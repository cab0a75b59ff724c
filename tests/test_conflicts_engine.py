"""The compiled conflict engine agrees with pySHACL and with planted ground truth.

pySHACL running the shapes is the reference semantics (design section 3);
the compiled set-at-a-time queries must find the same (rule, claims) pairs,
on the seed, on generated data with planted conflicts and distractors, and
on the small self-describing cases in ``fixtures/conflicts/``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox
import pytest

from bench.generate import generate
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.conflicts import conflicts_for_claims, engine_keys, find_conflicts, reference_keys

CASES = sorted((Path(__file__).parent / "fixtures" / "conflicts").glob("*.ttl"))
CFKBT = "https://w3id.org/cfkb/test#"


def _memory_kb(quads) -> KnowledgeBase:
    kb = KnowledgeBase.memory()
    kb.store.extend(quads)
    return kb


@pytest.fixture(scope="module")
def generated():
    ds = generate(90, seed=7, noise_share=0.2)
    return ds, _memory_kb(ds.quads())


def test_engine_and_pyshacl_agree_on_the_seed(kb):
    found = engine_keys(kb)
    assert found == reference_keys(kb)
    assert {k[0].rsplit("#", 1)[-1] for k in found} >= {"MembershipImpliesParticipation",
                                                        "WingImpliesParticipation"}


def test_engine_and_pyshacl_find_exactly_the_planted_conflicts(generated):
    ds, kb = generated
    assert {k[0].rsplit("#", 1)[-1] for k in ds.truth} == {
        "DirectConflict", "MembershipImpliesParticipation", "WingImpliesParticipation",
        "FunctionalConflict", "Revision", "RevisionReasserted", "RevisionOfValue"}
    assert engine_keys(kb) == ds.truth
    assert reference_keys(kb) == ds.truth


@pytest.mark.parametrize("n,seed", [(400, 1), (3000, 2)])
def test_engine_finds_exactly_the_planted_conflicts_at_larger_sizes(n, seed):
    ds = generate(n, seed=seed)
    assert len(ds.claims) == n == len({c.iri for c in ds.claims})
    assert engine_keys(_memory_kb(ds.quads())) == ds.truth


def test_find_conflicts_reports_every_engine_key(generated):
    ds, kb = generated
    found = find_conflicts(kb)
    assert {(c.rule, frozenset(v.iri for v in c.claims[:2])) for c in found} == {
        (rule.rsplit("#", 1)[-1], claims) for rule, claims in ds.truth}
    assert all(c.status == "open" and c.explanation for c in found)


def test_incremental_check_equals_the_full_run_restricted_to_those_claims():
    ds = generate(300, seed=3, noise_share=0.3)
    kb = _memory_kb(ds.quads())
    full = find_conflicts(kb)
    rng = random.Random(3)
    picks = rng.sample(ds.claims, 25) + [c for c in ds.claims if c.predicate.endswith("contests")][:5]
    for claim in picks:
        expected = {c.id for c in full if any(v.iri == claim.iri for v in c.claims)}
        assert {c.id for c in conflicts_for_claims(kb, [claim.iri])} == expected, claim
    several = [c.iri for c in picks[:6]]
    expected = {c.id for c in full if any(v.iri in several for v in c.claims)}
    assert {c.id for c in conflicts_for_claims(kb, several)} == expected


def _expected(g: ox.Store) -> tuple[set[tuple[str, frozenset[str]]], bool]:
    keys = set()
    for q in g.quads_for_pattern(None, ox.NamedNode(CFKBT + "expectedConflict"), None, None):
        rule = next(g.quads_for_pattern(q.object, ox.NamedNode(CFKBT + "rule"), None, None)).object.value
        claims = frozenset(x.object.value for x in g.quads_for_pattern(q.object, ox.NamedNode(CFKBT + "claim"),
                                                                       None, None))
        keys.add((rule, claims))
    none = any(True for _ in g.quads_for_pattern(None, ox.NamedNode(CFKBT + "expectNoConflict"), None, None))
    return keys, none


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_conflict_case(case: Path):
    """Each fixture holds claims and the conflicts they must (or must not) raise."""
    store = ox.Store()
    store.load(path=str(case), format=ox.RdfFormat.TURTLE, base_iri=case.as_uri())
    expected, expect_none = _expected(store)
    assert expected or expect_none, f"{case.name} states no expectation"
    kb = _memory_kb(store.quads_for_pattern(None, None, None, None))
    assert engine_keys(kb) == expected
    assert reference_keys(kb) == expected
