"""TLP on every marked subject (issue 15): vocabulary terms, entities named with
a vocabulary's IRI, foreign IRIs, blank nodes; marks in any graph; a claim that
names a withheld thing is withheld. Exports in every format are searched for
the text of everything that may not leave."""

from __future__ import annotations

import datetime as dt
import json

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfkb.io.export import ExportOptions, export_base
from cfkb.io.report import briefing
from cfkb.io.tlp import allowed, effective_ceiling, order
from cfkb.model.vocabulary import (
    CFID_NS,
    CFKB,
    ONTOLOGY_GRAPH,
    RDF,
    RDFS,
    SCHEMA_NS,
    STATE_GRAPH,
    TLP_LEVELS,
    Claim,
    tlp_term,
)
from cfkb.store.core import KnowledgeBase
from conftest import invoke

WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
FORMATS = [("turtle", None), ("trig", None), ("jsonld", None), ("nt", None), ("nq", None), ("trig", "nanopub")]
BELOW_RED = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]  # RED as a ceiling means AMBER+STRICT


def _exports(kb: KnowledgeBase, ceiling: str):
    for fmt, profile in FORMATS:
        text = export_base(kb, ExportOptions(format=fmt, ceiling=ceiling, profile=profile, when=WHEN)).text
        # JSON escapes non-ASCII; search the decoded strings too
        yield f"{fmt}/{profile}", text + (json.dumps(json.loads(text), ensure_ascii=False) if fmt == "jsonld" else "")


def _mark(node: ox.NamedNode | ox.BlankNode, level: str, graph=None) -> ox.Quad:
    return ox.Quad(node, CFKB.tlp, tlp_term(level), graph or ox.DefaultGraph())


# -- the attacks of the issue -----------------------------------------------------

def test_a_red_comment_on_a_vocabulary_term_never_leaves(kb):
    term = CFKB.participatesIn
    kb.write([ox.Quad(term, RDFS.comment, ox.Literal("RED-COMMENT-ON-TERM")), _mark(term, "RED"),
              ox.Quad(CFKB.memberOf, RDFS.comment, ox.Literal("UNMARKED-COMMENT-ON-TERM"))])
    for ceiling in BELOW_RED:
        for name, text in _exports(kb, ceiling):
            assert "RED-COMMENT-ON-TERM" not in text, (ceiling, name)
            # unmarked: the base's default (AMBER) applies to what it says about a term too
            assert ("UNMARKED-COMMENT-ON-TERM" in text) == (order(effective_ceiling(ceiling)) >= 2), (ceiling, name)


def test_a_red_person_with_a_schema_iri_and_the_claims_naming_it_never_leave(kb):
    person = ox.NamedNode(SCHEMA_NS + "SecretSource")
    kb.write([ox.Quad(person, RDF.type, CFKB.Person), ox.Quad(person, RDFS.label, ox.Literal("RED-PERSON-LABEL")),
              _mark(person, "RED")])
    said = Claim(subject=CFID_NS + "harakat-hoquq", predicate=CFKB.participatesIn.value,
                 object=CFID_NS + "iraq-provincial-elections-2023", source=CFID_NS + "al-sharqiya-tv",
                 speaker=person.value, date=dt.date(2023, 9, 2), quote="GREEN-QUOTE-BY-RED-SPEAKER", tlp="GREEN")
    kb.write(said.quads())
    before = export_base(kb, ExportOptions(format="nt", ceiling="GREEN", when=WHEN)).withheld
    for ceiling in BELOW_RED:
        for name, text in _exports(kb, ceiling):
            for token in ("RED-PERSON-LABEL", "GREEN-QUOTE-BY-RED-SPEAKER", "SecretSource"):
                assert token not in text, (ceiling, name, token)
    kb.write([_mark(person, "CLEAR")], remove=[_mark(person, "RED")])
    after = export_base(kb, ExportOptions(format="nt", ceiling="GREEN", when=WHEN))
    assert "GREEN-QUOTE-BY-RED-SPEAKER" in after.text and after.withheld == before - 1


