"""The SPARQL 1.1 Protocol, read-only: reading requests, choosing formats,
describing the service.

https://www.w3.org/TR/sparql11-protocol/ and
https://www.w3.org/TR/sparql11-service-description/
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from cfkb.errors import InputError, NotAcceptableError, QueryError, QueryRefusedError

#: The longest query text accepted, in bytes.
MAX_QUERY_BYTES = 256 * 1024

#: (media type, short format name), the server's preference first.
RESULT_MEDIA: tuple[tuple[str, str], ...] = (
    ("application/sparql-results+json", "json"),
    ("application/json", "json"),
    ("application/sparql-results+xml", "xml"),
    ("application/xml", "xml"),
    ("text/xml", "xml"),
    ("text/csv", "csv"),
    ("text/tab-separated-values", "tsv"),
)
GRAPH_MEDIA: tuple[tuple[str, str], ...] = (
    ("text/turtle", "turtle"),
    ("application/n-triples", "nt"),
    ("application/x-turtle", "turtle"),
    ("text/plain", "nt"),
    ("application/ld+json", "jsonld"),
    ("application/json", "jsonld"),
)
#: The Content-Type each format is sent with.
CONTENT_TYPES: dict[str, str] = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "turtle": "text/turtle; charset=utf-8",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
}
EXTENSIONS = {"json": "srj", "xml": "srx", "csv": "csv", "tsv": "tsv", "turtle": "ttl", "nt": "nt",
              "jsonld": "jsonld"}


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges and their q-values from an Accept header.

    >>> parse_accept("text/csv;q=0.5, application/sparql-results+json")
    [('text/csv', 0.5), ('application/sparql-results+json', 1.0)]
    """
    ranges = []
    for part in (header or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        ranges.append((fields[0].lower(), q))
    return ranges


def negotiate(header: str | None, offers: Sequence[tuple[str, str]]) -> str | None:
    """The format to answer with, or None when the client accepts none of ours.

    Each offer gets the q-value of the most specific range that matches it;
    the highest wins, ties going to the server's order. No Accept header
    means anything.

    >>> negotiate("text/csv, */*;q=0.1", RESULT_MEDIA)
    'csv'
    >>> negotiate("text/html", RESULT_MEDIA) is None
    True
    >>> negotiate("application/*", GRAPH_MEDIA)
    'nt'
    """
    ranges = parse_accept(header)
    if not ranges:
        return offers[0][1]
    best: tuple[float, int, str] | None = None
    for position, (media, fmt) in enumerate(offers):
        kind = media.split("/")[0]
        q, specificity = 0.0, -1
        for rng, rq in ranges:
            s = 2 if rng == media else 1 if rng == f"{kind}/*" else 0 if rng == "*/*" else -1
            if s > specificity:
                q, specificity = rq, s
        if specificity >= 0 and q > 0 and (best is None or q > best[0]):
            best = (q, position, fmt)
    return best[2] if best else None


def choose_format(form: str | None, accept: str | None, explicit: str | None) -> str:
    """The result format for a query of ``form``, from ``?format=`` or Accept.

    Raises:
        NotAcceptableError: no format of ours is acceptable (HTTP 406).
        InputError: an unknown ``format`` parameter.
    """
    offers = GRAPH_MEDIA if form in ("CONSTRUCT", "DESCRIBE") else RESULT_MEDIA
    names = list(dict.fromkeys(fmt for _, fmt in offers))
    if explicit:
        if explicit not in names:
            raise InputError(f"format {explicit!r} is not available for this query; use one of {', '.join(names)}")
        return explicit
    fmt = negotiate(accept, offers)
    if fmt is None:
        listed = ", ".join(dict.fromkeys(m for m, _ in offers))
        raise NotAcceptableError(f"cannot answer in any type of Accept: {accept};"
                                 f" this query can be answered as {listed}")
    return fmt


@dataclass(frozen=True)
class ProtocolRequest:
    """What a SPARQL protocol request asks: the query text, or nothing (describe the service)."""

    query: str | None
    format: str | None = None


def read_request(method: str, content_type: str | None, params: dict[str, list[str]],
                 body: bytes) -> ProtocolRequest:
    """Read a protocol request: GET with ``query=``, POST form or POST ``application/sparql-query``.

    Raises:
        QueryRefusedError: an update, or a dataset other than the base.
        InputError: anything else malformed.
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    if method == "POST" and kind == "application/sparql-update":
        raise QueryRefusedError("SPARQL updates are refused: this endpoint is read-only")
    if "update" in params or "using-graph-uri" in params or "using-named-graph-uri" in params:
        raise QueryRefusedError("SPARQL updates are refused: this endpoint is read-only")
    for name in ("default-graph-uri", "named-graph-uri"):
        if name in params:
            raise QueryRefusedError(f"{name} is not supported: queries run on the whole base, and never"
                                    " on graphs from elsewhere")
    formats = params.get("format")
    fmt = formats[0] if formats else None
    if method == "POST" and kind == "application/sparql-query":
        if len(body) > MAX_QUERY_BYTES:
            raise InputError(f"query longer than {MAX_QUERY_BYTES // 1024} KiB")
        try:
            return ProtocolRequest(body.decode("utf-8"), fmt)
        except UnicodeDecodeError:
            raise InputError("the query is not UTF-8 text") from None
    if method == "POST" and kind not in ("application/x-www-form-urlencoded", ""):
        raise InputError(f"unsupported Content-Type {kind!r}: POST application/sparql-query or"
                         " application/x-www-form-urlencoded")
    queries = params.get("query", [])
    if len(queries) > 1:
        raise InputError("give exactly one query parameter")
    if not queries:
        return ProtocolRequest(None, fmt)
    if len(queries[0].encode("utf-8")) > MAX_QUERY_BYTES:
        raise InputError(f"query longer than {MAX_QUERY_BYTES // 1024} KiB")
    return ProtocolRequest(queries[0], fmt)


_CHAR_CLASSES = re.compile(r",?\s*\[['\"\\].*", re.DOTALL)


def readable(error: QueryError) -> str:
    """A syntax error without pyoxigraph's listing of Unicode ranges.

    >>> readable(QueryError("error at 1:3: expected one of \\"a\\", ['A' ..= 'Z'], [_]"))
    'error at 1:3: expected one of "a", …'
    """
    text = str(error)
    short = _CHAR_CLASSES.sub(", \u2026", text)
    return short if len(short) <= 600 else short[:600] + "\u2026"


# -- service description ---------------------------------------------------------

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"
_RESULT_FORMAT_IRIS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                       "Turtle", "N-Triples", "JSON-LD")


def service_description(endpoint: str, *, query_timeout: float, row_limit: int) -> list[ox.Triple]:
    """The SPARQL service description of this endpoint, as triples."""
    def sd(name: str) -> ox.NamedNode:
        return ox.NamedNode(SD + name)

    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    service, dataset, graph = ox.BlankNode("service"), ox.BlankNode("dataset"), ox.BlankNode("graph")
    node = ox.NamedNode(endpoint)
    triples = [
        ox.Triple(service, rdf_type, sd("Service")),
        ox.Triple(service, sd("endpoint"), node),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, rdf_type, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), graph),
        ox.Triple(graph, rdf_type, sd("Graph")),
        ox.Triple(service, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment"), ox.Literal(
            "cfkb read-only SPARQL 1.1 endpoint. Updates, SERVICE, LOAD, FROM and FROM NAMED are refused."
            f" Queries stop after {query_timeout:g} s (HTTP 503) and return at most {row_limit} rows or"
            " triples; a truncated answer carries the header X-CFKB-Truncated: true.", language="en")),
    ]
    triples += [ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS + f)) for f in _RESULT_FORMAT_IRIS]
    return triples
