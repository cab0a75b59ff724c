"""The gazetteer: add entities and aliases, show them, merge and unmerge them.

A merge folds one entity (the *dropped* one) into another (the *kept* one):
every triple that names the dropped entity, in any graph but the ontology's,
is rewritten to name the kept one; the dropped entity's labels become
aliases of the kept one, and ``dropped cfkb:mergedInto kept`` lets files
that still use the old IRI resolve to the kept entity.

Claim IRIs are content hashes of their subject and object, so a merge that
rewrites a claim's subject or object leaves the claim's IRI as it was: the
IRI still identifies the claim as it was recorded (assessments, conflicts
and partners' copies keep pointing at it), and the claim gets
``cfkb:rewrittenBy`` the merge. The one cost: the same claim re-imported
later under the kept name hashes to a new IRI and is not deduplicated
against the rewritten one.

Each merge is a PROV activity (who, when, why) that records the exact quads
it removed and added (as N-Quads), so :func:`unmerge` restores the base as
it was, as far as those quads go.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import InputError, NotFoundError
from cfkb.model.duplicates import likely_duplicates
from cfkb.model.spelling import expand_curie
from cfkb.model.terms import RoleTypes, analyst_iri, new_entity_iri
from cfkb.model.vocabulary import (
    CFID_NS,
    CFKB,
    CFKB_NS,
    DCT,
    ONTOLOGY_GRAPH,
    PROV,
    RDF,
    RDFS,
    SKOS,
    XSD,
    content_hash,
    curie,
    short_id,
)
from cfkb.store.backend import Object, Subject, value_of
from cfkb.store.core import KnowledgeBase
from cfkb.store.owntexts import own_query

MERGE_PREFIX = CFID_NS + "merge/"
OWL_CLASS = ox.NamedNode("http://www.w3.org/2002/07/owl#Class")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _agent(kb: KnowledgeBase, analyst: str) -> tuple[ox.NamedNode, list[ox.Quad]]:
    agent = analyst_iri(analyst)
    return agent, [ox.Quad(agent, RDF.type, PROV.Person), ox.Quad(agent, RDFS.label, ox.Literal(analyst))]


def _lang_of(text: str) -> str:
    """``ar`` for text in Arabic script, else ``en``."""
    return "ar" if any("ARABIC" in unicodedata.name(ch, "") for ch in text) else "en"


def entity_classes(kb: KnowledgeBase) -> dict[str, str]:
    """Local name to IRI of every class in the cfkb namespace of the ontology."""
    rows = kb.select(own_query("entity_classes"), {"k": OWL_CLASS})
    return {r["c"].value[len(CFKB_NS):]: r["c"].value for r in rows
            if isinstance(r["c"], ox.NamedNode) and r["c"].value.startswith(CFKB_NS)}


def resolve_class(kb: KnowledgeBase, name: str) -> str:
    """The IRI of an entity class named by local name (any case) or CURIE.

    Raises:
        InputError: not a cfkb class (the message lists them).
    """
    classes = entity_classes(kb)
    iri = expand_curie(name)
    if iri in classes.values():
        return str(iri)
    by_key = {k.casefold(): v for k, v in classes.items()}
    found = by_key.get(name.replace(" ", "").replace("_", "").casefold())
    if found is None:
        usable = sorted(k for k in classes if k not in ("Claim", "ImportBatch", "Assessment", "Conflict",
                                                        "ClaimPredicate", "TLPLevel", "FunctionalPerContext",
                                                        "ParticipationImplying", "ParticipationPropagating"))
        raise InputError(f"unknown entity type {name!r}; use one of {', '.join(usable)}")
    return found


def role_types(kb: KnowledgeBase) -> RoleTypes:
    """The classes each claim role allows, from the ontology (domains, ranges, subclasses)."""
    rt = RoleTypes(above={c: {c} | up for c, up in _ancestors(kb).items()})
    for q in kb.store.quads_for_pattern(None, RDFS.domain, None, ONTOLOGY_GRAPH):
        rt.domain[value_of(q.subject)] = value_of(q.object)
    for q in kb.store.quads_for_pattern(None, RDFS.range, None, ONTOLOGY_GRAPH):
        rt.range[value_of(q.subject)] = value_of(q.object)
    rt.classes = sorted(c for c in entity_classes(kb).values() if c not in _NOT_ENTITY_CLASSES)
    return rt


_NOT_ENTITY_CLASSES = {CFKB_NS + k for k in ("Claim", "ImportBatch", "Assessment", "Conflict", "ClaimPredicate",
                                              "TLPLevel", "FunctionalPerContext", "ParticipationImplying",
                                              "ParticipationPropagating", "BackgroundStatement", "EntityMerge",
                                              "EntityUnmerge", "Export", "PartnerGrading")}


# -- add, alias ------------------------------------------------------------

def add_entity(kb: KnowledgeBase, label: str, type_name: str, *, analyst: str, aliases: tuple[str, ...] = (),
               force: bool = False, when: dt.datetime | None = None) -> str:
    """Add an entity with a label, a type and aliases; returns its IRI.

    The label's language is ``ar`` for Arabic script, else ``en``.

    Raises:
        InputError: the type is unknown, or the label (or an alias) already
            names an entity, or is close to a name of one (a variant
            spelling, the same words, a word of a longer name, a very
            similar spelling): unless ``force`` (``--new``).
    """
    label = label.strip()
    if not label:
        raise InputError("an entity needs a non-empty label")
    cls = resolve_class(kb, type_name)
    index = kb.entity_index()
    if not force:
        for name in (label, *aliases):
            found = index.strict_matches(name)
            if found:
                listed = ", ".join(f"{index.describe(i)} <{i}>" for i in sorted(found))
                raise InputError(f"{name!r} already names {listed}; add an alias with 'cfkb entity alias',"
                                 " or pass --new to add a separate entity")
            close = index.near_duplicates(name, role_types(kb).related(cls))
            if close:
                listed = "; ".join(f"{index.describe(m.iri)} <{m.iri}> ({m.how})" for m in close[:5])
                raise InputError(f"{name!r} is close to {listed}; if it is the same, add the name with"
                                 f" 'cfkb entity alias EXISTING {name!r}', or pass --new to add a separate entity")
    iri = ox.NamedNode(new_entity_iri(label, index.labels))
    agent, agent_quads = _agent(kb, analyst)
    when = when or _now()
    quads = [
        ox.Quad(iri, RDF.type, ox.NamedNode(cls)),
        ox.Quad(iri, RDFS.label, ox.Literal(label, language=_lang_of(label))),
        ox.Quad(iri, DCT.created, ox.Literal(when.isoformat(), datatype=XSD.dateTime)),
        ox.Quad(iri, DCT.creator, agent),
        *agent_quads,
    ]
    quads += [ox.Quad(iri, SKOS.altLabel, ox.Literal(a.strip(), language=_lang_of(a))) for a in aliases if a.strip()]
    kb.write(quads)
    return iri.value


def add_alias(kb: KnowledgeBase, name: str, alias: str, *, lang: str | None = None) -> tuple[str, bool]:
    """Give the entity ``name`` means another name; returns (IRI, whether it was new).

    Raises:
        InputError: the alias already names another entity.
    """
    index = kb.entity_index()
    iri = index.resolve(name)
    alias = alias.strip()
    if not alias:
        raise InputError("an alias cannot be empty")
    others = index.strict_matches(alias) - {iri}
    if others:
        listed = ", ".join(f"{index.label(i)} <{i}>" for i in sorted(others))
        raise InputError(f"{alias!r} already names {listed}; an alias must not make names ambiguous")
    if iri in index.strict_matches(alias):
        return iri, False
    kb.write([ox.Quad(ox.NamedNode(iri), SKOS.altLabel, ox.Literal(alias, language=lang or _lang_of(alias)))])
    return iri, True


# -- show ------------------------------------------------------------------

@dataclass
class EntityInfo:
    """An entity as ``cfkb entity show`` prints it."""

    iri: str
    label: str
    types: list[str] = field(default_factory=list)
    labels: list[tuple[str, str | None]] = field(default_factory=list)
    aliases: list[tuple[str, str | None]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    claims: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    #: how the name given matched, when not exactly (a read takes the only suggestion)
    matched: str = ""


_ROLES = {RDF.subject.value: "subject", RDF.object.value: "object", PROV.wasAttributedTo.value: "speaker",
          CFKB.statedIn.value: "source", CFKB.citedIn.value: "cited_in", CFKB.inArea.value: "area",
          CFKB.election.value: "election"}


def show_entity(kb: KnowledgeBase, name: str) -> EntityInfo:
    """Labels, aliases, types, other facts and claim counts of an entity.

    Raises:
        UnknownNameError, AmbiguousNameError: ``name`` does not name one entity.
    """
    index = kb.entity_index()
    match = index.lookup(name, accept="suggestion")
    iri = match.iri
    node = ox.NamedNode(iri)
    info = EntityInfo(iri=iri, label=index.label(iri), matched="" if match.tier == "exact" else match.note(name))
    for q in kb.store.quads_for_pattern(node, None, None, None):
        if q.graph_name == ONTOLOGY_GRAPH:
            continue
        o = q.object
        if q.predicate == RDF.type:
            info.types.append(curie(value_of(o)))
        elif q.predicate == RDFS.label and isinstance(o, ox.Literal):
            info.labels.append((o.value, o.language))
        elif q.predicate == SKOS.altLabel and isinstance(o, ox.Literal):
            info.aliases.append((o.value, o.language))
        else:
            info.other.append((curie(q.predicate.value), curie(o.value) if isinstance(o, ox.NamedNode)
                               else value_of(o)))
    counts: dict[str, int] = defaultdict(int)
    for q in kb.store.quads_for_pattern(None, None, node, None):
        role = _ROLES.get(q.predicate.value)
        if role and kb.contains(q.subject, RDF.type, CFKB.Claim):
            counts[role] += 1
        elif q.predicate == CFKB.mergedInto:
            info.merged.append(value_of(q.subject))
        elif q.predicate == CFKB.kept:
            info.merges.append(short_id(value_of(q.subject)))
    info.claims = dict(counts)
    info.types.sort()
    info.labels.sort(key=lambda x: (x[1] or "", x[0]))
    info.aliases.sort(key=lambda x: (x[1] or "", x[0]))
    info.other.sort()
    return info


# -- likely duplicates -----------------------------------------------------

@dataclass
class DuplicatePair:
    """Two entities whose names suggest they are one, for review and ``cfkb entity merge``."""

    score: float
    a: str
    b: str
    label_a: str
    label_b: str
    types_a: list[str]
    types_b: list[str]
    reasons: list[str]

    def to_json(self) -> dict[str, object]:
        return {"score": round(self.score), "a": {"iri": self.a, "label": self.label_a, "types": self.types_a},
                "b": {"iri": self.b, "label": self.label_b, "types": self.types_b}, "reasons": self.reasons}


def find_duplicates(kb: KnowledgeBase, *, min_score: float = 80) -> list[DuplicatePair]:
    """Likely duplicate entities in the base, best first.

    Pairs come from :func:`cfkb.model.duplicates.likely_duplicates`; pairs
    whose types cannot describe one thing (a person and a party, a province
    and a list) are left out, as ``entity merge`` would refuse them.
    """
    index = kb.entity_index()
    rt = role_types(kb)
    classes = set(rt.classes)
    out = []
    for (a, b), (score, reasons) in likely_duplicates(index, min_score).items():
        ta = {t for t in index.types.get(a, ()) if t in classes}
        tb = {t for t in index.types.get(b, ()) if t in classes}
        if not ta or not tb:
            continue  # not gazetteer entities (analysts, batches, documents' agents)
        if not any(y in rt.related(x) for x in ta for y in tb):
            continue
        out.append(DuplicatePair(score, a, b, index.label(a), index.label(b), sorted(map(curie, ta)),
                                 sorted(map(curie, tb)), reasons))
    out.sort(key=lambda p: (-p.score, p.label_a, p.label_b))
    return out


# -- merge -----------------------------------------------------------------

@dataclass
class MergeRecord:
    """A merge: which entity was kept, which folded in, and what changed."""

    id: str
    iri: str
    kept: str
    dropped: str
    analyst: str
    when: str
    reason: str
    status: str
    claims_rewritten: int
    removed: list[ox.Quad]
    added: list[ox.Quad]


def _nquads(quads: list[ox.Quad]) -> str:
    data = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    return data.decode("utf-8") if isinstance(data, bytes) else str(data)


def _ancestors(kb: KnowledgeBase) -> dict[str, set[str]]:
    supers: dict[str, set[str]] = defaultdict(set)
    for q in kb.store.quads_for_pattern(None, RDFS.subClassOf, None, ONTOLOGY_GRAPH):
        supers[value_of(q.subject)].add(value_of(q.object))
    closure: dict[str, set[str]] = {}
    for cls in list(supers):
        seen, todo = {cls}, [cls]
        while todo:
            for s in supers.get(todo.pop(), ()):
                if s not in seen:
                    seen.add(s)
                    todo.append(s)
        closure[cls] = seen
    return closure


def _compatible(kb: KnowledgeBase, a: set[str], b: set[str]) -> bool:
    """Whether two type sets can describe one thing (one class is a subclass of another)."""
    if not a or not b:
        return True
    up = _ancestors(kb)
    return any(y in up.get(x, {x}) or x in up.get(y, {y}) for x in a for y in b)


def merge_entities(kb: KnowledgeBase, keep_name: str, drop_name: str, *, analyst: str, reason: str,
                   force: bool = False, when: dt.datetime | None = None) -> MergeRecord:
    """Fold the entity ``drop_name`` into ``keep_name``, recorded and undoable.

    Raises:
        InputError: the names mean the same entity, the reason is empty, or
            the types do not fit together (unless ``force``).
    """
    if not reason.strip():
        raise InputError("a merge needs a reason (--reason); it is recorded with the merge")
    index = kb.entity_index()
    keep, drop = index.resolve(keep_name), index.resolve(drop_name)
    if keep == drop:
        raise InputError(f"{keep_name!r} and {drop_name!r} are already the same entity <{keep}>")
    keep_types, drop_types = set(index.types.get(keep, ())), set(index.types.get(drop, ()))
    if not force and not _compatible(kb, keep_types, drop_types):
        raise InputError(f"{index.label(keep)} is a {', '.join(sorted(map(curie, keep_types)))} but"
                         f" {index.label(drop)} is a {', '.join(sorted(map(curie, drop_types)))};"
                         " check the names, or pass --force to merge anyway")
    keep_node, drop_node = ox.NamedNode(keep), ox.NamedNode(drop)
    when = when or _now()
    merge = ox.NamedNode(MERGE_PREFIX + content_hash(keep, drop, when.isoformat(), analyst))

    removed: list[ox.Quad] = []
    for q in [*kb.store.quads_for_pattern(drop_node, None, None, None),
              *kb.store.quads_for_pattern(None, None, drop_node, None)]:
        if q.graph_name != ONTOLOGY_GRAPH and q not in removed:
            removed.append(q)
    keep_has_type = bool(keep_types)
    keep_has_tlp = kb.contains(keep_node, CFKB.tlp)
    candidates: list[ox.Quad] = []
    claims: set[Subject] = set()
    for q in removed:
        p = q.predicate
        if q.subject == drop_node and p in (RDFS.label, SKOS.altLabel):
            candidates.append(ox.Quad(keep_node, SKOS.altLabel, q.object, q.graph_name))
            continue
        if q.subject == drop_node and p == RDF.type and keep_has_type and any(
                value_of(q.object) in _ancestors(kb).get(t, {t}) for t in keep_types):
            continue
        if q.subject == drop_node and (p in (DCT.created, DCT.creator) or (p == CFKB.tlp and keep_has_tlp)):
            continue  # facts about the dropped record itself, or a marking the kept one already has
        new = ox.Quad(keep_node if q.subject == drop_node else q.subject, p,
                      keep_node if q.object == drop_node else q.object, q.graph_name)
        if q.object == drop_node and kb.contains(q.subject, RDF.type, CFKB.Claim):
            claims.add(q.subject)
        candidates.append(new)
    candidates += [ox.Quad(c, CFKB.rewrittenBy, merge) for c in sorted(claims, key=str)]
    candidates.append(ox.Quad(drop_node, CFKB.mergedInto, keep_node))
    added: list[ox.Quad] = []
    for q in candidates:
        if q not in added and q not in removed and not _present(kb, q):
            added.append(q)
    agent, agent_quads = _agent(kb, analyst)
    record = [
        ox.Quad(merge, RDF.type, CFKB.EntityMerge),
        ox.Quad(merge, RDF.type, PROV.Activity),
        ox.Quad(merge, CFKB.kept, keep_node),
        ox.Quad(merge, CFKB.merged, drop_node),
        ox.Quad(merge, PROV.wasAssociatedWith, agent),
        ox.Quad(merge, PROV.startedAtTime, ox.Literal(when.isoformat(), datatype=XSD.dateTime)),
        ox.Quad(merge, CFKB.reason, ox.Literal(reason)),
        ox.Quad(merge, CFKB.status, ox.Literal("active")),
        ox.Quad(merge, CFKB.removedQuads, ox.Literal(_nquads(removed))),
        ox.Quad(merge, CFKB.addedQuads, ox.Literal(_nquads(added))),
        *agent_quads,
    ]
    kb.write(add=added + record, remove=removed)
    return MergeRecord(id=short_id(merge.value), iri=merge.value, kept=keep, dropped=drop, analyst=analyst,
                       when=when.isoformat(), reason=reason, status="active", claims_rewritten=len(claims),
                       removed=removed, added=added)


def _present(kb: KnowledgeBase, q: ox.Quad) -> bool:
    for _ in kb.store.quads_for_pattern(q.subject, q.predicate, q.object, q.graph_name):
        return True
    return False


def get_merge(kb: KnowledgeBase, merge_id: str) -> MergeRecord:
    """A recorded merge by its short ID or IRI.

    Raises:
        NotFoundError: no such merge.
    """
    iri = merge_id if merge_id.startswith(MERGE_PREFIX) else MERGE_PREFIX + merge_id.strip()
    node = ox.NamedNode(iri)
    if not kb.contains(node, RDF.type, CFKB.EntityMerge):
        raise NotFoundError(f"no merge {merge_id!r}; 'cfkb entity show NAME' lists an entity's merges")

    def value(p: ox.NamedNode) -> Object:
        for q in kb.store.quads_for_pattern(node, p, None, None):
            return q.object
        raise NotFoundError(f"merge {merge_id!r} has no {curie(p.value)}; the record is damaged")

    def text(p: ox.NamedNode) -> str:
        return value_of(value(p))

    removed = list(ox.parse(text(CFKB.removedQuads).encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    added = list(ox.parse(text(CFKB.addedQuads).encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    agent = value(PROV.wasAssociatedWith)
    analyst = "" if isinstance(agent, ox.Literal) else next(
        (value_of(q.object) for q in kb.store.quads_for_pattern(agent, RDFS.label, None, None)), "")
    return MergeRecord(
        id=short_id(iri), iri=iri, kept=text(CFKB.kept), dropped=text(CFKB.merged),
        analyst=analyst, when=text(PROV.startedAtTime), reason=text(CFKB.reason),
        status=text(CFKB.status), claims_rewritten=sum(1 for q in added if q.predicate == CFKB.rewrittenBy),
        removed=removed, added=added,
    )


def unmerge(kb: KnowledgeBase, merge_id: str, *, analyst: str, reason: str = "",
            when: dt.datetime | None = None) -> MergeRecord:
    """Undo a merge: put back what it removed, take away what it added.

    The undo is itself recorded (who, when, why) and the merge marked undone.

    Raises:
        NotFoundError: no such merge.
        InputError: it was undone already, or later changes removed quads
            it added (undo those first).
    """
    record = get_merge(kb, merge_id)
    if record.status != "active":
        raise InputError(f"merge {record.id} was already undone")
    gone = [q for q in record.added if not _present(kb, q)]
    if gone:
        raise InputError(f"merge {record.id} cannot be undone: {len(gone)} quad(s) it added have changed since"
                         " (a later merge or edit); undo that first")
    node = ox.NamedNode(record.iri)
    when = when or _now()
    agent, agent_quads = _agent(kb, analyst)
    undo = ox.NamedNode(record.iri + "/undo")
    log = [
        ox.Quad(node, CFKB.status, ox.Literal("undone")),
        ox.Quad(undo, RDF.type, CFKB.EntityUnmerge),
        ox.Quad(undo, RDF.type, PROV.Activity),
        ox.Quad(undo, CFKB.undoes, node),
        ox.Quad(undo, PROV.wasAssociatedWith, agent),
        ox.Quad(undo, PROV.startedAtTime, ox.Literal(when.isoformat(), datatype=XSD.dateTime)),
        *agent_quads,
    ]
    if reason:
        log.append(ox.Quad(undo, CFKB.reason, ox.Literal(reason)))
    kb.write(add=record.removed + log, remove=record.added + [ox.Quad(node, CFKB.status, ox.Literal("active"))])
    record.status = "undone"
    return record