@pytest.mark.parametrize("role", ["subject", "object", "source", "speaker", "cited_in"])
def test_a_claim_naming_a_withheld_thing_is_withheld(kb, role):
    thing = ox.NamedNode("http://other.example/thing")  # a foreign IRI
    kb.write([ox.Quad(thing, RDFS.label, ox.Literal("FOREIGN-RED-LABEL")), _mark(thing, "RED")])
    fields = dict(subject=CFID_NS + "harakat-hoquq", predicate=CFKB.participatesIn.value,
                  object=CFID_NS + "iraq-provincial-elections-2023", source=CFID_NS + "al-sharqiya-tv",
                  date=dt.date(2023, 9, 3), quote="CLEAR-QUOTE-NAMING-RED", tlp="CLEAR")
    fields[role] = thing.value
    kb.write(Claim(**fields).quads())
    for name, text in _exports(kb, "AMBER+STRICT"):
        assert "CLEAR-QUOTE-NAMING-RED" not in text and "FOREIGN-RED-LABEL" not in text, name
        assert "other.example" not in text, name


@pytest.mark.parametrize("graph", [STATE_GRAPH, ONTOLOGY_GRAPH, ox.NamedNode("https://partner.example/g")])
def test_a_marking_in_any_graph_counts_for_entity_show_and_export(runner, store_path, graph):
    kb = KnowledgeBase.open(store_path, write=True)
    hoquq = ox.NamedNode(CFID_NS + "harakat-hoquq")
    kb.write([_mark(hoquq, "RED", graph)])
    kb.close()
    shown = invoke(runner, store_path, "entity", "show", "Harakat Hoquq")
    assert "marking   TLP:RED" in shown.stdout
    shown = invoke(runner, store_path, "entity", "show", "Harakat Hoquq", "--format", "json")
    assert json.loads(shown.stdout)["marking"] == "RED"
    for ceiling in ("CLEAR", "AMBER+STRICT"):
        out = invoke(runner, store_path, "export", "--format", "nt", "--tlp", ceiling)
        assert out.exit_code == 0, out.output
        assert not [line for line in out.stdout.splitlines() if "harakat-hoquq" in line], ceiling


# -- the property: marks on every kind of subject, in every graph ------------------

LEVEL = st.sampled_from([*TLP_LEVELS, None])
GRAPHS = [ox.DefaultGraph(), ox.NamedNode("https://partner.example/g"), STATE_GRAPH, ONTOLOGY_GRAPH]
#: (kind, how its IRI is made): each subject of the generated base is one of these.
KINDS = ["cfid", "schema-entity", "foreign", "vocabulary", "blank"]
VOCABULARY = [CFKB.participatesIn, CFKB.memberOf, CFKB.leads, CFKB.Person, CFKB.Party]
ROLES = ["subject", "object", "source", "speaker", "cited_in"]


@st.composite
def marked_things(draw):
    n = draw(st.integers(2, 6))
    things = []
    for _i in range(n):
        kind = draw(st.sampled_from(KINDS))
        marks = draw(st.lists(st.tuples(st.sampled_from(TLP_LEVELS), st.sampled_from(range(len(GRAPHS)))),
                              max_size=2))
        things.append((kind, marks))
    claims = []
    for _j in range(draw(st.integers(1, 5))):
        level = draw(LEVEL)
        names = {role: draw(st.integers(-1, n - 1)) for role in ROLES}  # -1: a seed entity
        claims.append((level, names))
    default = draw(st.sampled_from(["AMBER", "GREEN", "CLEAR", "RED"]))
    return things, claims, default


