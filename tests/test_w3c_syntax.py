"""The W3C RDF 1.1 negative syntax tests: cfkb import rejects every one, clearly,
and leaves the store as it was."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from conftest import FIXTURES, invoke

W3C = FIXTURES / "w3c"
CASES = sorted(p for suite in ("turtle", "trig", "ntriples", "nquads") for p in (W3C / suite).iterdir())


@pytest.fixture(scope="module")
def w3c_store(tmp_path_factory):
    from cfkb.store.core import KnowledgeBase

    path = tmp_path_factory.mktemp("w3c") / "s.store"
    KnowledgeBase.create(path).close()
    return path


def test_suite_is_vendored():
    assert len(CASES) == 236


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_negative_syntax_is_rejected_with_location(runner, w3c_store, path: Path):
    result = invoke(runner, w3c_store, "import", str(path))
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"Error: {path}")
    assert "Traceback" not in line and "internal error" not in line
    # file:line[:column]: when the parser knows where, it says so
    assert re.match(rf"Error: {re.escape(str(path))}(:\d+(:\d+)?)?: \S", line), line


def test_store_unchanged_after_all_rejections(w3c_store):
    from cfkb.store.core import KnowledgeBase

    kb = KnowledgeBase.open(w3c_store)
    assert kb.claim_count() == 0
    assert [q for q in kb.quads() if isinstance(q.graph_name, ox.DefaultGraph)] == []
    kb.close()
