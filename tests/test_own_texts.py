"""cfkb's own SPARQL texts (``queries/own/*.rq``): each says what it answers, parses, and is used."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb.model.vocabulary import PREFIXES
from cfkb.resources import queries_dir
from cfkb.store.remote import STAGING_PREFIX

PACKAGE = Path(__file__).resolve().parent.parent / "cfkb"
OWN = sorted((queries_dir() / "own").glob("*.rq"))


def used_names() -> set[str]:
    """The names every ``own_query("...")`` in cfkb's code asks for."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        found.update(re.findall(r'own_query\("([^"]+)"\)', path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("path", OWN, ids=lambda p: p.stem)
def test_each_text_opens_with_what_it_answers_and_runs(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and not text.startswith("# param"), "the first line says what it answers"
    ox.Store().query(text, prefixes=dict(PREFIXES))  # parses, with the prefixes every query gets


def test_every_text_asked_for_is_there_and_every_one_there_is_asked_for():
    assert used_names() == {p.stem for p in OWN}


def test_the_staging_filter_names_the_staging_prefix():
    for name in ("remote_quads_all", "remote_staging_graphs", "remote_open_graphs"):
        assert f'"{STAGING_PREFIX}"' in (queries_dir() / "own" / f"{name}.rq").read_text(encoding="utf-8")


def test_the_open_check_names_the_ontology_graph():
    from cfkb.model.vocabulary import ONTOLOGY_GRAPH

    assert str(ONTOLOGY_GRAPH) in (queries_dir() / "own" / "remote_open_graphs.rq").read_text(encoding="utf-8")
