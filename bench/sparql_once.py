"""One plain SPARQL query over a server, in a fresh Python process: the shared-server figures' baseline.

    python -m bench.sparql_once URL [ENTITY_IRI]

Sends one SELECT (the claims about ENTITY_IRI, by default the first busy
group of ``bench.generate``: 855 claims, 74 kB of results) with ``httpx`` and parses the
SPARQL Results JSON with pyoxigraph, as cfkb's remote store does; prints how
many claims it read. Its process wall (interpreter, the two imports, one
round trip, the parse) is what ``cfkb --store URL conflicts`` is set against
in ``bench/README.md``.
"""

from __future__ import annotations

import sys

import httpx
import pyoxigraph as ox

QUERY = "SELECT ?c WHERE { ?c <http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> ?e }"


def main(argv: list[str]) -> int:
    url = argv[0].rstrip("/")
    entity = argv[1] if len(argv) > 1 else "https://w3id.org/cfkb/id/b/busy-0"
    text = QUERY.replace("?e", str(ox.NamedNode(entity)))  # an IRI of the bench's own, checked by NamedNode
    with httpx.Client(trust_env=False) as client:
        response = client.post(url + "/query", params={"union-default-graph": ""}, data={"query": text},
                               headers={"Accept": "application/sparql-results+json"})
    response.raise_for_status()
    rows = ox.parse_query_results(response.content, format=ox.QueryResultsFormat.JSON)
    assert isinstance(rows, ox.QuerySolutions)
    print(len({row["c"] for row in rows}), "claims")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
