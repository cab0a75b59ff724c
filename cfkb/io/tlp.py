"""TLP 2.0 markings and what an export may release.

Claims, sources and entities carry ``cfkb:tlp`` (CLEAR, GREEN, AMBER,
AMBER+STRICT, RED). Anything unmarked counts as the base's default marking,
stored in the base itself (``cfid:base cfkb:defaultTlp``) and AMBER unless an
analyst sets it: deny by default. TLP:RED never leaves, whatever the ceiling.
Several markings on one node (in any graph) count as the strictest, and so
do several values of the base's default.

:func:`release` decides, for a ceiling, which nodes of the base an export may
carry. It works on the N-Triples strings of terms (see :mod:`cfkb.io.exportgraph`), so
that it can run over a whole base without building term objects.

Spec: https://www.first.org/tlp/
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.model.vocabulary import (
    BATCH_PREFIX,
    CFID_NS,
    CFKB,
    PREFIXES,
    RDF,
    TLP_LEVELS,
    tlp_term,
)
from cfkb.store.core import KnowledgeBase

#: The node that holds the base's own settings; never exported.
BASE = ox.NamedNode(CFID_NS + "base")
#: What unmarked nodes count as when the base has no setting.
FALLBACK_DEFAULT = "AMBER"
#: The ceiling of ``cfkb export`` unless asked otherwise.
DEFAULT_CEILING = "GREEN"
#: The highest level that can ever leave the base.
HIGHEST_RELEASABLE = "AMBER+STRICT"

_ORDER = {level: i for i, level in enumerate(TLP_LEVELS)}
#: N-Triples form of each level's IRI, to the level name.
LEVEL_OF_NT: dict[str, str] = {f"<{tlp_term(level).value}>": level for level in TLP_LEVELS}
NT_OF_LEVEL: dict[str, str] = {v: k for k, v in LEVEL_OF_NT.items()}

# N-Triples forms of the IRIs the release rules look at.
NT_TYPE = f"<{RDF.type.value}>"
NT_TLP = f"<{CFKB.tlp.value}>"
NT_CLAIM = f"<{CFKB.Claim.value}>"
NT_EXPORT = f"<{CFKB.Export.value}>"
NT_BATCH = f"<{CFKB.ImportBatch.value}>"
NT_ASSESSMENT = f"<{CFKB.Assessment.value}>"
NT_CONFLICT = f"<{CFKB.Conflict.value}>"
NT_PARTNER_GRADING = f"<{CFKB.PartnerGrading.value}>"
NT_BASE = f"<{BASE.value}>"

#: Claim properties that are the base's own record-keeping (when and by whom
#: a claim was entered, by which import). Never exported: they are replaced on
#: import by the receiving base, and they name analysts.
LOCAL_RECORD = frozenset({
    f"<{CFKB.recordedAt.value}>", f"<{CFKB.recordedBy.value}>",
    "<http://www.w3.org/ns/prov#wasGeneratedBy>",
})

# Public vocabularies: their terms are never withheld. cfid: (the base's own
# individuals) is the one namespace of PREFIXES that is not a vocabulary.
_VOCABULARIES = tuple("<" + ns for p, ns in PREFIXES.items() if p != "cfid") + (
    "<http://www.w3.org/2002/07/owl#", "<http://www.w3.org/ns/shacl#", "<http://www.nanopub.org/nschema#",
)
# Individuals that are the base's own bookkeeping: import batches and their
# files, analysts, the settings node. Never exported.
_PRIVATE = ("<" + BATCH_PREFIX, "<" + CFID_NS + "analyst/", NT_BASE, "<" + CFID_NS + "partner/")

Graph = Mapping[str, Sequence[tuple[str, str]]]


def normalise(level: str) -> str:
    """The canonical name of a TLP level, from what an analyst typed.

    >>> normalise("tlp:amber+strict")
    'AMBER+STRICT'
    >>> normalise("white")
    'CLEAR'

    Raises:
        InputError: not a TLP 2.0 level.
    """
    name = level.strip().upper()
    name = name.removeprefix("TLP:").removeprefix("TLP_").replace("_", "+").replace(" ", "+")
    if name == "WHITE":  # TLP 1.0's name for CLEAR
        name = "CLEAR"
    if name not in _ORDER:
        raise InputError(f"{level!r} is not a TLP 2.0 level; use one of {', '.join(TLP_LEVELS)}")
    return name


def order(level: str) -> int:
    """The position of a level, CLEAR = 0 to RED = 4."""
    return _ORDER[level]


def effective_ceiling(ceiling: str) -> str:
    """The ceiling an export really uses: RED is lowered to AMBER+STRICT.

    >>> effective_ceiling("RED")
    'AMBER+STRICT'
    """
    level = normalise(ceiling)
    return level if order(level) <= order(HIGHEST_RELEASABLE) else HIGHEST_RELEASABLE


def allowed(level: str, ceiling: str) -> bool:
    """Whether a node marked ``level`` may leave under ``ceiling``.

    >>> allowed("GREEN", "AMBER"), allowed("AMBER", "GREEN"), allowed("RED", "RED")
    (True, False, False)
    """
    return level != "RED" and order(level) <= order(effective_ceiling(ceiling))


def default_level(kb: KnowledgeBase) -> str:
    """What unmarked claims, sources and entities count as in this base.

    Several values (in any graph) count as the strictest of them, and a value
    that is not a TLP level as RED: a setting nobody can read denies.
    """
    found = None
    for q in kb.store.quads_for_pattern(BASE, CFKB.defaultTlp, None, None):
        name = LEVEL_OF_NT.get(str(q.object), "RED")
        if found is None or order(name) > order(found):
            found = name
    return found or FALLBACK_DEFAULT


def setting_problems(kb: KnowledgeBase) -> list[str]:
    """What is wrong with the base's own settings and state, each with its fix."""
    problems = []
    marks = [str(q.object) for q in kb.store.quads_for_pattern(BASE, CFKB.defaultTlp, None, None)]
    if len(marks) > 1 or any(m not in LEVEL_OF_NT for m in marks):
        problems.append(f"the base's default marking has {len(marks)} value(s) ({', '.join(sorted(marks))});"
                        f" it counts as {default_level(kb)}: set one with 'cfkb tlp default LEVEL'")
    damaged = kb.damaged_generations()
    if damaged:
        problems.append(f"the base's generation holds {len(damaged)} value(s) cfkb did not write"
                        f" ({', '.join(sorted(damaged)[:3])}); they are ignored; repair with"
                        " 'cfkb validate --repair' (any import or claim add drops them too)")
    return problems


