"""The entity index kept in a file beside the graph (cfkb/store/namescache.py)."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from cfkb.model.vocabulary import CFID_NS, CFKB, RDF, RDFS, SKOS
from cfkb.store import entityindex, namescache
from cfkb.store.core import BULK_MIN_QUADS, KnowledgeBase
from cfkb.workflow.entities import add_entity


@pytest.fixture
def keeping(monkeypatch):
    """Every base keeps its names in the file (the seed has fewer names than a base that does)."""
    monkeypatch.setattr(namescache, "KEEP_FROM", 0)
    reads: list[int] = []
    real = entityindex.read_index

    def counted(base):
        reads.append(1)
        return real(base)

    monkeypatch.setattr(entityindex, "read_index", counted)
    return reads


def _index(path):
    kb = KnowledgeBase.open(path)
    try:
        index = kb.entity_index()
        index.prepare()
        return index
    finally:
        kb.close()


def _same(a, b):
    for name in ("labels", "types", "merged", "_strict", "_loose", "_names", "_words", "_loose_words", "_wordsets",
                 "_strict_wordsets", "_arabic_loose", "_latin_consonants", "_loose_names"):
        assert dict(getattr(a, name)) == dict(getattr(b, name)), name


def test_a_reader_keeps_the_names_and_the_next_one_reads_only_the_file(store_path, keeping):
    first = _index(store_path)
    assert len(keeping) == 1 and (store_path / namescache.FILE).is_file()
    again = _index(store_path)
    assert len(keeping) == 1  # the file, not the graph
    _same(first, again)
    for name in ("Hoquq", "Harakat Hoquq", "Haider al-Abadi", "KH", "cfid:ihec"):
        assert again.lookup(name) == first.lookup(name)


def test_a_write_brings_the_file_along_and_a_bulk_write_leaves_it_to_be_read_again(store_path, keeping):
    _index(store_path)
    kb = KnowledgeBase.open(store_path, write=True)
    iri = add_entity(kb, "Harakat Babiliyoun", "party", analyst="t", aliases=("Babiliyoun",))
    kb.close()
    after = _index(store_path)
    assert len(keeping) == 1  # the write followed the file: no reading of every name
    assert after.resolve("babiliyoun") == iri
    fresh = entityindex.read_index(KnowledgeBase.open(store_path))
    fresh.prepare()
    _same(after, fresh)
    # a batch big enough for the bulk loader: the file is left behind, read again by the next reader
    kb = KnowledgeBase.open(store_path, write=True)
    many = [ox.Quad(ox.NamedNode(f"{CFID_NS}bulk-{i}"), RDFS.label, ox.Literal(f"Bulk Party {i}", language="en"))
            for i in range(11_000)]
    many += [ox.Quad(ox.NamedNode(f"{CFID_NS}bulk-{i}"), RDF.type, CFKB.Party) for i in range(11_000)]
    assert len(many) >= BULK_MIN_QUADS
    kb.write_many(many)
    kb.close()
    reads = len(keeping)
    assert _index(store_path).resolve("Bulk Party 2999") == CFID_NS + "bulk-2999"
    assert len(keeping) == reads + 1
    assert _index(store_path).resolve("Bulk Party 7") == CFID_NS + "bulk-7"
    assert len(keeping) == reads + 1


def test_a_write_that_keeps_the_generation_still_moves_the_names_state(store_path, keeping):
    kb = KnowledgeBase.open(store_path, write=True)
    before = namescache.stamp(kb.store)
    kb.write(add=[ox.Quad(ox.NamedNode(CFID_NS + "ihec"), SKOS.altLabel, ox.Literal("The Commission"))],
             keeps_conflicts=True)
    assert kb.generation() in before  # the generation stayed
    assert namescache.stamp(kb.store) != before
    kb.close()


def test_a_file_of_another_state_or_damaged_is_not_used(store_path, keeping):
    _index(store_path)
    path, stamp_path = store_path / namescache.FILE, store_path / namescache.STAMP_FILE
    content, state = stamp_path.read_text(encoding="utf-8").split(" ", 1)
    held = json.loads(path.read_text(encoding="utf-8"))
    held["names"] = [["https://example.org/wrong", "Harakat Hoquq", True, "harakat hoquq"]]
    path.write_text(json.dumps(held), encoding="utf-8")
    stamp_path.write_text(f"{content} another state", encoding="utf-8")
    assert _index(store_path).resolve("Harakat Hoquq") == CFID_NS + "harakat-hoquq"
    # a stamp for other contents than the file's (a names file copied from elsewhere)
    held["content"] = "another"
    path.write_text(json.dumps(held), encoding="utf-8")
    stamp_path.write_text(f"{content} {state}", encoding="utf-8")
    assert _index(store_path).resolve("Harakat Hoquq") == CFID_NS + "harakat-hoquq"
    path.write_text("{not json", encoding="utf-8")
    assert _index(store_path).resolve("Harakat Hoquq") == CFID_NS + "harakat-hoquq"
    stamp_path.write_bytes(b"\xff")
    assert _index(store_path).resolve("Harakat Hoquq") == CFID_NS + "harakat-hoquq"
    assert len(keeping) == 5


def test_a_write_that_names_nothing_moves_only_the_stamp(store_path, keeping):
    from cfkb.model.vocabulary import Claim

    first = _index(store_path)
    names = (store_path / namescache.FILE).read_bytes()
    kb = KnowledgeBase.open(store_path, write=True)
    claim = Claim(subject=CFID_NS + "harakat-hoquq", predicate=CFKB.memberOf.value, object=CFID_NS + "ihec",
                  source=CFID_NS + "al-rabaa-tv")
    kb.write(claim.quads())
    assert not entityindex.names_touched(claim.quads(), [])
    state = namescache.stamp(kb.store)
    kb.close()
    assert (store_path / namescache.FILE).read_bytes() == names  # not written again
    assert (store_path / namescache.STAMP_FILE).read_text(encoding="utf-8").endswith(" " + state)
    _same(_index(store_path), first)
    assert len(keeping) == 1  # the file, not the graph
    # a claim's own type is no entity's; any other type is
    assert entityindex.names_touched([ox.Quad(ox.NamedNode(CFID_NS + "x"), RDF.type, CFKB.Party)], [])


def test_a_small_base_keeps_no_file(store_path):
    _index(store_path)
    assert not (store_path / namescache.FILE).exists()
