"""Reading RDF files strictly, and reading claims out of RDF.

pyoxigraph's parsers are strict and fast; their ``SyntaxError`` (1-based
line and column) becomes :class:`~cfkb.errors.ParseError` here, and nothing
else sees a third-party parse exception. Formats that can make a parser reach
outside the file (RDF/XML and TriX entities, remote JSON-LD contexts) are
refused before parsing, and the parse is bounded, by :mod:`cfkb.store.guard`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from cfkb.errors import ParseError, ProtectedDataError, UnknownFormatError
from cfkb.model.vocabulary import (
    BASE_IRI,
    CFID_NS,
    CFKB,
    CFKB_NS,
    DCT,
    GRAPH_NS,
    OWN_RECORDS,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    STAGING_GRAPH_PREFIX,
    Claim,
    tlp_name,
)
from cfkb.resources import jsonld_context_path
from cfkb.store.guard import bounded, check_jsonld, check_rdf_text, check_size
from cfkb.store.guard import refuse_markup as refuse_markup  # its home until the guard; tables import it from here

#: File extension to cfkb format name.
EXTENSIONS = {
    ".csv": "csv", ".yaml": "yaml", ".yml": "yaml", ".ttl": "turtle", ".turtle": "turtle",
    ".trig": "trig", ".jsonld": "jsonld", ".json": "jsonld", ".nt": "nt", ".nq": "nq",
}
RDF_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE, "trig": ox.RdfFormat.TRIG, "jsonld": ox.RdfFormat.JSON_LD,
    "nt": ox.RdfFormat.N_TRIPLES, "nq": ox.RdfFormat.N_QUADS,
}
TABLE_FORMATS = ("csv", "yaml")
FORMATS = TABLE_FORMATS + tuple(RDF_FORMATS)
REFUSED = {".rdf": "RDF/XML", ".owl": "RDF/XML", ".xml": "XML", ".trix": "TriX", ".n3": "N3"}


def guess_format(path: str) -> str:
    """The cfkb format name for a file name.

    >>> guess_format("claims.ttl")
    'turtle'
    """
    lower = path.lower()
    for ext, name in REFUSED.items():
        if lower.endswith(ext):
            raise UnknownFormatError(
                f"{path}: {name} is not accepted (its parsers can expand entities and reach other files);"
                " convert it to Turtle or N-Triples"
            )
    for ext, fmt in EXTENSIONS.items():
        if lower.endswith(ext):
            return fmt
    raise UnknownFormatError(
        f"{path}: cannot tell the format from the file name; pass --format (one of {', '.join(FORMATS)})"
    )


def decode(path: str, data: bytes, what: str = "the file") -> str:
    """The file as text: UTF-8, with or without a byte order mark.

    Raises:
        ParseError: the file is empty, UTF-16/32, or not UTF-8 (with where).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:64]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 3 and head.count(b"\x00") * 4 >= len(head)):
        raise ParseError(path, 1, 1, f"{what} is UTF-16 (or another wide encoding); save it as UTF-8 and import again")
    if not data.strip():
        raise ParseError(path, None, None, f"{what} is empty; nothing to import")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = len(data[data.rfind(b"\n", 0, exc.start) + 1: exc.start].decode("utf-8", "replace")) + 1
        raise ParseError(path, line, col, f"byte 0x{data[exc.start]:02x} is not UTF-8 (Latin-1 or Windows-1252?);"
                         " save the file as UTF-8 and import again") from exc