def _build(things, claims, default):
    kb = KnowledgeBase.memory()
    quads: list[ox.Quad] = [ox.Quad(ox.NamedNode(CFID_NS + "base"), CFKB.defaultTlp, tlp_term(default))]
    nodes = []
    vocab = iter(VOCABULARY)
    holder = ox.NamedNode(CFID_NS + "holder")
    quads += [ox.Quad(holder, RDF.type, CFKB.Organization), ox.Quad(holder, RDFS.label, ox.Literal("holder")),
              _mark(holder, "CLEAR")]
    for i, (kind, marks) in enumerate(things):
        if kind == "cfid":
            node = ox.NamedNode(f"{CFID_NS}thing-{i}")
        elif kind == "schema-entity":
            node = ox.NamedNode(f"{SCHEMA_NS}Thing{i}")
        elif kind == "foreign":
            node = ox.NamedNode(f"http://other.example/thing-{i}")
        elif kind == "vocabulary":
            node = next(vocab, ox.NamedNode(f"{SCHEMA_NS}term{i}"))
        else:
            node = ox.BlankNode()
            quads.append(ox.Quad(holder, RDFS.seeAlso, node))
        nodes.append(node)
        if kind in ("cfid", "schema-entity"):
            quads.append(ox.Quad(node, RDF.type, CFKB.Person))
        quads.append(ox.Quad(node, RDFS.comment, ox.Literal(f"TEXT-OF-THING-{i}-END")))
        quads.append(ox.Quad(node, RDFS.label, ox.Literal(f"LABEL-OF-THING-{i}-END", language="en")))
        for level, g in marks:
            quads.append(_mark(node, level, GRAPHS[g]))
    people = {-1: CFID_NS + "seed-person"}
    quads += [ox.Quad(ox.NamedNode(people[-1]), RDF.type, CFKB.Person), _mark(ox.NamedNode(people[-1]), "CLEAR")]
    for j, (level, names) in enumerate(claims):
        iri = {r: (people[-1] if k == -1 or isinstance(nodes[k], ox.BlankNode) else nodes[k].value)
               for r, k in names.items()}
        quads += Claim(subject=iri["subject"], predicate=CFKB.leads.value, object=iri["object"],
                       source=iri["source"], speaker=iri["speaker"], cited_in=iri["cited_in"],
                       date=dt.date(2023, 8, 1 + j), quote=f"QUOTE-OF-CLAIM-{j}-END", tlp=level).quad_list()
    kb.write(quads)
    return kb, nodes


def _level(marks, default):
    return max((m for m, _ in marks), key=order) if marks else default


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marked_things(), st.sampled_from(BELOW_RED))
def test_no_text_above_the_ceiling_leaves_whatever_is_marked_where(base, ceiling):
    things, claims, default = base
    kb, nodes = _build(things, claims, default)
    absent = []
    withheld_things = set()
    for i, (kind, marks) in enumerate(things):
        # an unmarked blank node is part of what refers to it (the holder, CLEAR)
        level = _level(marks, "CLEAR" if kind == "blank" else default)
        if not allowed(level, ceiling):
            absent += [f"TEXT-OF-THING-{i}-END", f"LABEL-OF-THING-{i}-END"]
            if (marks and kind != "blank") or kind in ("cfid", "schema-entity", "foreign"):
                withheld_things.add(i)
    for j, (level, names) in enumerate(claims):
        named = {k for k in names.values() if k >= 0 and not isinstance(nodes[k], ox.BlankNode)}
        if not allowed(level or default, ceiling) or named & withheld_things:
            absent.append(f"QUOTE-OF-CLAIM-{j}-END")
    for name, text in _exports(kb, ceiling):
        leaked = [token for token in absent if token in text]
        assert not leaked, (name, ceiling, leaked)
    # the briefing, under the same ceiling, in both formats
    for fmt in ("markdown", "html"):
        text = briefing(kb, fmt=fmt, ceiling=ceiling, today="2024-05-01")
        leaked = [token for token in absent if token in text]
        assert not leaked, (fmt, ceiling, leaked)
