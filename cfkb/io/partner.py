"""Importing what a partner institute sends back.

A partner's file goes in as one import batch that records the partner as its
provenance layer (``cfkb:fromPartner``). Claims the base already holds are
not duplicated (claim IRIs are content hashes), and the partner's grading of
every claim it sends is kept beside the base's own as a
``cfkb:PartnerGrading``. The report lists the conflicts the import created,
marking those between the base's claims and the partner's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.engine.index import open_index
from cfkb.io.batch import ImportReport, InputFile
from cfkb.io.importer import import_files
from cfkb.io.importread import prepare
from cfkb.model.terms import partner_iri
from cfkb.model.vocabulary import CFID_NS, CFKB, PROV, RDF, XSD, content_hash
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.conflicts import Conflict, conflict_id, conflict_page

GRADING_PREFIX = CFID_NS + "grading/"


@dataclass
class PartnerImport:
    """What a partner import did: the import itself and the conflicts it created."""

    partner: str
    report: ImportReport
    new_conflicts: list[Conflict] = field(default_factory=list)
    #: IDs of the new conflicts that set one of our claims against one of the partner's.
    ours_vs_theirs: list[str] = field(default_factory=list)


def _grading_quads(kb: KnowledgeBase, files: Sequence[InputFile], partner: str) -> list[ox.Quad]:
    # only the claims' IRIs are wanted here: the import itself checks the names
    claims, _, _ = prepare(kb, files, create_entities=True, new_entities=True)
    org = partner_iri(partner)
    quads: list[ox.Quad] = []
    for claim in claims:
        if claim.reliability is None and claim.credibility is None:
            continue
        node = ox.NamedNode(GRADING_PREFIX + content_hash(claim.iri, org.value))
        quads += [ox.Quad(node, RDF.type, CFKB.PartnerGrading), ox.Quad(node, CFKB.grades, ox.NamedNode(claim.iri)),
                  ox.Quad(node, PROV.wasAttributedTo, org)]
        if claim.reliability is not None:
            quads.append(ox.Quad(node, CFKB.reliability, ox.Literal(claim.reliability)))
        if claim.credibility is not None:
            quads.append(ox.Quad(node, CFKB.credibility, ox.Literal(str(claim.credibility), datatype=XSD.integer)))
    return quads


def import_partner(kb: KnowledgeBase, files: Sequence[InputFile], *, partner: str, analyst: str,
                   create_entities: bool = False, when: dt.datetime | None = None,
                   new_entities: bool = False) -> PartnerImport:
    """Import a partner's files in one transaction and report the new conflicts.

    Raises:
        InputError: as :func:`cfkb.io.importer.import_files`; the store is unchanged.
    """
    before = _keys(kb)
    ours = {str(q.subject)[1:-1] for q in kb.store.quads_for_pattern(None, RDF.type, CFKB.Claim, None)}
    grading = _grading_quads(kb, files, partner)
    extra = []
    if grading:
        body = ox.serialize(grading, format=ox.RdfFormat.N_QUADS)
        extra = [InputFile(f"<grading by {partner}>", body if isinstance(body, bytes) else str(body).encode(), "nq",
                           own=True)]
    report = import_files(kb, [*files, *extra], analyst=analyst, create_entities=create_entities, when=when,
                          partner=partner, new_entities=new_entities)
    theirs = set(report.claims_added) | set(report.claims_present)
    new_keys = _keys(kb) - before
    ids = {conflict_id(rule, claims): claims for rule, claims in new_keys}
    found = conflict_page(kb, ids=ids)[1] if ids else []
    result = PartnerImport(partner=partner, report=report, new_conflicts=found)
    result.ours_vs_theirs = [c.id for c in found
                             if ids[c.id] & (ours - set(report.claims_added)) and ids[c.id] & theirs]
    return result


def _keys(kb: KnowledgeBase) -> set[tuple[str, frozenset[str]]]:
    """(rule, claims) of every conflict in the base, from the conflict index."""

    with open_index(kb) as index:
        return index.conflict_keys()


__all__ = ["PartnerImport", "import_partner"]
