"""A shared SPARQL server as the store: the SPARQL 1.1 Protocol client.

:class:`RemoteStore` satisfies :class:`cfkb.store.backend.Backend`, so a
:class:`~cfkb.store.core.KnowledgeBase` runs every command against a server as it
does against the embedded store. It speaks the standards only:

* queries: `SPARQL 1.1 Protocol <https://www.w3.org/TR/sparql11-protocol/>`_,
  ``POST`` form-encoded to the query endpoint; results as SPARQL Results JSON
  (SELECT, ASK) or N-Triples (CONSTRUCT, DESCRIBE), parsed by pyoxigraph into
  the same objects :meth:`pyoxigraph.Store.query` returns;
* writes: one request per call, which the server applies in one
  transaction: a SPARQL Update (``INSERT DATA`` / ``DELETE DATA``) for small
  changes, and for large additions one ``POST`` of N-Quads to the Graph
  Store Protocol endpoint (see :meth:`RemoteStore.extend`).

The default endpoints are Oxigraph server's ``/query``, ``/update`` and
``/store``; other servers take their own (``RemoteSettings``).

**Bound values.** :meth:`RemoteStore.query` accepts pyoxigraph's
``substitutions``. They travel as a ``VALUES`` block whose terms pyoxigraph
serialises (escaped N-Triples syntax), never as pasted text. The block opens
the query's top-level ``WHERE`` group (or trails the query when it has none,
as in ``CONSTRUCT WHERE`` or ``DESCRIBE <iri>``), so the value is joined
with everything in that group: its triple patterns, ``FILTER``s,
``OPTIONAL``s, ``EXISTS`` and aggregates see it, as with SEP-0007
substitution. It differs from substitution in one case: a ``FILTER``
inside a nested group, ``UNION`` branch, ``MINUS`` or subquery that uses
the variable without binding it does not see the value. cfkb's queries
never do that; a test runs every named query on both backends.

**The union of graphs.** cfkb keeps the ontology in a named graph and asks
for the union of all graphs as the default graph. Oxigraph takes that as the
``union-default-graph`` request parameter. For other servers, name the
graphs to merge in ``union_graphs`` (sent as the standard
``default-graph-uri``; e.g. Fuseki ``urn:x-arq:DefaultGraph`` plus the
ontology graph, GraphDB ``http://www.openrdf.org/schema/sesame#nil`` plus the
ontology graph). Virtuoso queries the union by default; give it
``union_graphs = []``.

**No partial import is ever visible.** A large addition is not staged in
named graphs of the dataset: every read asks for the union of graphs (or the
graphs named in ``union_graphs``), so a staging graph would be read as data
while it fills, and after a crash until it is cleaned up. An explicit
dataset that leaves staging out cannot be stated portably either: the SPARQL
1.1 Protocol's ``default-graph-uri`` names graphs by IRI, and Oxigraph has no
IRI for its default graph, where cfkb keeps its data. So the whole addition
travels as one request that the server applies in one transaction: the
uncommitted transaction is the staging area, and no read sees it. Oxigraph
(``POST /store``, without ``no_transaction``) and Fuseki (``POST`` of quads to
the dataset, TDB2) load such a request in one transaction. (Posting quads to
the dataset is an extension of the Graph Store Protocol that both implement;
the standard ``?default`` / ``?graph=`` forms take one graph per request, and
a batch spans several: the data and the state graph.) A body cut short (the
client killed) ends before its ``Content-Length`` and is rolled back, and a
server killed mid-load never committed. For a server without a store endpoint
(``store=""``) it is one ``INSERT DATA`` (a standard SPARQL 1.1 Update),
however big. Graphs named ``urn:cfkb:staging:...``, left by earlier versions
of cfkb that staged, are dropped when a base is opened (:meth:`RemoteStore.drop_staging`).

**Security.** Plain ``http`` is refused except to a loopback address;
credentials come from the environment or a config file
(:mod:`cfkb.store.remotesettings`), never from the URL or the command line,
and redirects are not followed (:mod:`cfkb.store.remotehttp`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO, Protocol
from urllib.parse import urlencode

import pyoxigraph as ox

from cfkb.errors import (
    QueryError,
    RemoteError,
    StoreError,
)
from cfkb.store.backend import GraphName, Object, QueryResult, Subject, Term
from cfkb.store.owntexts import own_query
from cfkb.store.remotehttp import Auth, HttpClient, check_url
from cfkb.store.sparqltext import bind_many, bind_values, filter_in
from cfkb.store.updatetext import CLEAR_DEFAULT, DROP_ALL, drop_graphs, insert_data

#: Named graphs whose IRI starts with this held additions being staged (cfkb 0.x before
#: additions went as one request); any left on a server are dropped when a base is opened.
STAGING_PREFIX = "urn:cfkb:staging:"
#: Additions whose N-Quads text is larger than this go as one Graph Store ``POST``, not
#: ``INSERT DATA``: Oxigraph server reads at most 1 MiB of a SPARQL update.
POST_ABOVE = 512 * 1024
#: How many subjects one :meth:`RemoteStore.quads_for_subjects` request names (the
#: query text stays well under the servers' request limits).
SUBJECTS_PER_QUERY = 500
_RESULTS_JSON = "application/sparql-results+json"
_ACCEPT = f"{_RESULTS_JSON}, application/n-triples;q=0.9, text/turtle;q=0.8"


# -- query text -----------------------------------------------------------------------

def _prologue(base_iri: str | None, prefixes: Mapping[str, str] | None) -> str:
    lines = [f"BASE {ox.NamedNode(base_iri)}"] if base_iri else []
    for prefix, ns in (prefixes or {}).items():
        if not re.fullmatch(r"[A-Za-z][\w\-.]*|", prefix):
            raise QueryError(f"{prefix!r} is not a SPARQL prefix name")
        lines.append(f"PREFIX {prefix}: {ox.NamedNode(ns)}")
    return "".join(line + "\n" for line in lines)


# -- the client --------------------------------------------------------------------

class SupportsWrite(Protocol):
    """Where :meth:`RemoteStore.dump` can write: a binary file, or any object with ``write``."""

    def write(self, data: bytes, /) -> object: ...


class RemoteStore:
    """A SPARQL 1.1 server, used like :class:`pyoxigraph.Store`.

    One HTTP client per store keeps its connections open between requests
    (keep-alive); :meth:`close` (or leaving a ``with`` block, or dropping the
    last reference) closes them.

    Args:
        url: the server's base URL; the endpoints default to ``URL/query``,
            ``URL/update`` and ``URL/store`` (Oxigraph server).
        auth: ``(user, password)`` for HTTP Basic, or a Bearer token.
        timeout: seconds to wait for the server to answer a request.
        query_url, update_url, store_url: the endpoints, if not the defaults;
            ``store_url=""``: the server has no Graph Store Protocol.
        union_graphs: how to ask for the union of graphs (module docs).
        read_only: refuse every write locally.
        post_above: additions whose N-Quads text is longer than this many
            bytes go as one Graph Store ``POST`` (when there is a store endpoint).

    Raises:
        InputError: a URL is not https and not loopback.
    """

    def __init__(self, url: str, *, auth: Auth | None = None, timeout: float = 60.0, query_url: str | None = None,
                 update_url: str | None = None, store_url: str | None = None,
                 union_graphs: Sequence[str] | None = None, cafile: str | None = None, read_only: bool = False,
                 post_above: int = POST_ABOVE) -> None:
        self.url = check_url(url)
        self._query = check_url(query_url or self.url + "/query")
        self._update = check_url(update_url or self.url + "/update")
        self._store = check_url(store_url or self.url + "/store") if store_url != "" else None
        self.timeout = timeout
        self.union_graphs = tuple(union_graphs) if union_graphs is not None else None
        self.read_only = read_only
        self.post_above = post_above
        self._http = HttpClient(self.url, (self._query, self._update, self._store), auth=auth, timeout=timeout,
                                cafile=cafile)

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"

    def close(self) -> None:
        """Close the connections to the server."""
        self._http.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------

    def query(self, query: str, *, base_iri: str | None = None, prefixes: dict[str, str] | None = None,
              use_default_graph_as_union: bool = False,
              substitutions: dict[ox.Variable, Term] | None = None) -> QueryResult:
        """Run a query on the server; the result as :meth:`pyoxigraph.Store.query` gives it.

        Raises:
            SyntaxError: the server rejected the query.
            RemoteError: the server failed or could not be reached.
        """
        text = _prologue(base_iri, prefixes) + (bind_values(query, substitutions) if substitutions else query)
        form: list[tuple[str, str]] = [("query", text)]
        if use_default_graph_as_union:
            if self.union_graphs is None:
                form.append(("union-default-graph", ""))
            else:
                form += [("default-graph-uri", g) for g in self.union_graphs]
        media, data = self._http.post(self._query, urlencode(form).encode("utf-8"),
                                    content_type="application/x-www-form-urlencoded", accept=_ACCEPT)
        if media in (_RESULTS_JSON, "application/json"):
            return ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
        rdf_format = ox.RdfFormat.from_media_type(media) if media else None
        if rdf_format is None:
            raise RemoteError(f"{self._query} answered with {media or 'no media type'},"
                              " not SPARQL results JSON or N-Triples")
        # a genuine QueryTriples, so callers cannot tell the backends apart
        scratch = ox.Store()
        try:
            scratch.extend(ox.parse(data, format=rdf_format))
        except SyntaxError as exc:
            raise RemoteError(f"{self._query} sent RDF that does not parse: {exc}") from None
        return scratch.query(own_query("remote_scratch_triples"))

    def _select(self, query: str, substitutions: dict[ox.Variable, Term] | None = None) -> ox.QuerySolutions:
        result = self.query(query, substitutions=substitutions)
        assert isinstance(result, ox.QuerySolutions)
        return result

    def quads_for_pattern(self, subject: Subject | None, predicate: ox.NamedNode | None, object: Object | None,
                          graph_name: GraphName | None = None) -> Iterator[ox.Quad]:
        """The matching quads, as :meth:`pyoxigraph.Store.quads_for_pattern` (old staging graphs left out)."""
        bound: dict[ox.Variable, Term] = {}
        for name, term in (("s", subject), ("p", predicate), ("o", object)):
            if term is not None:
                bound[ox.Variable(name)] = term
        if graph_name is None:
            text = own_query("remote_quads_all")
        elif isinstance(graph_name, ox.DefaultGraph):
            text = own_query("remote_quads_default")
        else:
            text = own_query("remote_quads_named")
            bound[ox.Variable("g")] = graph_name
        rows = self._select(text, bound or None)
        for row in rows:
            yield ox.Quad(row["s"], row["p"], row["o"], row["g"] if row["g"] is not None else ox.DefaultGraph())

    def quads_for_subjects(self, subjects: Iterable[ox.NamedNode], predicates: Iterable[ox.NamedNode] | None = None,
                           *, batch: int = SUBJECTS_PER_QUERY) -> Iterator[ox.Quad]:
        """Every quad of each of ``subjects`` (in any graph, as :meth:`quads_for_pattern`
        with a subject), in one request per ``batch`` subjects rather than one each.

        ``predicates`` keeps only quads with one of these predicates. Subjects
        and predicates travel as a ``VALUES`` block of terms pyoxigraph writes,
        never as pasted text.
        """
        wanted = sorted(set(subjects), key=lambda t: t.value)
        text = own_query("remote_quads_all")
        if predicates is not None:
            # the predicates as a FILTER, not a second VALUES block: Oxigraph plans that one as a
            # scan of each predicate (38 s for 500 claims at 100k, against 0.2 s)
            text = filter_in(text, ox.Variable("p"),
                             [ox.NamedNode(p.value) for p in sorted(set(predicates), key=str)])
        for start in range(0, len(wanted), batch):
            rows = self._select(bind_many(text, ox.Variable("s"),
                                          [ox.NamedNode(s.value) for s in wanted[start:start + batch]]))
            for row in rows:
                yield ox.Quad(row["s"], row["p"], row["o"], row["g"] if row["g"] is not None else ox.DefaultGraph())

    def named_graphs(self) -> Iterator[ox.NamedNode | ox.BlankNode]:
        """The names of the graphs that hold quads (staging graphs of an earlier cfkb left out)."""
        for row in self._select(own_query("remote_named_graphs")):
            g = row["g"]
            if not (isinstance(g, ox.NamedNode) and g.value.startswith(STAGING_PREFIX)):
                yield g

    def dump(self, output: SupportsWrite | None = None, format: ox.RdfFormat | None = None, *,
             from_graph: GraphName | None = None) -> bytes | None:
        """One graph serialised (default graph unless ``from_graph``), as :meth:`pyoxigraph.Store.dump`:
        written to ``output`` (anything with a ``write`` method) and None, or returned.

        Only a triple format: what the exporter uses.
        """
        if from_graph is None or isinstance(from_graph, ox.DefaultGraph):
            result = self.query(own_query("remote_dump_default"))
        else:
            result = self.query(own_query("remote_dump_graph"), substitutions={ox.Variable("g"): from_graph})
        assert isinstance(result, ox.QueryTriples)
        data = ox.serialize(list(result), format=format or ox.RdfFormat.N_TRIPLES)
        data = data if isinstance(data, bytes) else bytes(data or b"")
        if output is not None:
            output.write(data)
            return None
        return data

    def __iter__(self) -> Iterator[ox.Quad]:
        return self.quads_for_pattern(None, None, None, None)

    def contains_named_graph(self, graph_name: GraphName) -> bool:
        if isinstance(graph_name, ox.DefaultGraph):
            return True
        result = self.query(own_query("remote_has_graph"), substitutions={ox.Variable("g"): graph_name})
        return bool(result)

    def is_empty(self) -> bool:
        """Whether the server holds no quad in any graph."""
        return not bool(self.query(own_query("remote_any_quad")))

    # -- writing -----------------------------------------------------------------

    def update(self, update: str, *, base_iri: str | None = None, prefixes: dict[str, str] | None = None) -> None:
        """Run a SPARQL update in one request (one transaction on the server).

        Raises:
            SyntaxError: the server rejected the update; nothing changed.
            RemoteError: the server failed or could not be reached.
        """
        if self.read_only:
            raise StoreError(f"{self.url} is open read-only")
        self._send_update(_prologue(base_iri, prefixes) + update)

    def _send_update(self, text: str) -> None:
        self._http.post(self._update, text.encode("utf-8"), content_type="application/sparql-update", writes=True)

    def extend(self, quads: Iterable[ox.Quad]) -> None:
        """Add quads atomically, in one request.

        Up to ``post_above`` bytes of N-Quads go as one ``INSERT DATA``; more
        go as one N-Quads ``POST`` to the store endpoint, which the server
        loads in one transaction (module docs: no read sees any of it before
        all of it is in, and a request cut short by a crash leaves nothing).
        """
        quads = list(quads)
        if not quads:
            return
        if self.read_only:
            raise StoreError(f"{self.url} is open read-only")
        body = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
        data = body if isinstance(body, bytes) else bytes(body or b"")
        if self._store is None or len(data) <= self.post_above:
            del data
            self._send_update(insert_data(quads))
            return
        self._http.post(self._store, data, content_type="application/n-quads", writes=True)

    def staging_graphs(self) -> list[ox.NamedNode]:
        """Graphs named ``urn:cfkb:staging:...`` (left by an import of an earlier cfkb that staged)."""
        rows = self._select(own_query("remote_staging_graphs"))
        return [row["g"] for row in rows if isinstance(row["g"], ox.NamedNode)]

    def open_graphs(self) -> tuple[bool, list[ox.NamedNode]]:
        """What every open of a base asks, in one request: whether the ontology graph holds a
        quad (the server holds a cfkb base), and the staging graphs (:meth:`staging_graphs`)."""
        base, staging = False, []
        for row in self._select(own_query("remote_open_graphs")):
            if row["base"] is not None:
                base = True
            elif isinstance(row["g"], ox.NamedNode):
                staging.append(row["g"])
        return base, staging

    def drop_staging(self, stale: list[ox.NamedNode] | None = None) -> int:
        """Drop every staging graph, whatever its age; how many there were.

        cfkb no longer writes such graphs, so any found is an orphan of a
        killed import: a union read would count its quads as data. This is
        done even on a store opened read-only (it removes what is not data).
        ``stale``: the staging graphs, when they were just read (:meth:`open_graphs`).

        Raises:
            StoreError: there are staging graphs and the server refused to drop them.
        """
        if stale is None:
            stale = self.staging_graphs()
        if stale:
            try:
                self._send_update(drop_graphs(stale))
            except (StoreError, SyntaxError) as exc:
                raise StoreError(f"{self.url} holds {len(stale)} graph(s) of an unfinished import"
                                 f" ({STAGING_PREFIX}...) that could not be dropped ({exc}); open it once with"
                                 " an account that may write, so no read counts them as data") from None
        return len(stale)

    def load(self, input: bytes | str | IO[bytes] | IO[str] | None = None, format: ox.RdfFormat | None = None, *,
             path: str | None = None, base_iri: str | None = None, to_graph: GraphName | None = None,
             lenient: bool = False) -> None:
        """Parse RDF here and add it to the server, atomically (as :meth:`extend`)."""
        quads = ox.parse(input, format, path=path, base_iri=base_iri, lenient=lenient)
        if to_graph is not None:
            self.extend(ox.Quad(q.subject, q.predicate, q.object, to_graph) for q in quads)
        else:
            self.extend(quads)

    def remove_graph(self, graph_name: GraphName) -> None:
        if isinstance(graph_name, ox.DefaultGraph):
            self.update(CLEAR_DEFAULT)
        else:
            self.update(drop_graphs([graph_name]))

    def clear(self) -> None:
        """Remove every quad in every graph."""
        self.update(DROP_ALL)

    def flush(self) -> None:
        """Nothing to do: the server made each write durable before answering."""