def locate(data: bytes, node: str) -> tuple[int | None, int | None]:
    """1-based line and column of the first mention of a node in a file.

    Parsers give no position per triple; this finds the node's IRI, or its
    last path segment (as a prefixed name writes it), in the text.

    >>> locate(b"@prefix c: <http://x/> .\\nc:a c:p c:b .\\n", "http://x/a")
    (2, 1)
    """
    text = data.decode("utf-8", "replace")
    for needle in (node, node.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]):
        if not needle:
            continue
        at = text.find(needle)
        if needle != node:
            # the local name as a whole token, not inside another IRI
            while at >= 0 and (text[at - 1:at].isalnum() or text[at + len(needle):at + len(needle) + 1].isalnum()):
                at = text.find(needle, at + 1)
        if at >= 0:
            start = text.rfind("\n", 0, at) + 1
            if needle == node and text[at - 1:at] == "<":
                at -= 1
            elif needle != node:
                # back to the start of a prefixed name
                while at > start and not text[at - 1].isspace() and text[at - 1] not in "<;,.[(":
                    at -= 1
            return text.count("\n", 0, at) + 1, at - start + 1
    return None, None


#: The IRI of cfkb's own JSON-LD context, answered from the copy in the package.
CONTEXT_IRI = "https://w3id.org/cfkb/context.jsonld"


def _with_bundled_context(doc: object, text: str) -> bytes:
    """The document to parse: the cfkb context IRI replaced by the copy cfkb ships.

    ``doc`` has passed :func:`cfkb.store.guard.check_jsonld`, which refused every
    other remote context, ``@import`` and deep nesting.
    """
    replaced = False

    def walk(node: object) -> object:
        nonlocal replaced
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "@context":
                    value = _context(value)
                    replaced = True
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    doc = walk(doc)
    return (json.dumps(doc) if replaced else text).encode("utf-8")


def _context(context: object) -> object:
    if isinstance(context, list):
        return [_context(c) for c in context]
    if context == CONTEXT_IRI:
        return bundled_context()
    return context


def bundled_context() -> dict[str, object]:
    """The cfkb JSON-LD context (its ``@context`` value), from the package."""

    data = json.loads(jsonld_context_path().read_text(encoding="utf-8"))
    return dict(data["@context"])


#: The position prefix of pyoxigraph's messages (cfkb puts the position in front itself).
_POSITION = re.compile(
    r"^(?:parser )?error (?:at|between) .*?(?:columns? \d+(?: and \d+)?|\d+:\d+(?:-\d+:\d+)?)\s*:\s*", re.IGNORECASE)


def parse_rdf(path: str, data: bytes, fmt: str) -> list[ox.Quad]:
    """Parse RDF strictly into quads.

    Raises:
        ParseError: with the file, line and column of the first error.
    """
    check_size(path, len(data))
    text = decode(path, data)
    if fmt == "jsonld":
        refuse_markup(path, text)
        data = _with_bundled_context(check_jsonld(path, text, (CONTEXT_IRI,)), text)
    else:
        check_rdf_text(path, text, fmt)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        quads = list(bounded(path, ox.parse(data, format=RDF_FORMATS[fmt], base_iri=None)))
    except SyntaxError as exc:
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "offset", None)
        message = str(exc.msg if hasattr(exc, "msg") else exc).replace("\n", "\\n").replace("\r", "\\r")
        message = _POSITION.sub("", message)
        raise ParseError(path, line, col, f"{message}; fix the syntax and import again") from exc
    except ValueError as exc:
        raise ParseError(path, None, None, f"{exc}; fix the file and import again") from exc
    if not quads:
        raise ParseError(path, None, None, "the file holds no triples; nothing to import")
    return quads


# -- imports carry data only ------------------------------------------------

#: What the header of a cfkb export may say about the export (its own record).
_EXPORT_HEADER = frozenset({
    RDF.type.value, DCT.created.value, DCT.license.value, DCT.creator.value, CFKB.softwareVersion.value,
    CFKB.tlpCeiling.value, CFKB.tlp.value, CFKB.claimCount.value, CFKB.withheldClaims.value,
    CFKB.defaultTlp.value,
})
_EXPORT_PREFIX = CFID_NS + "export/"


def _internal_graph(graph: object) -> str | None:
    """What a graph name is, if it is one of the base's own graphs."""
    if not isinstance(graph, ox.NamedNode):
        return None
    if graph.value.startswith(GRAPH_NS):
        return "the base's own graph"
    if graph.value.startswith(STAGING_GRAPH_PREFIX):
        return "a staging graph of the base"
    return _own_record(graph.value)