def marking_of(kb: KnowledgeBase, iri: str) -> str:
    """The marking of a node as an export counts it: the strictest ``cfkb:tlp``
    it has in any graph, or the base's default when it has none.

    >>> kb = KnowledgeBase.memory(ontology=False)
    >>> marking_of(kb, CFID_NS + "x")
    'AMBER'
    """
    pairs = [(NT_TLP, str(q.object)) for q in kb.store.quads_for_pattern(ox.NamedNode(iri), CFKB.tlp, None, None)]
    return level_of(pairs, default_level(kb))


def set_default_level(kb: KnowledgeBase, level: str) -> str:
    """Set the marking unmarked nodes count as; returns the canonical name.

    >>> kb = KnowledgeBase.memory(ontology=False)
    >>> set_default_level(kb, "green"), default_level(kb)
    ('GREEN', 'GREEN')
    """
    name = normalise(level)
    old = list(kb.store.quads_for_pattern(BASE, CFKB.defaultTlp, None, None))
    kb.write(add=[ox.Quad(BASE, CFKB.defaultTlp, tlp_term(name))], remove=old, keeps_conflicts=True)
    return name


def level_of(pairs: Iterable[tuple[str, str]], default: str) -> str:
    """The marking of a node from its (predicate, object) pairs.

    Several markings count as the strictest; a value that is not a TLP level
    counts as RED (deny when in doubt).
    """
    found = None
    for p, o in pairs:
        if p == NT_TLP:
            level = LEVEL_OF_NT.get(o, "RED")
            if found is None or order(level) > order(found):
                found = level
    return found or default


def is_vocabulary(term: str) -> bool:
    """Terms of public vocabularies (cfkb:, rdf:, prov:, ...) are never withheld."""
    return term.startswith(_VOCABULARIES)


def is_private(term: str) -> bool:
    """The base's bookkeeping: batches, their files, analysts, settings."""
    return term.startswith(_PRIVATE)


@dataclass
class Release:
    """What an export may carry under one ceiling.

    ``claims`` are the claims that may leave; ``nodes`` every claim, entity,
    source and vocabulary term whose IRI may appear; ``kinds`` the kind of
    each subject of the base (claim, entity, private, ...); ``hidden`` the
    IRIs marked above the ceiling, whatever their kind (a vocabulary term,
    an IRI of another namespace): never named.
    """

    ceiling: str
    default: str
    claims: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    withheld_claims: int = 0
    kinds: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)

    def may_name(self, term: str) -> bool:
        """Whether an IRI (N-Triples form) may appear in the export."""
        if term in self.nodes:
            return True
        if term in self.hidden:
            return False
        if is_vocabulary(term) and self.kinds.get(term, "vocabulary") == "vocabulary":
            return True
        if term in self.kinds or is_private(term):
            return False
        # an IRI the base knows nothing about counts as the default marking
        return term.startswith("<") and allowed(self.default, self.ceiling)


