"""Import: claim tables and RDF files in, all or nothing.

Every file of one call is read, resolved and SHACL-checked before anything is
written; then one transaction adds it all. On any error the store is as it
was. Each call is recorded as a PROV activity (an import batch) that every
new claim points to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb import __version__
from cfkb.errors import ShapeError
from cfkb.model import (
    BATCH_PREFIX,
    CFID_NS,
    CFKB,
    DCT,
    PROV,
    RDF,
    RDFS,
    SKOS,
    XSD,
    Claim,
    content_hash,
    curie,
)
from cfkb.names import slug
from cfkb.rdfio import RDF_FORMATS, claims_from_quads, guess_format, parse_rdf
from cfkb.store import KnowledgeBase, Location
from cfkb.tables import Resolver, read_rows

#: Which class a created entity gets, by the column that named it.
_COLUMN_TYPES = {"source": "MediaOutlet", "cited_in": "Document", "speaker": "Person", "area": "Province",
                 "election": "Election"}

Progress = Callable[[int], None]


@dataclass
class InputFile:
    """One file to import: its name (for messages), bytes and format (None: guess)."""

    name: str
    data: bytes
    format: str | None = None


@dataclass
class ImportReport:
    """What an import did."""

    batch: str
    files: list[str]
    claims_added: list[str] = field(default_factory=list)
    claims_present: list[str] = field(default_factory=list)
    entities_created: list[tuple[str, str, str]] = field(default_factory=list)
    other_triples: int = 0

    @property
    def claims_seen(self) -> int:
        return len(self.claims_added) + len(self.claims_present)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _lit(value: str, datatype: ox.NamedNode | None = None) -> ox.Literal:
    return ox.Literal(value, datatype=datatype) if datatype else ox.Literal(value)


def analyst_iri(name: str) -> ox.NamedNode:
    return ox.NamedNode(CFID_NS + "analyst/" + slug(name))


def partner_iri(name: str) -> ox.NamedNode:
    return ox.NamedNode(CFID_NS + "partner/" + slug(name))


def prepare(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool = False,
            progress: Progress | None = None) -> tuple[list[Claim], list[ox.Quad], Resolver]:
    """Read and resolve every file; nothing is written.

    Returns the claims, the other quads (entities, documents, assessments)
    and the resolver (which knows the entities it created).
    """
    resolver = Resolver(kb.entity_index(), kb.predicates(), create=create_entities)
    claims: list[Claim] = []
    rest: list[ox.Quad] = []
    for f in files:
        fmt = f.format or guess_format(f.name)
        if fmt in RDF_FORMATS:
            file_claims, file_rest, _ = claims_from_quads(f.name, parse_rdf(f.name, f.data, fmt))
            claims.extend(file_claims)
            rest.extend(file_rest)
            # entities the file defines can be named by the tables that follow
            for q in file_rest:
                if q.predicate in (RDFS.label, SKOS.altLabel) and isinstance(q.object, ox.Literal):
                    resolver.index.add(q.subject.value, q.object.value,
                                       preferred=q.predicate == RDFS.label and q.object.language in (None, "en"))
                elif q.predicate == RDF.type and isinstance(q.subject, ox.NamedNode):
                    resolver.index.types[q.subject.value].add(q.object.value)
        else:
            for row in read_rows(f.name, f.data, fmt):
                claims.append(resolver.claim(row))
                if progress:
                    progress(1)
    return claims, rest, resolver


def created_entity_quads(kb: KnowledgeBase, resolver: Resolver) -> list[ox.Quad]:
    """Types and labels of the entities an import creates.

    A created entity's class comes from the predicate's domain (subject) or
    range (object), or from the column (an outlet for ``source``).
    """
    quads = []
    for iri, (label, column, predicate) in resolver.created.items():
        cls = _COLUMN_TYPES.get(column)
        if cls is None:
            prop = "domain" if column == "subject" else "range"
            rows = kb.select(f"SELECT ?p ?c WHERE {{ ?p rdfs:{prop} ?c }}", {"p": ox.NamedNode(predicate)})
            cls_iri = rows[0]["c"] if rows else CFKB.Organization
        else:
            cls_iri = CFKB.term(cls)
        node = ox.NamedNode(iri)
        quads.append(ox.Quad(node, RDF.type, cls_iri))
        quads.append(ox.Quad(node, RDFS.label, ox.Literal(label, language="en")))
    return quads


def _batch_quads(batch: ox.NamedNode, files: Sequence[InputFile], analyst: str, when: dt.datetime,
                 partner: str | None = None) -> list[ox.Quad]:
    agent = analyst_iri(analyst)
    quads = [
        ox.Quad(batch, RDF.type, CFKB.ImportBatch),
        ox.Quad(batch, PROV.startedAtTime, _lit(when.isoformat(), XSD.dateTime)),
        ox.Quad(batch, PROV.wasAssociatedWith, agent),
        ox.Quad(batch, CFKB.softwareVersion, ox.Literal(f"cfkb {__version__}")),
        ox.Quad(agent, RDF.type, PROV.Person),
        ox.Quad(agent, RDFS.label, ox.Literal(analyst)),
    ]
    if partner:
        org = partner_iri(partner)
        quads += [ox.Quad(batch, CFKB.fromPartner, org), ox.Quad(org, RDF.type, PROV.Organization),
                  ox.Quad(org, RDFS.label, ox.Literal(partner))]
    for i, f in enumerate(files, 1):
        node = ox.NamedNode(f"{batch.value}/file/{i}")
        quads += [
            ox.Quad(batch, PROV.used, node),
            ox.Quad(node, DCT.title, ox.Literal(f.name)),
            ox.Quad(node, CFKB.sha256, ox.Literal(hashlib.sha256(f.data).hexdigest())),
        ]
    return quads


def import_files(kb: KnowledgeBase, files: Sequence[InputFile], *, analyst: str,
                 create_entities: bool = False, validate: bool = True, when: dt.datetime | None = None,
                 progress: Progress | None = None, partner: str | None = None) -> ImportReport:
    """Import files into the base as one transaction.

    ``partner`` names the institute the files came from; the batch records it.

    Raises:
        InputError: a file does not parse, names an unknown entity, or
            violates the shapes. The store is unchanged.
    """
    when = when or _now()
    claims, rest, resolver = prepare(kb, files, create_entities=create_entities, progress=progress)
    created = created_entity_quads(kb, resolver)
    batch = ox.NamedNode(BATCH_PREFIX + content_hash(when.isoformat(), analyst,
                                                     *(hashlib.sha256(f.data).hexdigest() for f in files)))
    report = ImportReport(batch=batch.value, files=[f.name for f in files])
    report.entities_created = [(iri, lbl, col) for iri, (lbl, col, _) in resolver.created.items()]

    new_quads: list[ox.Quad] = []
    seen: set[str] = set()
    for claim in claims:
        iri = claim.iri
        if iri in seen:
            report.claims_present.append(iri)
            continue
        seen.add(iri)
        node = ox.NamedNode(iri)
        if kb.contains(node, RDF.type, CFKB.Claim):
            report.claims_present.append(iri)
            continue
        report.claims_added.append(iri)
        new_quads.extend(claim.quads())
        new_quads += [
            ox.Quad(node, CFKB.recordedAt, _lit(when.isoformat(), XSD.dateTime)),
            ox.Quad(node, CFKB.recordedBy, ox.Literal(analyst)),
            ox.Quad(node, PROV.wasGeneratedBy, batch),
        ]
    additions = new_quads + created + rest
    report.other_triples = len(rest) + len(created)
    if validate and (new_quads or rest):
        check_shapes(kb, additions)
    if additions:
        kb.write(additions + _batch_quads(batch, files, analyst, when, partner))
    return report


def check_shapes(kb: KnowledgeBase, additions: list[ox.Quad]) -> None:
    """SHACL-check new data together with the types of what it mentions.

    Raises:
        ShapeError: the first violation, with the claim and the rule.
    """
    from cfkb.resources import shapes_dir
    from cfkb.validate import validate_quads

    mentioned = {q.object for q in additions if isinstance(q.object, ox.NamedNode)}
    mentioned |= {q.subject for q in additions if isinstance(q.subject, ox.NamedNode)}
    context = [ox.Quad(s, RDF.type, ox.NamedNode(t))
               for s in mentioned for t in kb.entity_index().types.get(s.value, ())]
    found = validate_quads(additions + context, [shapes_dir() / "claims.ttl"])
    if found:
        first = found[0]
        more = f" (and {len(found) - 1} more; run 'cfkb validate FILE' for all)" if len(found) > 1 else ""
        raise ShapeError(f"claim {curie(first.focus)}: {first.message}{more}",
                         "https://www.w3.org/TR/shacl/#validation-report")


def seed_files() -> list[InputFile]:
    """The bundled corpus: the gazetteer, then the claim tables."""
    from cfkb.resources import data_dir

    paths = sorted(data_dir().glob("*.ttl")) + sorted(data_dir().glob("*.yaml"))
    return [InputFile(p.name, p.read_bytes()) for p in paths]


def init_store(path: Location, *, empty: bool = False, analyst: str) -> tuple[KnowledgeBase, ImportReport | None]:
    """Create a store at ``path`` (a directory or a server) and load the bundled corpus unless ``empty``.

    If loading fails the half-made store is removed.
    """
    kb = KnowledgeBase.create(path)
    if empty:
        return kb, None
    try:
        return kb, import_files(kb, seed_files(), analyst=analyst)
    except BaseException:
        kb.destroy()
        raise


def prepare_quads(kb: KnowledgeBase, f: InputFile) -> list[ox.Quad]:
    """The quads a file would add (claims, entities, the rest), without writing."""
    claims, rest, resolver = prepare(kb, [f], create_entities=True)
    quads = [q for c in claims for q in c.quads()]
    mentioned = {q.object for q in quads + rest if isinstance(q.object, ox.NamedNode)}
    context = [ox.Quad(ox.NamedNode(s.value), RDF.type, ox.NamedNode(t))
               for s in mentioned for t in kb.entity_index().types.get(s.value, ())]
    return quads + rest + created_entity_quads(kb, resolver) + context