def _own_record(iri: str) -> str | None:
    """What an IRI is, if the base mints it for its own records or settings."""
    if iri == BASE_IRI:
        return "the base's settings and state"
    for prefix, what in OWN_RECORDS.items():
        if iri.startswith(prefix):
            return what
    return None


def _export_headers(quads: list[ox.Quad]) -> set[ox.NamedNode]:
    """Subjects that are the header of a cfkb export and nothing else.

    A cfkb export starts with a record of itself (who, when, ceiling): it
    describes the file, the import batch records the file, and it is not
    stored. Anything else said about an export record is refused.
    """
    typed = {q.subject for q in quads if q.predicate == RDF.type and q.object == CFKB.Export
             and isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(_EXPORT_PREFIX)}
    if not typed:
        return set()
    bad = {q.subject for q in quads if q.subject in typed
           and (not isinstance(q.graph_name, ox.DefaultGraph) or isinstance(q.object, ox.BlankNode)
                or (q.predicate.value not in _EXPORT_HEADER
                    and not q.predicate.value.startswith(CFKB_NS + "filter")))}
    return typed - bad


#: Records of the sending base a cfkb export carries (its decisions, its
#: conflicts), by class: never stored by the receiving base, which keeps its
#: own. A decision is known by its class or by ``cfkb:assesses``, whatever
#: its IRI (the base reads a conflict's status from any node that assesses it).
CARRIED_RECORDS = {CFKB.Assessment: "decision", CFKB.Conflict: "conflict record"}
#: Classes of the base's own bookkeeping: refused whatever the node's IRI.
OWN_RECORD_CLASSES = {CFKB.ImportBatch: "an import batch", CFKB.PartnerGrading: "a partner's grading",
                      CFKB.EntityMerge: "an entity merge record", CFKB.EntityUnmerge: "an entity unmerge record",
                      CFKB.Export: "an export record"}


def _carried(quads: list[ox.Quad]) -> tuple[dict[object, str], dict[object, str]]:
    """The sending base's decisions and conflict records in a file, and the
    nodes typed as the base's own bookkeeping, each by what it is."""
    carried: dict[object, str] = {}
    own: dict[object, str] = {}
    for q in quads:
        if q.predicate == RDF.type and isinstance(q.object, ox.NamedNode):
            if q.object in CARRIED_RECORDS:
                carried[q.subject] = CARRIED_RECORDS[q.object]
            elif q.object in OWN_RECORD_CLASSES:
                own[q.subject] = OWN_RECORD_CLASSES[q.object]
        elif q.predicate == CFKB.assesses:
            carried.setdefault(q.subject, "decision")
    return carried, own


def left_out_text(counts: dict[str, int]) -> str:
    """'2 decisions and 1 conflict record', from counts by kind."""
    parts = [f"{n} {what}{'' if n == 1 else 's'}" for what, n in sorted(counts.items()) if n]
    return " and ".join(parts)


def _where(data: bytes, graph: str | None, subject: object) -> tuple[int | None, int | None]:
    """Line and column of a quad: its subject's first mention (after its graph's name, in a graph)."""
    node = subject.value if isinstance(subject, ox.NamedNode) else None
    if graph is None:
        return locate(data, node) if node else (None, None)
    line, col = locate(data, graph)
    if line is None or node is None:
        return line, col
    start = sum(len(text) + 1 for text in data.split(b"\n")[: line - 1])
    sub_line, sub_col = locate(data[start:], node)
    return (line + sub_line - 1, sub_col) if sub_line is not None else (line, col)


