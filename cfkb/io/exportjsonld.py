"""Writing the export's blocks as JSON-LD: what rdflib's serialiser makes of them, sorted, in a fraction of its time.

:class:`Nodes` builds the node objects with rdflib's own rules for each
distinct term; what those rules treat specially goes through rdflib's
serialiser itself (:func:`write_jsonld`). Blocks are as in
:mod:`cfkb.io.exportwrite`. The document is written node by node
(:func:`document`): the nodes are independent, so a streamed export
(:func:`jsonld_pieces`) writes each as it comes, in the order of their
compacted ``@id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring as _string

from cfkb.io.exportgraph import Graph, Pairs
from cfkb.io.exportwrite import write_nt
from cfkb.io.tlp import NT_TYPE
from cfkb.model.vocabulary import CFKB, RDF

#: How the export's header is typed once compacted: such nodes come first.
_EXPORT_TYPE = "cfkb:Export"
_NT_EXPORT = f"<{CFKB.Export.value}>"
#: Between two nodes of the ``@graph`` list, as ``json.dumps(indent=2)`` writes it.
_BETWEEN = ",\n    "


def write_jsonld(blocks: Graph, header: tuple[str, Pairs] | None, prefixes: dict[str, str]) -> str:
    """JSON-LD as rdflib's serialiser compacts it, then sorted so that it is deterministic.

    rdflib's serialiser takes minutes for 100k claims, so the nodes are built
    here with rdflib's own rules for each distinct term (its
    ``Converter.to_raw_value`` and ``Context``); what those rules would treat
    specially (RDF lists, a value rdflib would drop) goes
    through rdflib's serialiser itself.
    """
    nodes = jsonld_nodes(blocks, header, prefixes)
    context: object = dict(prefixes)
    if nodes is None:
        import rdflib

        g = rdflib.Graph()
        nt = write_nt(blocks, header)
        # keep the blank nodes' canonical labels (rdflib's parser would draw new, random ones)
        labels = {t[2:] for s, pairs in blocks.items() for t in (s, *(o for _, o in pairs)) if t[0] == "_"}
        if nt:
            g.parse(data=nt, format="nt", bnode_context={b: rdflib.BNode(b) for b in labels})
        doc = json.loads(g.serialize(format="json-ld", context=dict(prefixes), auto_compact=True))
        context = doc.pop("@context", dict(prefixes))
        nodes = doc.pop("@graph", [doc] if doc else [])
    nodes = [canonical(n) for n in nodes]
    nodes.sort(key=lambda n: (not is_header(n), str(n.get("@id", ""))))
    return "".join(document(context, map(node_text, nodes)))


def canonical(node: dict[str, object]) -> dict[str, object]:
    """A node with every list of values sorted (by its JSON text)."""

    def canon(value: object) -> object:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((canon(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
        return value

    return {k: canon(v) for k, v in node.items()}


def is_header(node: dict[str, object]) -> bool:
    """Whether a node is typed as an export's header (such nodes come first)."""
    types = node.get("@type", [])
    return _EXPORT_TYPE in (types if isinstance(types, list) else [types])


def node_text(node: dict[str, object]) -> str:
    """A node as ``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)`` writes it inside the
    document's ``@graph`` list (json's own indenting encoder makes a reference cycle per call, which
    the export, with the cycle collector paused, would keep)."""
    return _indented(node, "    ")


def _indented(value: object, indent: str) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if not value:
            return "{}"
        inner = indent + "  "
        return ("{\n" + inner + (",\n" + inner).join([_string(k) + ": " + _indented(value[k], inner)
                                                       for k in sorted(value)]) + "\n" + indent + "}")
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + inner + (",\n" + inner).join([_indented(v, inner) for v in value]) + "\n" + indent + "]"
    if isinstance(value, (dict, tuple)):
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).replace("\n", "\n" + indent)
    return json.dumps(value, ensure_ascii=False)


def document(context: object, texts: Iterable[str]) -> Iterator[str]:
    """``json.dumps({"@context": context, "@graph": nodes}, indent=2, sort_keys=True) + "\\n"`` in pieces,
    the nodes given as :func:`node_text` wrote them."""
    # "@context" sorts before "@graph": the last null is the list's place
    head, _, tail = json.dumps({"@context": context, "@graph": [None]}, ensure_ascii=False, indent=2,
                               sort_keys=True).rpartition("null")
    first = True
    for text in texts:
        yield (head if first else _BETWEEN) + text
        first = False
    if first:  # no node: an empty list
        yield head.rstrip("\n ") + "]" + tail.lstrip("\n ")[1:] + "\n"
        return
    yield tail + "\n"


