"""The named queries, rewritten for Oxigraph's planner, answer what the plain texts answered.

``fixtures/queries_before/`` holds the texts as they were before their joins were
reordered (bound pattern first, class checks as FILTER EXISTS, nested OPTIONALs,
subqueries for the date filter and the source counts). Each named query must give
the same rows as its old text, for every parameter value the seed offers
(``entities`` was not rewritten).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb.model.vocabulary import RDFS
from cfkb.server.jobs import QueryJob, run_job
from cfkb.store.core import KnowledgeBase
from cfkb.workflow import queries

BEFORE = Path(__file__).parent / "fixtures" / "queries_before"
XSD_DATE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")


@pytest.fixture(scope="module")
def seed_kb(seed_template: Path):
    kb = KnowledgeBase.open(seed_template)
    yield kb
    kb.close()


def _rows(kb: KnowledgeBase, text: str, bindings: dict[str, ox.NamedNode | ox.Literal]) -> Counter[tuple[str, ...]]:
    result = kb.query(text, bindings)
    names = [v.value for v in result.variables]
    return Counter(tuple(str(s[n]) if s[n] is not None else "" for n in names) for s in result)


def _values(kb: KnowledgeBase) -> dict[str, list[dict[str, ox.NamedNode | ox.Literal]]]:
    def column(query: str) -> list[ox.NamedNode | ox.Literal]:
        return [r["x"] for r in kb.select(query)]

    entities = column("SELECT DISTINCT ?x WHERE { ?c a cfkb:Claim { ?c rdf:subject ?x } UNION { ?c rdf:object ?x } }")
    sources = column("SELECT DISTINCT ?x WHERE { ?c a cfkb:Claim { ?c prov:wasAttributedTo ?x }"
                     " UNION { ?c cfkb:statedIn ?x } }")
    pairs = [(r["s"], r["o"]) for r in kb.select("SELECT DISTINCT ?s ?o WHERE { ?c a cfkb:Claim ;"
                                                 " rdf:subject ?s ; rdf:object ?o }")]
    dates = sorted({d.value for d in column("SELECT DISTINCT ?x WHERE { ?c cfkb:statedOn ?x }")})
    days = [dates[0], dates[len(dates) // 2], dates[-1], "1990-01-01"]
    return {
        "claims_about": [{"entity": e} for e in entities],
        "said_by": [{"source": s} for s in sources],
        "who_said": [{"subject": s, "object": o} for s, o in pairs] + [{"subject": o, "object": s} for s, o in pairs],
        "claims_as_of": [{"asOf": ox.Literal(d, datatype=XSD_DATE)} for d in days],
    }


@pytest.mark.parametrize("name", sorted(p.stem for p in BEFORE.glob("*.rq")))
def test_named_query_gives_the_rows_of_its_plain_text(seed_kb, name):
    named = queries.library()[name]
    before = (BEFORE / f"{name}.rq").read_text(encoding="utf-8")
    assert named.text != before, "the fixture should hold the text from before the rewrite"
    cases = _values(seed_kb).get(name, [{}])
    assert cases
    nonempty = 0
    for bindings in cases:
        now = _rows(seed_kb, named.text, bindings)
        assert now == _rows(seed_kb, before, bindings), (name, bindings)
        nonempty += bool(now)
    assert nonempty, f"{name}: no case returned rows, so the comparison shows nothing"


# -- page plans ------------------------------------------------------------------------------

PLANNED = sorted(name for name, q in queries.library().items() if q.page_text is not None)


def _answer(kb: KnowledgeBase, text: str, bindings: dict[str, ox.NamedNode | ox.Literal], limit: int = 10_000,
            offset: int = 0, whole: str = "") -> list[dict[str, object]]:
    job = QueryJob.make(text, "json", limit, bindings, offset, whole=whole)
    return json.loads(run_job(kb, job).body)["results"]["bindings"]


def test_the_shipped_page_plans_are_not_named_queries_themselves():
    assert PLANNED == ["claims_as_of"]
    assert not [name for name in queries.library() if "." in name]


@pytest.mark.parametrize("name", PLANNED)
def test_a_page_plan_gives_the_first_rows_of_the_whole_answer(seed_kb, name):
    named = queries.library()[name]
    cut = 0
    for bindings in _values(seed_kb)[name]:
        whole = _answer(seed_kb, named.text, bindings)
        for end in range(1, len(whole) + 1):
            # the plan alone, where it is used: exactly the whole answer's first rows, in order
            plan = _answer(seed_kb, named.page(end), bindings)
            assert plan == whole[:end], (name, bindings, end)
            cut += len(plan) < len(whole)
        for limit in (1, 2, 5):
            for offset in range(0, len(whole) + 2, limit):
                page = _answer(seed_kb, named.page(offset + limit + 1), bindings, limit, offset, named.text)
                assert page == whole[offset:offset + limit], (name, bindings, limit, offset)
    assert cut, "no page plan left rows out, so it was never tested as a plan"


def test_a_page_plan_that_comes_up_short_gives_way_to_the_whole_query(seed_template, tmp_path):
    """A claim whose subject has no English label drops out of the joins after the plan counted it."""
    named = queries.library()["claims_as_of"]
    path = tmp_path / "kb"
    shutil.copytree(seed_template, path)
    with KnowledgeBase.open(path, write=True) as kb:
        newest = kb.select("SELECT ?claim ?s ?date WHERE { ?claim a cfkb:Claim ; rdf:subject ?s ;"
                           " cfkb:statedOn ?date } ORDER BY DESC(?date) ?claim LIMIT 1")[0]
        labels = [q for q in kb.store.quads_for_pattern(newest["s"], RDFS.label, None)
                  if isinstance(q.object, ox.Literal) and q.object.language == "en"]
        assert labels
        kb.write(remove=labels)
        as_of = {"asOf": ox.Literal(newest["date"].value, datatype=XSD_DATE)}
        whole = _answer(kb, named.text, as_of)
        assert whole and newest["claim"].value not in {r["claim"]["value"] for r in whole}
        assert len(_answer(kb, named.page(4), as_of)) < 4  # the plan alone comes up short
        assert _answer(kb, named.page(4), as_of, 3, 0, named.text) == whole[:3]