@functools.lru_cache(maxsize=1)
def _suspect() -> re.Pattern[bytes]:
    """Any IRI :func:`data_only` looks at, in N-Quads text (where every IRI is
    written in full, whatever prefixes or escapes the file used)."""
    iris = [GRAPH_NS, STAGING_GRAPH_PREFIX, *OWN_RECORDS]
    exact = [BASE_IRI, CFKB.assesses.value, *(c.value for c in (*CARRIED_RECORDS, *OWN_RECORD_CLASSES))]
    root = "https://w3id.org/cfkb/"
    tails = [re.escape(i[len(root):]) for i in iris if i.startswith(root)]
    tails += [re.escape(i[len(root):] + ">") for i in exact if i.startswith(root)]
    others = [re.escape(i) for i in iris if not i.startswith(root)] + [re.escape(i + ">") for i in exact
                                                                        if not i.startswith(root)]
    # one literal prefix, then the alternatives: the scan stops at few places
    pattern = "<(?:" + re.escape(root) + "(?:" + "|".join(tails) + ")" + "".join("|" + o for o in others) + ")"
    return re.compile(pattern.encode())


#: Offending quads located (file, line, column) one by one; more are counted.
MAX_LOCATED = 100


def data_only(path: str, data: bytes, quads: list[ox.Quad]) -> tuple[list[ox.Quad], dict[str, int]]:
    """The quads of an imported file, refused if any writes the base's own
    graphs (ontology, state, settings, staging) or its own records (the
    settings node, batches, analysts, partners, exports, conflicts,
    decisions, gradings, merges).

    What a cfkb export carries about the sending base itself is left out and
    counted: its header (see :func:`_export_headers`), and its decisions and
    conflict records (:data:`CARRIED_RECORDS`; the receiving base keeps its
    own). Returns the quads to import and the count of what was left out,
    by kind.

    Raises:
        ProtectedDataError: one line per offending quad (the first
            :data:`MAX_LOCATED`, then how many more), with the file, line
            and column of the quad and the IRI; nothing is imported.
    """
    if not _suspect().search(ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""):
        return quads, {}  # nothing names the base's own graphs, records or their classes: the usual case
    headers = _export_headers(quads)
    carried, typed_own = _carried(quads)
    problems: list[str] = []
    more = 0
    kept: list[ox.Quad] = []
    left_out: dict[object, str] = {}
    graphs: dict[object, str | None] = {}  # a file names few graphs: each decided once
    places: dict[tuple[str | None, object], tuple[int | None, int | None]] = {}
    for q in quads:
        s, g = q.subject, q.graph_name
        subject = None
        if isinstance(s, ox.NamedNode):
            iri_text = s.value
            if iri_text.startswith(CFID_NS):
                subject = _own_record(iri_text)
        if subject is None and (typed_own or carried):
            subject = typed_own.get(s) or ("a record of the sending base" if s in carried else None)
        graph = graphs.get(g, "")
        if graph == "":
            graph = graphs[g] = _internal_graph(g)
        if graph is None and subject is None:
            kept.append(q)
            continue
        if graph is None and s in headers:
            continue
        if graph is None and s in carried and s not in typed_own:
            left_out[s] = carried[s]
            continue
        if len(problems) >= MAX_LOCATED:
            more += 1
            continue
        if graph and not isinstance(g, ox.DefaultGraph):
            iri = g.value
        else:
            iri = str(s)[1:-1] if isinstance(s, ox.NamedNode) else str(s)
        what = f"writes into {graph} <{iri}>" if graph else f"is about {subject} <{iri}>"
        key = (iri if graph else None, s)
        if key not in places:
            places[key] = _where(data, key[0], s)
        line, col = places[key]
        where = path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        problems.append(f"{where}: refused: {s} {q.predicate} ... {what};"
                        " an import carries data only (claims, entities, sources): remove it from the file")
    if more:
        problems.append(f"{path}: refused: {more} more quad(s) about the base's own graphs or records")
    if problems:
        raise ProtectedDataError(problems)
    counts: dict[str, int] = {}
    for what in left_out.values():
        counts[what] = counts.get(what, 0) + 1
    return kept, counts


# -- claims out of RDF -----------------------------------------------------

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
