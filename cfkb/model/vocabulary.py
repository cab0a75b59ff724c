"""The claim model: namespaces, the :class:`Claim` record and its RDF form.

A claim is an IRI node ``a cfkb:Claim`` with ``rdf:subject``,
``rdf:predicate`` and ``rdf:object``; its IRI is a content hash of what makes
it the same claim (triple, negation, context, speaker, outlet, date), so the
same claim imported twice, or a partner's copy of it, is one node.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import pyoxigraph as ox

CFKB_NS = "https://w3id.org/cfkb/ns#"
CFID_NS = "https://w3id.org/cfkb/id/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
PROV_NS = "http://www.w3.org/ns/prov#"
SKOS_NS = "http://www.w3.org/2004/02/skos/core#"
DCT_NS = "http://purl.org/dc/terms/"
SCHEMA_NS = "https://schema.org/"
SH_NS = "http://www.w3.org/ns/shacl#"

#: Prefixes used in queries, exports and CURIEs, in output order.
PREFIXES: dict[str, str] = {
    "cfkb": CFKB_NS,
    "cfid": CFID_NS,
    "dct": DCT_NS,
    "prov": PROV_NS,
    "rdf": RDF_NS,
    "rdfs": RDFS_NS,
    "schema": SCHEMA_NS,
    "skos": SKOS_NS,
    "xsd": XSD_NS,
}


class _Namespace:
    """An IRI prefix whose attributes are :class:`pyoxigraph.NamedNode` terms.

    >>> CFKB.memberOf.value
    'https://w3id.org/cfkb/ns#memberOf'
    >>> DCT.title.value
    'http://purl.org/dc/terms/title'
    """

    def __init__(self, iri: str) -> None:
        self._iri = iri

    def __getattr__(self, name: str) -> ox.NamedNode:
        if name.startswith("_"):
            raise AttributeError(name)
        node = ox.NamedNode(self._iri + name)
        # cache it as an attribute: later lookups skip __getattr__ (hot in import loops)
        self.__dict__[name] = node
        return node

    def __str__(self) -> str:
        return self._iri

    def term(self, name: str) -> ox.NamedNode:
        return ox.NamedNode(self._iri + name)


CFKB = _Namespace(CFKB_NS)
CFID = _Namespace(CFID_NS)
RDF = _Namespace(RDF_NS)
RDFS = _Namespace(RDFS_NS)
XSD = _Namespace(XSD_NS)
PROV = _Namespace(PROV_NS)
SKOS = _Namespace(SKOS_NS)
DCT = _Namespace(DCT_NS)
SCHEMA = _Namespace(SCHEMA_NS)

#: Named graph holding the ontology (kept apart so exports can leave it out).
ONTOLOGY_GRAPH = ox.NamedNode("https://w3id.org/cfkb/graph/ontology")
#: Named graph of the base's own bookkeeping: the generation of its data,
#: which changes with every write that can change a conflict.
STATE_GRAPH = ox.NamedNode("https://w3id.org/cfkb/graph/state")
#: Graphs that hold no data of the base: exports and merges leave them out.
INTERNAL_GRAPHS = (ONTOLOGY_GRAPH, STATE_GRAPH)

CLAIM_PREFIX = CFID_NS + "claim/"
CONFLICT_PREFIX = CFID_NS + "conflict/"
BATCH_PREFIX = CFID_NS + "batch/"
#: The node that holds the base's own settings (``cfkb:defaultTlp``) and state.
BASE_IRI = CFID_NS + "base"
#: Where the base names its own graphs (ontology, state, and any added later).
GRAPH_NS = "https://w3id.org/cfkb/graph/"
#: Graphs a remote base stages a big write in before it commits.
STAGING_GRAPH_PREFIX = "urn:cfkb:staging:"
#: The base's own records, by the IRI prefix it mints them under: imported
#: files may not write about them (they are not data, they are the base's
#: bookkeeping and the analysts' decisions).
OWN_RECORDS: dict[str, str] = {
    CFID_NS + "batch/": "an import batch",
    CFID_NS + "analyst/": "an analyst",
    CFID_NS + "partner/": "a partner",
    CFID_NS + "export/": "an export record",
    CFID_NS + "conflict/": "a conflict record",
    CFID_NS + "assessment/": "an analyst's decision",
    CFID_NS + "grading/": "a partner's grading",
    CFID_NS + "merge/": "an entity merge record",
}

TLP_LEVELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
RELIABILITY = ("A", "B", "C", "D", "E", "F")
#: The predicates of a claim's or a source's grading and marking: they change in writes
#: that keep the base's generation, and move its marks revision instead.
MARK_PREDICATES = frozenset(CFKB_NS + name for name in ("reliability", "credibility", "tlp"))
CREDIBILITY = (1, 2, 3, 4, 5, 6)
RANKS = ("preferred", "normal", "deprecated")
MODALITIES = {"stated": None, "no-indication": "NoIndication"}

Quad = ox.Quad
Term = ox.NamedNode | ox.BlankNode | ox.Literal


def tlp_term(level: str) -> ox.NamedNode:
    """The IRI of a TLP 2.0 level.

    >>> tlp_term("AMBER+STRICT").value
    'https://w3id.org/cfkb/ns#TLP_AMBER_STRICT'
    """
    return CFKB.term("TLP_" + level.replace("+", "_"))


def tlp_name(iri: str) -> str:
    """The TLP level name of a TLP IRI (inverse of :func:`tlp_term`)."""
    return iri.rsplit("#TLP_", 1)[-1].replace("_", "+")


def rank_term(rank: str) -> ox.NamedNode:
    return CFKB.term(rank.capitalize() + "Rank")


def rank_name(iri: str) -> str:
    """The rank a rank IRI names (:func:`rank_term`'s inverse).

    >>> rank_name("https://w3id.org/cfkb/ns#DeprecatedRank")
    'deprecated'
    """
    return iri.rsplit("#", 1)[-1].removesuffix("Rank").lower()


def curie(iri: str) -> str:
    """Shorten an IRI with the cfkb prefixes, or return it in angle brackets.

    >>> curie("https://w3id.org/cfkb/id/harakat-hoquq")
    'cfid:harakat-hoquq'
    """
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and "/" not in iri[len(ns):] and "#" not in iri[len(ns):]:
            return f"{prefix}:{iri[len(ns):]}"
    return f"<{iri}>"


def short_id(iri: str) -> str:
    """The short ID an analyst types for a claim, conflict or batch IRI.

    >>> short_id("https://w3id.org/cfkb/id/claim/0123456789abcdef01234567")
    '0123456789abcdef01234567'
    """
    return iri.rsplit("/", 1)[-1]


def content_hash(*parts: str) -> str:
    """A 96-bit hex digest of the parts, separated so that no two lists collide."""
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:24]


BACKGROUND_PREFIX = CFID_NS + "background/"


def background_quads(subject: str, predicate: str, obj: str) -> list[ox.Quad]:
    """A gazetteer background relation, reified as a ``cfkb:BackgroundStatement``.

    Background relations classify entities (a party is the political wing of
    an armed group). They are not claims: no source, no date. They are
    reified like claims, so the base never asserts a bare triple and rules
    read a background relation and a claim with the same patterns.

    >>> q = background_quads(CFID_NS + "p", CFKB_NS + "politicalWingOf", CFID_NS + "g")
    >>> q[0].subject.value.startswith(BACKGROUND_PREFIX)
    True
    """
    node = ox.NamedNode(BACKGROUND_PREFIX + content_hash(subject, predicate, obj))
    return [
        ox.Quad(node, RDF.type, CFKB.BackgroundStatement),
        ox.Quad(node, RDF.subject, ox.NamedNode(subject)),
        ox.Quad(node, RDF.predicate, ox.NamedNode(predicate)),
        ox.Quad(node, RDF.object, ox.NamedNode(obj)),
        ox.Quad(node, CFKB.negated, ox.Literal("false", datatype=XSD.boolean)),
    ]


@dataclass(frozen=True)
class Claim:
    """One claim: a triple a source stated, with its context and provenance.

    Entity fields hold IRIs (strings). Only the identity fields go into the
    content-hash IRI; quote, grading and marking do not.
    """

    subject: str
    predicate: str
    object: str
    source: str
    negated: bool = False
    area: str | None = None
    election: str | None = None
    speaker: str | None = None
    date: dt.date | None = None
    quote: str | None = None
    quote_lang: str | None = None
    cited_in: str | None = None
    url: str | None = None
    reliability: str | None = None
    credibility: int | None = None
    tlp: str | None = None
    modality: str | None = None
    comment: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    #: the source's words as a reporting document renders them in its own
    #: words (not verbatim); in the language ``quote_lang`` names
    paraphrase: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def identity(self) -> tuple[str, ...]:
        """The fields that make two claims the same claim."""
        return (
            self.subject,
            self.predicate,
            self.object,
            "1" if self.negated else "0",
            self.area or "",
            self.election or "",
            self.modality or "",
            self.valid_from.isoformat() if self.valid_from else "",
            self.valid_until.isoformat() if self.valid_until else "",
            self.speaker or "",
            self.source,
            self.date.isoformat() if self.date else "",
        )

    @cached_property
    def iri(self) -> str:
        """The content-hash IRI of this claim (computed once per record)."""
        return CLAIM_PREFIX + content_hash(*self.identity())

    def quads(self, graph: ox.DefaultGraph | ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        """The claim's RDF, as quads in ``graph`` (default graph if None)."""
        return iter(self.quad_list(graph))

    def quad_list(self, graph: ox.DefaultGraph | ox.NamedNode | None = None,
                  iri: str | None = None) -> list[ox.Quad]:
        """The claim's RDF as a list (``iri``: its IRI, when already computed).

        Entity IRIs and repeated literals (dates, grades, markings) are built
        once per process: an import of 100k claims names the same few
        thousand entities over and over.
        """
        c = ox.NamedNode(iri or self.iri)
        Q = ox.Quad
        out = [
            Q(c, RDF.type, CFKB.Claim),
            Q(c, RDF.subject, _node(self.subject)),
            Q(c, RDF.predicate, _node(self.predicate)),
            Q(c, RDF.object, _node(self.object)),
            Q(c, CFKB.negated, _TRUE if self.negated else _FALSE),
            Q(c, CFKB.statedIn, _node(self.source)),
            Q(c, PROV.wasAttributedTo, _node(self.speaker or self.source)),
        ]
        if self.area:
            out.append(Q(c, CFKB.inArea, _node(self.area)))
        if self.election:
            out.append(Q(c, CFKB.election, _node(self.election)))
        if self.date:
            out.append(Q(c, CFKB.statedOn, _date(self.date)))
        if self.quote:
            out.append(Q(c, CFKB.quote, ox.Literal(self.quote, language=self.quote_lang) if self.quote_lang
                         else ox.Literal(self.quote)))
        if self.paraphrase:
            out.append(Q(c, CFKB.paraphrase, ox.Literal(self.paraphrase, language=self.quote_lang)
                         if self.quote_lang else ox.Literal(self.paraphrase)))
        if self.cited_in:
            out.append(Q(c, CFKB.citedIn, _node(self.cited_in)))
        if self.url:
            out.append(Q(c, SCHEMA.url, ox.Literal(self.url, datatype=XSD.anyURI)))
        if self.reliability:
            out.append(Q(c, CFKB.reliability, _plain(self.reliability)))
        if self.credibility is not None:
            out.append(Q(c, CFKB.credibility, _integer(self.credibility)))
        if self.tlp:
            out.append(Q(c, CFKB.tlp, _tlp(self.tlp)))
        if self.modality:
            out.append(Q(c, CFKB.modality, _modality(self.modality)))
        if self.comment:
            out.append(Q(c, RDFS.comment, ox.Literal(self.comment, language="en")))
        if self.valid_from:
            out.append(Q(c, CFKB.validFrom, _date(self.valid_from)))
        if self.valid_until:
            out.append(Q(c, CFKB.validUntil, _date(self.valid_until)))
        if graph is not None and not isinstance(graph, ox.DefaultGraph):
            out = [Q(q.subject, q.predicate, q.object, graph) for q in out]
        return out


_TRUE = ox.Literal("true", datatype=XSD.boolean)
_FALSE = ox.Literal("false", datatype=XSD.boolean)


@lru_cache(maxsize=1 << 16)
def _node(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


@lru_cache(maxsize=1 << 14)
def _date(day: dt.date) -> ox.Literal:
    return ox.Literal(day.isoformat(), datatype=XSD.date)


@lru_cache(maxsize=256)
def _plain(text: str) -> ox.Literal:
    return ox.Literal(text)


@lru_cache(maxsize=256)
def _integer(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=XSD.integer)


@lru_cache(maxsize=64)
def _tlp(level: str) -> ox.NamedNode:
    return tlp_term(level)


@lru_cache(maxsize=64)
def _modality(name: str) -> ox.NamedNode:
    return CFKB.term(name)


# -- claims as N-Quads text, without a Python object per quad -------------

#: The properties a claim record gives its node, in :meth:`Claim.quad_list`'s
#: order: predicate IRI, the record fields the value is made from, and how.
#: A property is present exactly when its first field is neither None nor
#: empty (``negated`` False and ``credibility`` 0 are values). The SHACL check
#: of an import reads claim records through this table (one column at a
#: time, each distinct value once), and a test holds it to
#: :meth:`Claim.quad_list`.
CLAIM_PROPERTIES: tuple[tuple[str, tuple[str, ...], Callable[..., Term]], ...] = (
    (RDF_NS + "type", (), lambda: CFKB.Claim),
    (RDF_NS + "subject", ("subject",), lambda v: _node(v)),
    (RDF_NS + "predicate", ("predicate",), lambda v: _node(v)),
    (RDF_NS + "object", ("object",), lambda v: _node(v)),
    (CFKB_NS + "negated", ("negated",), lambda v: _TRUE if v else _FALSE),
    (CFKB_NS + "statedIn", ("source",), lambda v: _node(v)),
    (PROV_NS + "wasAttributedTo", ("source", "speaker"), lambda source, speaker: _node(speaker or source)),
    (CFKB_NS + "inArea", ("area",), lambda v: _node(v)),
    (CFKB_NS + "election", ("election",), lambda v: _node(v)),
    (CFKB_NS + "statedOn", ("date",), lambda v: _date(v)),
    (CFKB_NS + "quote", ("quote", "quote_lang"),
     lambda quote, lang: ox.Literal(quote, language=lang) if lang else ox.Literal(quote)),
    (CFKB_NS + "paraphrase", ("paraphrase", "quote_lang"),
     lambda words, lang: ox.Literal(words, language=lang) if lang else ox.Literal(words)),
    (CFKB_NS + "citedIn", ("cited_in",), lambda v: _node(v)),
    (SCHEMA_NS + "url", ("url",), lambda v: ox.Literal(v, datatype=XSD.anyURI)),
    (CFKB_NS + "reliability", ("reliability",), lambda v: _plain(v)),
    (CFKB_NS + "credibility", ("credibility",), lambda v: _integer(v)),
    (CFKB_NS + "tlp", ("tlp",), lambda v: _tlp(v)),
    (CFKB_NS + "modality", ("modality",), lambda v: _modality(v)),
    (RDFS_NS + "comment", ("comment",), lambda v: ox.Literal(v, language="en")),
    (CFKB_NS + "validFrom", ("valid_from",), lambda v: _date(v)),
    (CFKB_NS + "validUntil", ("valid_until",), lambda v: _date(v)),
)


class ClaimText:
    """Claims as N-Quads lines (default graph), each distinct value written once.

    The same quads as :meth:`Claim.quad_list`, as text a bulk loader reads
    directly: an import of 100k claims makes 1.5M quads, and a Python quad
    object each costs more than its line. Every term is written by
    pyoxigraph (``str`` of a term is its N-Triples form, escaped), so no
    value goes into the text unchecked.

    >>> c = Claim(CFID_NS + "a", CFKB_NS + "memberOf", CFID_NS + "b", CFID_NS + "s")
    >>> text = ClaimText().lines(c, c.iri)
    >>> set(ox.parse(text, format=ox.RdfFormat.N_QUADS)) == set(c.quad_list())
    True
    """

    def __init__(self, tail: Sequence[tuple[ox.NamedNode, Term]] = ()) -> None:
        #: (predicate, object) written for every claim after its own quads
        self._tail = [f" {p} {o} .\n" for p, o in tail]
        self._nodes: dict[str, str] = {}
        self._values: dict[tuple[str, object], str] = {}
        # each property's text, by the record field it shows (the speaker: wasAttributedTo)
        self._p = {(fields[0] if fields else "type"): f" <{iri}> " for iri, fields, _ in CLAIM_PROPERTIES
                   if iri != PROV_NS + "wasAttributedTo"}
        self._p["speaker"] = f" <{PROV_NS}wasAttributedTo> "
        self._type = self._p["type"] + str(CFKB.Claim) + " .\n"
        self._negated = {True: self._p["negated"] + str(_TRUE) + " .\n",
                         False: self._p["negated"] + str(_FALSE) + " .\n"}

    def _node(self, iri: str) -> str:
        text = self._nodes.get(iri)
        if text is None:
            text = self._nodes[iri] = str(_node(iri))  # checks the IRI
        return text

    def _value(self, name: str, value: object, make: Callable[[], Term]) -> str:
        text = self._values.get((name, value))
        if text is None:
            text = self._values[(name, value)] = self._p[name] + str(make()) + " .\n"
        return text

    def lines(self, claim: Claim, iri: str) -> str:
        """The claim's quads, then the tail, one line each."""
        c = "<" + iri + ">"
        node, p = self._node, self._p
        # the properties every claim has, in one format (a concatenation per line costs as much again)
        out = [f"{c}{self._type}{c}{p['subject']}{node(claim.subject)} .\n"
               f"{c}{p['predicate']}{node(claim.predicate)} .\n{c}{p['object']}{node(claim.object)} .\n"
               f"{c}{self._negated[claim.negated]}{c}{p['source']}{node(claim.source)} .\n"
               f"{c}{p['speaker']}{node(claim.speaker or claim.source)} .\n"]
        if claim.area:
            out.append(f"{c}{p['area']}{node(claim.area)} .\n")
        if claim.election:
            out.append(f"{c}{p['election']}{node(claim.election)} .\n")
        if claim.date:
            out.append(c + self._value("date", claim.date, lambda: _date(claim.date)))
        if claim.quote:
            quote = ox.Literal(claim.quote, language=claim.quote_lang) if claim.quote_lang else ox.Literal(claim.quote)
            out.append(f"{c}{p['quote']}{quote} .\n")
        if claim.paraphrase:
            words = (ox.Literal(claim.paraphrase, language=claim.quote_lang) if claim.quote_lang
                     else ox.Literal(claim.paraphrase))
            out.append(f"{c}{p['paraphrase']}{words} .\n")
        if claim.cited_in:
            out.append(f"{c}{p['cited_in']}{node(claim.cited_in)} .\n")
        if url := claim.url:
            out.append(c + self._value("url", url, lambda: ox.Literal(url, datatype=XSD.anyURI)))
        if claim.reliability:
            out.append(c + self._value("reliability", claim.reliability, lambda: _plain(claim.reliability)))
        if claim.credibility is not None:
            out.append(c + self._value("credibility", claim.credibility, lambda: _integer(claim.credibility)))
        if claim.tlp:
            out.append(c + self._value("tlp", claim.tlp, lambda: _tlp(claim.tlp)))
        if claim.modality:
            out.append(c + self._value("modality", claim.modality, lambda: _modality(claim.modality)))
        if claim.comment:
            out.append(f"{c}{p['comment']}{ox.Literal(claim.comment, language='en')} .\n")
        if claim.valid_from:
            out.append(c + self._value("valid_from", claim.valid_from, lambda: _date(claim.valid_from)))
        if claim.valid_until:
            out.append(c + self._value("valid_until", claim.valid_until, lambda: _date(claim.valid_until)))
        for line in self._tail:
            out.append(c + line)
        return "".join(out)
