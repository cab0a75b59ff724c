"""Reading RDF files strictly: the format of each file, its text, its quads.

pyoxigraph's parsers are strict and fast; their ``SyntaxError`` (1-based
line and column) becomes :class:`~cfkb.errors.ParseError` here, and nothing
else sees a third-party parse exception. Formats that can make a parser reach
outside the file (RDF/XML and TriX entities, remote JSON-LD contexts) are
refused before parsing, and the parse is bounded, by :mod:`cfkb.store.guard`.
What an imported file may write is :mod:`cfkb.io.dataonly`; the claims read
out of the quads, :mod:`cfkb.io.rdfclaims`.
"""

from __future__ import annotations

import json
import re

import pyoxigraph as ox

from cfkb.errors import ParseError, UnknownFormatError
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
