"""The named queries, rewritten for Oxigraph's planner, answer what the plain texts answered.

``fixtures/queries_before/`` holds the texts as they were before their joins were
reordered (bound pattern first, class checks as FILTER EXISTS, nested OPTIONALs,
subqueries for the date filter and the source counts). Each named query must give
the same rows as its old text, for every parameter value the seed offers
(``entities`` was not rewritten).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest

from cfkb import queries
from cfkb.store import KnowledgeBase

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