def kind_of(subject: str, pairs: Sequence[tuple[str, str]]) -> str:
    """claim, entity, vocabulary, private (bookkeeping), export, assessment,
    conflict (stored, derived data) or bnode.

    An IRI in a vocabulary's namespace that the data gives a type (a
    ``cfkb:Person`` named with a ``schema:`` IRI) is an entity like any other.
    """
    if subject.startswith("_:"):
        return "bnode"
    types = {o for p, o in pairs if p == NT_TYPE}
    if NT_CLAIM in types:
        return "claim"
    if NT_EXPORT in types:
        return "export"
    if NT_ASSESSMENT in types:
        return "assessment"
    if NT_CONFLICT in types:
        return "conflict"
    if NT_BATCH in types or NT_PARTNER_GRADING in types or is_private(subject):
        return "private"
    if is_vocabulary(subject) and not types:
        return "vocabulary"
    return "entity"


def release(graph: Graph, ceiling: str, default: str) -> Release:
    """Decide which claims and entities may leave under ``ceiling``.

    A claim leaves when its own marking is within the ceiling and every IRI
    it names (subject, object, speaker, outlet, document, area, election)
    may leave too. An entity leaves when its marking is within the ceiling,
    unless it is mentioned only by withheld claims (its presence would hint at
    them). Blank nodes follow whatever refers to them (see :mod:`cfkb.io.exportselect`).
    """
    ceiling = effective_ceiling(ceiling)
    rel = Release(ceiling=ceiling, default=default)
    kinds, levels = rel.kinds, rel.levels
    ok_levels = frozenset(level for level in TLP_LEVELS if allowed(level, ceiling))
    claims: list[str] = []
    ok_entities: set[str] = set()
    for s, pairs in graph.items():
        # one pass over the node's triples for its types and markings
        marks = [(p, o) for p, o in pairs if p in (NT_TYPE, NT_TLP)]
        kind = kind_of(s, marks)
        kinds[s] = kind
        if kind == "claim":
            claims.append(s)
            levels[s] = level_of(marks, default)
        elif kind == "entity":
            level = level_of(marks, default)
            levels[s] = level
            if level in ok_levels:
                ok_entities.add(s)
        elif kind == "vocabulary":
            # a vocabulary term's own block follows its marking (unmarked: the
            # default); its IRI is public unless it is itself marked too high
            levels[s] = level_of(marks, default)
        if kind != "entity" and any(p == NT_TLP for p, _ in marks) and level_of(marks, default) not in ok_levels:
            rel.hidden.add(s)  # marked too high: never named, whatever it is
    default_ok = allowed(default, ceiling)
    hidden = rel.hidden

    def may_name(term: str) -> bool:
        if term in ok_entities:
            return True
        if term in hidden:
            return False
        if is_vocabulary(term) and kinds.get(term, "vocabulary") == "vocabulary":
            return True
        if term in kinds or is_private(term):
            return False
        return default_ok

    # The same few thousand entities are named by every claim: decide each
    # term once. ``Memo`` computes a term's answer the first time it is
    # looked up, so the test per claim runs in C.
    decided = Memo(lambda o: may_name(o) if o[0] == "<" else
                       _bnode_ok(graph, o, may_name, ceiling, default, set()))
    skip = LOCAL_RECORD | {NT_TLP}
    mentioned_by_released: set[str] = set()
    mentioned: set[str] = set()
    withheld = 0
    for c in claims:
        # IRIs the claim names (not its own bookkeeping or marking), and every blank node
        refs = [o for p, o in graph[c] if (o[0] == "<" and p not in skip) or o[0] == "_"]
        mentioned.update(refs)
        if levels[c] in ok_levels and all(map(decided.__getitem__, refs)):
            rel.claims.add(c)
            mentioned_by_released.update(refs)
        else:
            withheld += 1
    rel.withheld_claims = withheld
    # an entity only withheld claims mention would hint at them
    rel.nodes = {e for e in ok_entities if e not in mentioned or e in mentioned_by_released}
    rel.nodes |= rel.claims
    return rel


class Memo(dict[str, bool]):
    """A memo: ``self[term]`` is ``decide(term)``, computed once."""

    def __init__(self, decide: Callable[[str], bool]) -> None:
        super().__init__()
        self.decide = decide

    def __missing__(self, term: str) -> bool:
        value = self[term] = self.decide(term)
        return value


def _bnode_ok(graph: Graph, node: str, may_name: Callable[[str], bool], ceiling: str, default: str,
              seen: set[str]) -> bool:
    """A blank node may leave if its marking allows and everything it names may."""
    if node in seen:
        return True
    seen.add(node)
    pairs = graph.get(node, ())
    if any(p == NT_TLP for p, _ in pairs) and not allowed(level_of(pairs, default), ceiling):
        return False
    for _, o in pairs:
        if o[0] == "<" and not may_name(o):
            return False
        if o.startswith("_:") and not _bnode_ok(graph, o, may_name, ceiling, default, seen):
            return False
    return True


__all__ = [
    "BASE", "DEFAULT_CEILING", "FALLBACK_DEFAULT", "Release", "allowed", "default_level", "effective_ceiling",
    "marking_of", "setting_problems",
    "normalise", "order", "release", "set_default_level",
]
