"""The on-disk store: creation, the writer lock, transactional writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb.errors import StoreError, StoreExistsError, StoreLockedError, StoreMissingError
from cfkb.model.vocabulary import CFID, CFKB, RDF
from cfkb.store.core import KnowledgeBase


def dump(path: Path) -> list[str]:
    kb = KnowledgeBase.open(path)
    try:
        return sorted(str(q) for q in kb.store)
    finally:
        kb.close()


def test_create_twice_is_refused(tmp_path):
    KnowledgeBase.create(tmp_path / "s").close()
    with pytest.raises(StoreExistsError):
        KnowledgeBase.create(tmp_path / "s")


def test_open_missing_and_foreign_paths_give_clear_errors(tmp_path):
    with pytest.raises(StoreMissingError, match=r"cfkb --store \S+ init"):
        KnowledgeBase.open(tmp_path / "nope")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("hello")
    with pytest.raises(StoreError, match="not a cfkb store"):
        KnowledgeBase.open(foreign)


def test_second_writer_in_another_process_gets_store_in_use(store_path):
    holder = KnowledgeBase.open(store_path, write=True)
    try:
        code = textwrap.dedent(f"""
            from cfkb.store.core import KnowledgeBase
            from cfkb.errors import StoreLockedError
            try:
                KnowledgeBase.open({str(store_path)!r}, write=True)
            except StoreLockedError as e:
                print("LOCKED", e)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("LOCKED store in use"), out.stdout + out.stderr
        # readers are not blocked by a writer
        reader = KnowledgeBase.open(store_path)
        assert reader.claim_count() > 0
        reader.close()
    finally:
        holder.close()


def test_reading_while_another_process_writes_never_reports_damage(store_path):
    """A read-only open racing a live writer (RocksDB removing files under it) is tried again:
    it opens, or at worst says "store in use", and never calls the store damaged."""
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        import pyoxigraph as ox
        from cfkb.store.core import KnowledgeBase
        kb = KnowledgeBase.open({str(store_path)!r}, write=True)
        print("writing", flush=True)
        p = ox.NamedNode("http://example.org/p")
        i = 0
        while True:
            kb.store.extend([ox.Quad(ox.NamedNode(f"http://example.org/s{{i}}"), p, ox.Literal("x" * 200))])
            i += 1
            if i % 200 == 0:
                kb.store.flush()
    """)], stdout=subprocess.PIPE, text=True)
    written = ox.NamedNode("http://example.org/p")
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
        for _ in range(60):
            try:
                KnowledgeBase.open(store_path).close()
            except StoreLockedError as exc:
                assert "store in use" in str(exc)
        assert writer.poll() is None, "the writer stopped"
    finally:
        writer.kill()
        writer.communicate()
    with KnowledgeBase.open(store_path) as kb:
        assert any(kb.store.quads_for_pattern(None, written, None)), "the opens did not race a writer"


def test_lock_error_type_in_process(store_path):
    holder = KnowledgeBase.open(store_path, write=True)
    try:
        with pytest.raises(StoreLockedError, match="store in use"):
            KnowledgeBase.open(store_path, write=True)
    finally:
        holder.close()


def test_failed_write_leaves_store_unchanged(store_path):
    before = dump(store_path)
    kb = KnowledgeBase.open(store_path, write=True)
    good = ox.Quad(CFID.x, RDF.type, CFKB.Person)
    # a quad whose removal references a term pyoxigraph cannot write in DELETE DATA:
    # a blank node is not allowed there, so the whole update fails
    bad = ox.Quad(ox.BlankNode("b"), RDF.type, CFKB.Person)
    with pytest.raises(StoreError, match="nothing was changed"):
        kb.write(add=[good], remove=[bad])
    kb.close()
    assert dump(store_path) == before


def test_write_is_atomic_add_and_remove(store_path):
    kb = KnowledgeBase.open(store_path, write=True)
    old = ox.Quad(CFID.tmp, RDF.type, CFKB.Person)
    kb.write(add=[old])
    new = ox.Quad(CFID.tmp, RDF.type, CFKB.Party)
    kb.write(add=[new], remove=[old])
    assert kb.contains(CFID.tmp, RDF.type, CFKB.Party)
    assert not kb.contains(CFID.tmp, RDF.type, CFKB.Person)
    kb.close()


def test_read_only_store_refuses_writes(store_path):
    kb = KnowledgeBase.open(store_path)
    with pytest.raises(StoreError, match="read-only"):
        kb.write(add=[ox.Quad(CFID.x, RDF.type, CFKB.Person)])
    kb.close()


def test_claims_present_on_a_base_without_claims_and_with_one(tmp_path):
    """A base that holds no claim answers without a lookup per IRI; once it holds
    one (here only in a partner's named graph), each IRI is looked up again."""
    from cfkb.model.vocabulary import CLAIM_PREFIX

    mine, other = CLAIM_PREFIX + "a" * 24, CLAIM_PREFIX + "b" * 24
    with KnowledgeBase.create(tmp_path / "kb") as kb:
        assert kb.claims_present([mine, other]) == set()
        kb.write([ox.Quad(ox.NamedNode(mine), RDF.type, CFKB.Claim, ox.NamedNode("https://partner.example/np/1"))])
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        assert kb.claims_present([mine, other]) == {mine}
