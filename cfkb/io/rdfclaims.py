"""Claims out of RDF: a file's quads split into claims (reified, with their provenance) and the rest.

:func:`claims_from_quads` reads each ``cfkb:Claim`` node into a
:class:`~cfkb.model.vocabulary.Claim` with its canonical content-hash IRI
(a partner's own claim IRIs are renamed, and references to them follow),
refusing a claim that lacks a field it needs or gives one twice; the sending
base's record-keeping (who recorded it, when) is dropped for the receiving
base's own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from cfkb.errors import ParseError
from cfkb.model.vocabulary import CFKB, CFKB_NS, PROV, RDF, RDFS, SCHEMA, Claim, tlp_name

_CLAIM_FIELDS = {
    RDF.subject.value, RDF.predicate.value, RDF.object.value, CFKB.negated.value, CFKB.statedIn.value,
    PROV.wasAttributedTo.value, CFKB.inArea.value, CFKB.election.value, CFKB.statedOn.value,
    CFKB.quote.value, CFKB.paraphrase.value, CFKB.citedIn.value, SCHEMA.url.value, CFKB.reliability.value,
    CFKB.credibility.value,
    CFKB.tlp.value, CFKB.modality.value, RDFS.comment.value, CFKB.validFrom.value, CFKB.validUntil.value,
    RDF.type.value,
}
#: Record-keeping of the base that sent the file: replaced by ours on import.
_LOCAL_RECORD = {CFKB.recordedAt.value, CFKB.recordedBy.value, PROV.wasGeneratedBy.value}


def claims_from_quads(path: str, quads: Iterable[ox.Quad]) -> tuple[list[Claim], list[ox.Quad], dict[str, str]]:
    """Split quads into claims and the rest.

    Returns the claims (with canonical content-hash IRIs), the other quads
    (entities, documents, assessments), and a map from each claim IRI in the
    file to its canonical IRI (they differ when a partner minted its own).
    """
    by_subject: dict[object, list[ox.Quad]] = defaultdict(list)
    claim_nodes = set()
    rdf_type, claim_class = RDF.type, CFKB.Claim
    for q in quads:
        subject = q.subject
        by_subject[subject].append(q)
        if q.predicate == rdf_type and q.object == claim_class:
            claim_nodes.add(subject)
    claims, rest, renamed = [], [], {}
    for node, node_quads in by_subject.items():
        if node not in claim_nodes:
            rest.extend(node_quads)
            continue
        claim, extra = _claim(path, node, node_quads)
        claims.append(claim)
        iri = claim.iri
        renamed[str(node)] = iri
        if extra:
            new = ox.NamedNode(iri)
            rest.extend(ox.Quad(new, q.predicate, q.object, q.graph_name) for q in extra)
    # references to renamed claims (assessments, conflicts) follow the rename
    if any(k.strip("<>") != v for k, v in renamed.items()):
        lookup = {k: ox.NamedNode(v) for k, v in renamed.items()}
        rest = [ox.Quad(lookup.get(str(q.subject), q.subject), q.predicate,
                        lookup.get(str(q.object), q.object), q.graph_name) for q in rest]
    return claims, rest, {k.strip("<>"): v for k, v in renamed.items()}


_TYPE, _CLAIM = RDF.type.value, CFKB.Claim


def _claim(path: str, node: object, quads: list[ox.Quad]) -> tuple[Claim, list[ox.Quad]]:
    # predicates are compared as text: each ``.value`` of a pyoxigraph term is a new string
    values: dict[str, list[object]] = {}
    extra = []
    for q in quads:
        p = q.predicate.value
        if p in _CLAIM_FIELDS:
            if p != _TYPE or q.object == _CLAIM:
                found = values.get(p)
                if found is None:
                    values[p] = [q.object]
                else:
                    found.append(q.object)
                continue
        elif p in _LOCAL_RECORD:
            continue
        extra.append(q)

    def one(p: ox.NamedNode, required: bool = False) -> object | None:
        found = values.get(p.value)
        if found is None:
            if required:
                raise ParseError(path, None, None, f"claim {node} has no {p.value}; a claim needs subject,"
                                 " predicate, object and cfkb:statedIn")
            return None
        if len(found) > 1:
            raise ParseError(path, None, None, f"claim {node} has {len(found)} values for {p.value}; it needs one")
        return found[0]

    def iri(p: ox.NamedNode, required: bool = False) -> str | None:
        v = one(p, required)
        if v is None:
            return None
        if not isinstance(v, ox.NamedNode):
            raise ParseError(path, None, None, f"claim {node}: {p.value} must be an IRI, not {v}")
        return v.value

    def lit(p: ox.NamedNode) -> ox.Literal | None:
        v = one(p)
        if v is not None and not isinstance(v, ox.Literal):
            raise ParseError(path, None, None, f"claim {node}: {p.value} must be a literal, not {v}")
        return v

    def date(p: ox.NamedNode) -> dt.date | None:
        v = lit(p)
        if v is None:
            return None
        try:
            return dt.date.fromisoformat(v.value)
        except ValueError:
            raise ParseError(path, None, None, f"claim {node}: {p.value} {v.value!r} is not an xsd:date") from None

    source = iri(CFKB.statedIn, True)
    attributed = iri(PROV.wasAttributedTo)
    neg = lit(CFKB.negated)
    quote = lit(CFKB.quote)
    paraphrase = lit(CFKB.paraphrase)
    cred = lit(CFKB.credibility)
    tlp = iri(CFKB.tlp)
    modality = iri(CFKB.modality)
    rel = lit(CFKB.reliability)
    url = lit(SCHEMA.url)
    comment = lit(RDFS.comment)
    credibility = None
    if cred is not None:
        try:
            credibility = int(cred.value)
        except ValueError:
            raise ParseError(path, None, None, f"claim {node}: credibility {cred.value!r} is not 1-6") from None
    claim = Claim(
        subject=iri(RDF.subject, True) or "",
        predicate=iri(RDF.predicate, True) or "",
        object=iri(RDF.object, True) or "",
        source=source or "",
        negated=neg is not None and neg.value in ("true", "1"),
        area=iri(CFKB.inArea),
        election=iri(CFKB.election),
        speaker=attributed if attributed and attributed != source else None,
        date=date(CFKB.statedOn),
        quote=quote.value if quote is not None else None,
        quote_lang=(quote.language if quote is not None else paraphrase.language if paraphrase is not None
                    else None),
        paraphrase=paraphrase.value if paraphrase is not None else None,
        cited_in=iri(CFKB.citedIn),
        url=url.value if url is not None else None,
        reliability=rel.value if rel is not None else None,
        credibility=credibility,
        tlp=tlp_name(tlp) if tlp else None,
        modality=modality[len(CFKB_NS):] if modality and modality.startswith(CFKB_NS) else modality,
        comment=comment.value if comment is not None else None,
        valid_from=date(CFKB.validFrom),
        valid_until=date(CFKB.validUntil),
    )
    return claim, extra
