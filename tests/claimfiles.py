"""Claims written out as an analyst's table or a partner's RDF file, and read back from a base."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pyoxigraph as ox

from cfkb.io.rdfclaims import claims_from_quads
from cfkb.model.vocabulary import MODALITIES, Claim
from cfkb.store.core import KnowledgeBase

COLUMNS = ["subject", "predicate", "object", "source", "negated", "area", "election", "speaker", "date", "quote",
           "quote_lang", "cited_in", "url", "reliability", "credibility", "tlp", "modality", "comment",
           "valid_from", "valid_until", "paraphrase"]
_MODALITY_NAMES = {v: k for k, v in MODALITIES.items() if v}
# a partner's own graph name (https://w3id.org/cfkb/graph/ is the base's own: imports may not write there)
GRAPH = ox.NamedNode("https://partner.example/graph/claims")


def claims_in(kb: KnowledgeBase) -> set[Claim]:
    """Every claim in the base, as the importer reads claims out of RDF."""
    claims, _, _ = claims_from_quads("store", kb.quads(ox.DefaultGraph()))
    return set(claims)


def _row(c: Claim) -> dict[str, str]:
    values = {
        "subject": c.subject, "predicate": c.predicate, "object": c.object, "source": c.source,
        "negated": "true" if c.negated else "", "area": c.area, "election": c.election, "speaker": c.speaker,
        "date": c.date.isoformat() if c.date else "", "quote": c.quote, "quote_lang": c.quote_lang,
        "cited_in": c.cited_in, "url": c.url, "reliability": c.reliability,
        "credibility": str(c.credibility) if c.credibility is not None else "", "tlp": c.tlp,
        "modality": _MODALITY_NAMES.get(c.modality or "", ""), "comment": c.comment,
        "valid_from": c.valid_from.isoformat() if c.valid_from else "",
        "valid_until": c.valid_until.isoformat() if c.valid_until else "",
        "paraphrase": c.paraphrase,
    }
    return {k: v or "" for k, v in values.items()}


def write_claims(claims: Iterable[Claim], fmt: str) -> bytes:
    """The claims in one of the import formats (entity cells as full IRIs)."""
    claims = sorted(claims, key=lambda c: c.iri)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        w.writeheader()
        for c in claims:
            w.writerow(_row(c))
        return out.getvalue().encode("utf-8")
    if fmt == "yaml":
        import yaml

        rows = [{k: v for k, v in _row(c).items() if v} for c in claims]
        return yaml.safe_dump({"claims": rows}, allow_unicode=True).encode("utf-8")
    if fmt in ("turtle", "nt"):
        triples = [q.triple for c in claims for q in c.quads()]
        return ox.serialize(triples, format=ox.RdfFormat.TURTLE if fmt == "turtle" else ox.RdfFormat.N_TRIPLES,
                            prefixes={"cfkb": "https://w3id.org/cfkb/ns#", "cfid": "https://w3id.org/cfkb/id/"}
                            if fmt == "turtle" else None)
    if fmt in ("trig", "nq"):
        quads = [q for c in claims for q in c.quads(GRAPH)]
        return ox.serialize(quads, format=ox.RdfFormat.TRIG if fmt == "trig" else ox.RdfFormat.N_QUADS)
    if fmt == "jsonld":
        import rdflib

        g = rdflib.Graph()
        data = ox.serialize([q.triple for c in claims for q in c.quads()], format=ox.RdfFormat.N_TRIPLES)
        g.parse(data=data.decode("utf-8"), format="nt")
        return g.serialize(format="json-ld", context={"cfkb": "https://w3id.org/cfkb/ns#"}).encode("utf-8")
    raise ValueError(fmt)
