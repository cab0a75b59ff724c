"""Writing the export's blocks as JSON-LD: what rdflib's serialiser makes of them, sorted, in a fraction of its time.

:func:`jsonld_nodes` builds the node objects with rdflib's own rules for
each distinct term; what those rules treat specially goes through rdflib's
serialiser itself (:func:`write_jsonld`). Blocks are as in
:mod:`cfkb.io.exportwrite`.
"""

from __future__ import annotations

import json

from cfkb.io.exportgraph import Graph, Pairs
from cfkb.io.exportwrite import write_nt
from cfkb.io.tlp import NT_TYPE
from cfkb.model.vocabulary import RDF


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

    def canon(value: object) -> object:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((canon(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
        return value

    nodes = [{k: canon(v) for k, v in n.items()} for n in nodes]

    def is_header(n: dict[str, object]) -> bool:
        types = n.get("@type", [])
        return "cfkb:Export" in (types if isinstance(types, list) else [types])

    nodes.sort(key=lambda n: (not is_header(n), str(n.get("@id", ""))))
    return json.dumps({"@context": context, "@graph": nodes}, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class _NotPlain(Exception):
    """The graph has something rdflib's JSON-LD serialiser treats specially."""


_RDF_LIST = (f"<{RDF.first.value}>", f"<{RDF.rest.value}>")


def jsonld_nodes(blocks: Graph, header: tuple[str, Pairs] | None,
                  prefixes: dict[str, str]) -> list[dict[str, object]] | None:
    """The JSON-LD node objects rdflib's serialiser makes of these blocks,
    compacted with the prefixes; None when rdflib must make them itself."""
    import rdflib
    from rdflib.plugins.serializers.jsonld import Converter
    from rdflib.plugins.shared.jsonld.context import Context

    ctx = Context(dict(prefixes))
    converter = Converter(ctx, False, False)
    empty = rdflib.Graph()
    # the subject the converter asks for is read only for blank-node objects, never passed here
    no_subject = rdflib.URIRef("urn:cfkb:none")
    # a predicate that is one of the context's own IRIs would be written as that term
    reserved = {f"<{ns}>" for ns in prefixes.values()} | set(_RDF_LIST)
    keys: dict[str, str] = {}
    values: dict[str, object] = {}

    def key_of(p: str) -> str:
        found = keys.get(p)
        if found is None:
            if p in reserved:
                raise _NotPlain(p)
            found = keys[p] = str(ctx.to_symbol(p[1:-1]))
        return found

    def value_of(o: str) -> object:
        found = values.get(o, values)
        if found is not values:
            return found
        if o[0] == "<":
            found = converter.to_raw_value(empty, no_subject, rdflib.URIRef(o[1:-1]), {})
        elif o[0] == "_":  # a node of its own, named by its label
            found = {"@id": o}
            if not everything.get(o):
                dangling.add(o)
        elif o[0] == '"':
            end = o.rindex('"')
            lex, rest = o[1:end], o[end + 1:]
            if "\\" not in lex and (not rest or (rest[0] == "@" and rest == rest.lower())):
                found = {"@language": rest[1:], "@value": lex} if rest else lex  # what rdflib makes of it
            else:  # escapes, datatypes: rdflib's own parse and conversion
                lit = next(iter(rdflib.Graph().parse(data=f"<urn:x:s> <urn:x:p> {o} .\n", format="nt")))[2]
                assert isinstance(lit, rdflib.Literal)  # the object of that one line
                found = converter.to_raw_value(empty, no_subject, lit, {})
        else:
            raise _NotPlain(o)
        values[o] = found
        return found

    everything = dict(blocks)
    if header:
        everything[header[0]] = [*everything.get(header[0], []), *header[1]]
    nodes: dict[str, dict[str, object]] = {}
    dangling: set[str] = set()  # blank nodes with no triple of their own: rdflib gives each a bare node
    try:
        for s, pairs in everything.items():
            if not pairs:
                continue
            if s[0] not in "<_":
                raise _NotPlain(s)
            node_id = ctx.shrink_iri(s[1:-1]) if s[0] == "<" else s
            if node_id in nodes:  # two subjects, one compact name: rdflib keeps one
                raise _NotPlain(s)
            node: dict[str, object] = {"@id": node_id}
            value: object
            for p, o in set(pairs):
                if p == NT_TYPE:
                    if o[0] != "<":
                        raise _NotPlain(o)
                    key, value = "@type", keys.get(o) or key_of(o)
                else:
                    key, value = keys.get(p) or key_of(p), value_of(o)
                # rdflib's Converter.add_to_node, but for the case where it
                # drops values (several, one of them false, 0 or "")
                old = node.get(key)
                if old is None:
                    node[key] = value
                elif not old or not value:
                    raise _NotPlain(s)
                elif isinstance(old, list):
                    old.append(value)
                else:
                    node[key] = [old, value]
            nodes[node_id] = node
        if any(s[0] == "_" for s in everything) and not _reachable_blank_nodes(everything):
            raise _NotPlain("a blank node only other blank nodes lead to")
        for b in dangling - nodes.keys():
            nodes[b] = {"@id": b}
    except _NotPlain:
        return None
    return list(nodes.values())


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