class NotPlain(Exception):
    """The graph has something rdflib's JSON-LD serialiser treats specially (or a stream can not keep the order)."""


_RDF_LIST = (f"<{RDF.first.value}>", f"<{RDF.rest.value}>")


class Nodes:
    """The JSON-LD node objects rdflib's serialiser makes, one subject at a time, compacted with the prefixes.

    Each distinct term is converted once (at most ``limit`` remembered);
    :class:`NotPlain` is raised where rdflib must make the nodes itself.
    """

    def __init__(self, prefixes: dict[str, str], limit: int | None = None) -> None:
        import rdflib
        from rdflib.plugins.serializers.jsonld import Converter
        from rdflib.plugins.shared.jsonld.context import Context

        self.ctx = Context(dict(prefixes))
        self.converter = Converter(self.ctx, False, False)
        self.empty = rdflib.Graph()
        # the subject the converter asks for is read only for blank-node objects, never passed here
        self.no_subject = rdflib.URIRef("urn:cfkb:none")
        # a predicate that is one of the context's own IRIs would be written as that term
        self.reserved = {f"<{ns}>" for ns in prefixes.values()} | set(_RDF_LIST)
        self.keys: dict[str, str] = {}
        self.values: dict[str, object] = {}
        self.limit = limit
        #: every blank node met as a value
        self.bnode_values: set[str] = set()

    def key_of(self, p: str) -> str:
        found = self.keys.get(p)
        if found is None:
            if p in self.reserved:
                raise NotPlain(p)
            found = self.keys[p] = str(self.ctx.to_symbol(p[1:-1]))
        return found

    def value_of(self, o: str) -> object:
        values = self.values
        found = values.get(o, values)
        if found is not values:
            return found
        import rdflib

        if o[0] == "<":
            found = self.converter.to_raw_value(self.empty, self.no_subject, rdflib.URIRef(o[1:-1]), {})
        elif o[0] == "_":  # a node of its own, named by its label
            found = {"@id": o}
            self.bnode_values.add(o)
        elif o[0] == '"':
            end = o.rindex('"')
            lex, rest = o[1:end], o[end + 1:]
            if "\\" not in lex and (not rest or (rest[0] == "@" and rest == rest.lower())):
                found = {"@language": rest[1:], "@value": lex} if rest else lex  # what rdflib makes of it
            else:  # escapes, datatypes: rdflib's own parse and conversion
                lit = next(iter(rdflib.Graph().parse(data=f"<urn:x:s> <urn:x:p> {o} .\n", format="nt")))[2]
                assert isinstance(lit, rdflib.Literal)  # the object of that one line
                found = self.converter.to_raw_value(self.empty, self.no_subject, lit, {})
        else:
            raise NotPlain(o)
        if self.limit is not None and len(values) >= self.limit:
            values.clear()
        values[o] = found
        return found

    def node_id(self, s: str) -> str:
        if s[0] not in "<_":
            raise NotPlain(s)
        return str(self.ctx.shrink_iri(s[1:-1])) if s[0] == "<" else s

    def typed_export(self, pairs: Pairs) -> bool:
        """Whether these pairs make a node :func:`is_header` takes for a header."""
        return any(p == NT_TYPE and o[0] == "<" and self.key_of(o) == _EXPORT_TYPE for p, o in pairs)

    def node(self, s: str, pairs: Pairs) -> dict[str, object]:
        """One subject's node (its pairs not empty)."""
        node: dict[str, object] = {"@id": self.node_id(s)}
        keys, key_of, value_of = self.keys, self.key_of, self.value_of
        value: object
        for p, o in set(pairs):
            if p == NT_TYPE:
                if o[0] != "<":
                    raise NotPlain(o)
                key, value = "@type", keys.get(o) or key_of(o)
            else:
                key, value = keys.get(p) or key_of(p), value_of(o)
            # rdflib's Converter.add_to_node, but for the case where it
            # drops values (several, one of them false, 0 or "")
            old = node.get(key)
            if old is None:
                node[key] = value
            elif not old or not value:
                raise NotPlain(s)
            elif isinstance(old, list):
                old.append(value)
            else:
                node[key] = [old, value]
        return node


def jsonld_nodes(blocks: Graph, header: tuple[str, Pairs] | None,
                 prefixes: dict[str, str]) -> list[dict[str, object]] | None:
    """The JSON-LD node objects rdflib's serialiser makes of these blocks,
    compacted with the prefixes; None when rdflib must make them itself."""
    everything = dict(blocks)
    if header:
        everything[header[0]] = [*everything.get(header[0], []), *header[1]]
    maker = Nodes(prefixes)
    nodes: dict[str, dict[str, object]] = {}
    try:
        for s, pairs in everything.items():
            if not pairs:
                continue
            node = maker.node(s, pairs)
            node_id = str(node["@id"])
            if node_id in nodes:  # two subjects, one compact name: rdflib keeps one
                raise NotPlain(s)
            nodes[node_id] = node
        if any(s[0] == "_" for s in everything) and not _reachable_blank_nodes(everything):
            raise NotPlain("a blank node only other blank nodes lead to")
    except NotPlain:
        return None
    # blank nodes with no triple of their own: rdflib gives each a bare node
    for b in sorted(maker.bnode_values):
        if not everything.get(b) and b not in nodes:
            nodes[b] = {"@id": b}
    return list(nodes.values())


def jsonld_pieces(stream: Iterable[tuple[str, Pairs]], rest: Graph, header: tuple[str, Pairs],
                  prefixes: dict[str, str], stream_bnodes: Graph, limit: int) -> Iterator[str]:
    """:func:`write_jsonld`'s text in pieces, as they are made, for blocks given in two parts.

    ``stream`` gives blocks one at a time, sorted by subject, each of whose
    subjects compacts to an IRI (or stays one) so that the compacted ``@id``
    order is the order they come in; ``rest`` holds every other block;
    ``stream_bnodes`` the pairs of ``stream``'s blocks whose objects are blank
    nodes. The nodes of ``rest`` are sorted in memory and merged with the
    stream's by ``@id``.

    Raises:
        NotPlain: rdflib must make the nodes itself, or the stream's ``@id`` do
        not come in order (some pieces may have been given already).
    """
    everything = dict(rest)
    iri, head = header
    everything[iri] = [*everything.get(iri, []), *head]
    view = dict(everything)
    for s, pairs in stream_bnodes.items():
        view.setdefault(s, pairs)
    if any(s[0] == "_" for s in everything) and not _reachable_blank_nodes(view):
        raise NotPlain("a blank node only other blank nodes lead to")
    maker = Nodes(prefixes, limit)
    # the nodes held, in the order they go out: headers first, then by @id (a bare blank node: no subject)
    order: dict[str, tuple[bool, str | None]] = {}
    for s, pairs in everything.items():
        if pairs:
            node_id = maker.node_id(s)
            if node_id in order:  # two subjects, one compact name: rdflib keeps one
                raise NotPlain(s)
            order[node_id] = (not maker.typed_export(pairs), s)
    for b in sorted({o for pairs in view.values() for p, o in pairs if o[0] == "_" and p != NT_TYPE}):
        if not everything.get(b) and b not in order:
            order[b] = (True, None)
    held = sorted(order.items(), key=lambda item: (item[1][0], item[0]))

    def text(s: str | None, node_id: str) -> str:
        return node_text(canonical(maker.node(s, everything[s]) if s is not None else {"@id": node_id}))

    def texts() -> Iterator[str]:
        j = 0
        while j < len(held) and not held[j][1][0]:  # the headers
            yield text(held[j][1][1], held[j][0])
            j += 1
        last = ""
        for s, pairs in stream:
            if not pairs:
                continue
            node = maker.node(s, pairs)
            node_id = str(node["@id"])
            if node_id <= last or node_id in order or s[0] != "<" or is_header(node):
                raise NotPlain(s)
            last = node_id
            while j < len(held) and held[j][0] < node_id:
                yield text(held[j][1][1], held[j][0])
                j += 1
            yield node_text(canonical(node))
        for node_id, (_, subject) in held[j:]:
            yield text(subject, node_id)

    yield from document(dict(prefixes), texts())


def _reachable_blank_nodes(blocks: Graph) -> bool:
    """Whether rdflib's JSON-LD serialiser reaches every blank node: it starts
    from the IRIs and the blank nodes nothing points at, and follows objects."""
    referenced = {o for pairs in blocks.values() for _, o in pairs if o[0] == "_"}
    todo = [s for s, pairs in blocks.items() if pairs and (s[0] == "<" or s not in referenced)]
    seen = set(todo)
    while todo:
        for _, o in blocks.get(todo.pop(), ()):
            if o[0] == "_" and o not in seen:
                seen.add(o)
                todo.append(o)
    return all(s in seen for s, pairs in blocks.items() if pairs)
