"""The claim table's rows as read out of the graph.

Each statement's fields are read as facts, (statement IRI, field, value):
one index scan per field for a whole table (:meth:`Facts.all`), one lookup
per statement for a write's upkeep (:meth:`Facts.of`). A value the SQL rules
could not read as the SPARQL rules do (a literal where an IRI belongs, a
date that is no ``xsd:date``) is left out and the facts marked irregular.
The facts go into DuckDB's ``facts`` table (:func:`read_lines`,
:func:`read_tsv`), are checked there for fields with two values
(:data:`SEVERAL`) and pivoted into ``claims`` rows (:data:`PIVOT`).
:func:`small_tables` reads the other two tables the rules join: the
predicate kinds and the overlapping areas.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from cfkb.engine.common import TEXTS, tell, texts
from cfkb.model.vocabulary import CFKB_NS, PROV_NS, RDF_NS, XSD_NS

if TYPE_CHECKING:  # the facts are read without DuckDB; only their loading needs it
    import duckdb

_IRI, _BOOL, _DATE, _TEXT = "iri", "bool", "date", "text"
#: predicate IRI -> (column, kind of value)
FIELDS: dict[str, tuple[str, str]] = {
    RDF_NS + "subject": ("s", _IRI),
    RDF_NS + "predicate": ("p", _IRI),
    RDF_NS + "object": ("o", _IRI),
    CFKB_NS + "negated": ("neg", _BOOL),
    PROV_NS + "wasAttributedTo": ("who", _IRI),
    CFKB_NS + "statedIn": ("outlet", _TEXT),
    CFKB_NS + "citedIn": ("cited", _TEXT),
    CFKB_NS + "statedOn": ("date", _DATE),
    CFKB_NS + "inArea": ("area", _IRI),
    CFKB_NS + "election": ("election", _IRI),
    CFKB_NS + "modality": ("modality", _TEXT),
    CFKB_NS + "recordedAt": ("recorded", _TEXT),
    PROV_NS + "wasGeneratedBy": ("batch", _TEXT),
}
#: the fields the rules read: one value each on a regular table (and the outlet,
#: which the conflict filters read)
RULE_FIELDS = ("s", "p", "o", "neg", "who", "date", "area", "election")
KIND_CLASSES = (CFKB_NS + "FunctionalPerContext", CFKB_NS + "ParticipationImplying",
                CFKB_NS + "ParticipationPropagating")
NO_INDICATION = CFKB_NS + "NoIndication"
TYPE = ox.NamedNode(RDF_NS + "type")
CLAIM = ox.NamedNode(CFKB_NS + "Claim")
INCLUDES = ox.NamedNode(CFKB_NS + "includes")
SUBJECT = ox.NamedNode(RDF_NS + "subject")
_BOOLEAN, _XSD_DATE = XSD_NS + "boolean", XSD_NS + "date"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

#: the facts pivoted into rows: one per statement that has a subject or is a claim
PIVOT = """
INSERT INTO claims
SELECT iri, bool_or(f = 'claim'),
       any_value(v) FILTER (WHERE f = 's'), any_value(v) FILTER (WHERE f = 'p'),
       any_value(v) FILTER (WHERE f = 'o'), (any_value(v) FILTER (WHERE f = 'neg')) = 'true',
       any_value(v) FILTER (WHERE f = 'who'), any_value(v) FILTER (WHERE f = 'outlet'),
       any_value(v) FILTER (WHERE f = 'cited'), any_value(v) FILTER (WHERE f = 'date'),
       any_value(v) FILTER (WHERE f = 'area'), any_value(v) FILTER (WHERE f = 'election'),
       min(v) FILTER (WHERE f = 'modality'), bool_or(f = 'noind'),
       any_value(v) FILTER (WHERE f = 'recorded'), any_value(v) FILTER (WHERE f = 'batch')
FROM facts GROUP BY iri HAVING bool_or(f = 's') OR bool_or(f = 'claim')
"""

#: statements (among those in facts) with two values of a field the rules read
SEVERAL = f"""
SELECT count(*) FROM (
    SELECT iri, f FROM facts WHERE f IN ({", ".join(f"'{f}'" for f in (*RULE_FIELDS, "outlet"))})
    GROUP BY iri, f HAVING count(DISTINCT v) > 1)
"""


class Irregular(Exception):
    """A value the SQL rules cannot read as the SPARQL rules do."""


def _fact(column: str, kind: str, term: Any) -> str:
    if kind == _IRI:
        if not isinstance(term, ox.NamedNode):
            raise Irregular(column)
        return term.value
    if kind == _BOOL:
        if not (isinstance(term, ox.Literal) and term.datatype.value == _BOOLEAN and term.value in ("true", "false")):
            raise Irregular(column)
        return term.value
    if kind == _DATE:
        if not (isinstance(term, ox.Literal) and term.datatype.value == _XSD_DATE and _DAY.fullmatch(term.value)):
            raise Irregular(column)
        return term.value
    return str(term.value)


_SAFE = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


class Facts:
    """(statement IRI, field, value) rows read from the graph, as lines of
    tab-separated text, noting irregular values.

    IRIs hold no whitespace (pyoxigraph checks), and the boolean and date
    values are checked, so only free text (an outlet or a modality given as
    a literal, a timestamp) needs its tabs and line breaks blanked.
    """

    def __init__(self) -> None:
        self.regular = True
        self.lines: list[str] = []

    def add(self, subject: Any, predicate: str, term: Any) -> None:
        """Note one quad's fact (``predicate`` is a field's or ``rdf:type``)."""
        if not isinstance(subject, ox.NamedNode):
            return
        if predicate == RDF_NS + "type":
            if term == CLAIM:
                self.lines.append(f"{subject.value}\tclaim\t1")
            return
        column, kind = FIELDS[predicate]
        try:
            value = _fact(column, kind, term)
        except Irregular:
            self.regular = False
            return
        if kind == _TEXT:
            value = value.translate(_SAFE)
        self.lines.append(f"{subject.value}\t{column}\t{value}")
        if column == "modality" and isinstance(term, ox.NamedNode) and term.value == NO_INDICATION:
            self.lines.append(f"{subject.value}\tnoind\t1")

    def flush(self, sink: Any) -> None:
        """Write the lines so far to ``sink`` (a text file) and let them go."""
        if self.lines:
            sink.write("\n".join(self.lines))
            sink.write("\n")
            self.lines.clear()

    def all(self, store: Any, sink: Any = None) -> list[str]:
        """Every field of every statement: one index scan per field. With
        ``sink``, each field's lines are written there as soon as it is read,
        so at most one field's lines are held at a time."""
        node, lines = ox.NamedNode, self.lines
        for q in store.quads_for_pattern(None, TYPE, CLAIM, None):
            if type(q.subject) is node:
                lines.append(f"{q.subject.value}\tclaim\t1")
        for predicate, (column, kind) in FIELDS.items():
            quads = store.quads_for_pattern(None, ox.NamedNode(predicate), None, None)
            if kind == _IRI:  # the common case, without a call per quad
                for q in quads:
                    s, o = q.subject, q.object
                    if type(s) is node:
                        if type(o) is node:
                            lines.append(f"{s.value}\t{column}\t{o.value}")
                        else:
                            self.regular = False
            else:
                for q in quads:
                    self.add(q.subject, predicate, q.object)
            if sink is not None:
                self.flush(sink)
                tell(list(FIELDS).index(predicate) + 1, len(FIELDS) + 1)
        return lines

    def of(self, store: Any, subjects: Iterable[str]) -> list[str]:
        """The fields of some statements: one lookup each."""
        for iri in subjects:
            for q in store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
                p = q.predicate.value
                if p in FIELDS or p == RDF_NS + "type":
                    self.add(q.subject, p, q.object)
        return self.lines


def written_facts(added: dict[str, list[ox.Quad]], reread: set[str]) -> Facts:
    """The table's fields of the statements a write made whole, from the
    write's own quads; a statement not in ``reread`` and not whole (no
    ``rdf:subject`` in the write) joins ``reread``, to be read from the graph."""
    facts = Facts()
    whole: list[ox.Quad] = []
    for iri, quads in added.items():
        if iri in reread:
            continue
        if not any(q.predicate == SUBJECT for q in quads):
            reread.add(iri)  # not a whole statement: what else it has is in the graph
            continue
        whole += quads
    # the quads go through an in-memory store first, which writes each literal as the
    # graph holds it (a timestamp's "+00:00" as "Z"); in their graphs, as the graph
    # holds them, and all at once (the fields are picked by predicate when read)
    written = ox.Store()
    written.extend(whole)
    facts.all(written)
    return facts


#: the claim table's columns, in order (:data:`PIVOT`)
COLUMNS = ("iri", "is_claim", "s", "p", "o", "neg", "who", "outlet", "cited", "date", "area", "election",
           "modality", "noind", "recorded", "batch")
_ONE = ("s", "p", "o", "who", "outlet", "cited", "date", "area", "election", "recorded", "batch")


def rows(lines: Iterable[str]) -> tuple[list[tuple[Any, ...]], bool]:
    """The claim table's rows of some facts' lines, as :data:`PIVOT` makes
    them, and whether they are regular: no statement has two values of a
    field :data:`SEVERAL` counts (the rows then keep one of them)."""
    fields: dict[str, dict[str, set[str]]] = {}
    for line in lines:
        iri, field, v = line.split("\t", 2)
        fields.setdefault(iri, {}).setdefault(field, set()).add(v)
    out: list[tuple[Any, ...]] = []
    regular = True
    counted = (*RULE_FIELDS, "outlet")
    for iri, f in fields.items():
        if any(len(f.get(c, ())) > 1 for c in counted):
            regular = False
        if "s" not in f and "claim" not in f:
            continue
        one = {c: min(f[c]) if c in f else None for c in _ONE}
        neg = min(f["neg"]) == "true" if "neg" in f else None
        out.append((iri, "claim" in f, one["s"], one["p"], one["o"], neg, one["who"], one["outlet"], one["cited"],
                    one["date"], one["area"], one["election"], min(f["modality"]) if "modality" in f else None,
                    "noind" in f, one["recorded"], one["batch"]))
    return out, regular


_FACT_COLUMNS = "{'iri': 'VARCHAR', 'f': 'VARCHAR', 'v': 'VARCHAR'}"
_COLUMNS = {"facts": _FACT_COLUMNS, "batch_facts": _FACT_COLUMNS, "touched": "{'iri': 'VARCHAR'}",
            "batch_subjects": "{'iri': 'VARCHAR', 'whole': 'BOOLEAN'}",
            "batch_marks": "{'subject': 'VARCHAR', 'c': 'VARCHAR', 'v': 'VARCHAR'}"}


def read_tsv(con: duckdb.DuckDBPyConnection, table: str, path: str) -> None:
    """Append a tab-separated file to ``table``, read exactly as written: no
    guessing of the dialect, no quotes, no comments (IRIs hold '#')."""
    con.execute(f"INSERT INTO {table} SELECT * FROM read_csv(?, header = false, auto_detect = false,"
                " delim = '\t', quote = '', escape = '', comment = '',"
                f" columns = {_COLUMNS[table]})", [path])


#: fewer lines than this go in as query parameters; more through a file (DuckDB's fastest way in)
_FEW_LINES = 2_000


def read_lines(con: duckdb.DuckDBPyConnection, table: str, lines: Iterable[str], workdir: str | None) -> None:
    """Add tab-separated lines to ``table``."""
    lines = list(lines)
    if len(lines) < _FEW_LINES:
        columns = list(zip(*(line.split("\t") for line in lines), strict=True)) if lines else []
        if columns:
            con.execute(f"INSERT INTO {table} SELECT {', '.join(TEXTS for _ in columns)}",
                        [texts(c) for c in columns])
        return
    fd, tmp = tempfile.mkstemp(prefix=f".cfkb-{table}-", suffix=".tsv", dir=workdir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write("\n".join(lines))
            out.write("\n")
        read_tsv(con, table, tmp)
    finally:
        os.unlink(tmp)


def load_facts(con: duckdb.DuckDBPyConnection, lines: list[str], workdir: str | None) -> None:
    """Fill ``facts`` from tab-separated lines."""
    con.execute("DELETE FROM facts")
    if lines:
        read_lines(con, "facts", lines, workdir)


def small_tables(con: duckdb.DuckDBPyConnection, store: Any) -> None:
    """The predicate kinds and the area overlaps, from the graph."""
    con.execute("DELETE FROM kinds")
    con.execute("DELETE FROM area_overlap")
    kinds = sorted({(q.subject.value, k) for k in KIND_CLASSES
                    for q in store.quads_for_pattern(None, TYPE, ox.NamedNode(k), None)
                    if isinstance(q.subject, ox.NamedNode)})
    if kinds:
        con.executemany("INSERT INTO kinds VALUES (?, ?)", kinds)
    below: dict[str, set[str]] = {}
    for q in store.quads_for_pattern(None, INCLUDES, None, None):
        below.setdefault(str(q.subject) if not isinstance(q.subject, ox.NamedNode) else q.subject.value,
                         set()).add(str(q.object) if not isinstance(q.object, ox.NamedNode) else q.object.value)
    down: dict[str, set[str]] = {}
    for area in below:  # everything an area includes, transitively, and itself
        seen, todo = {area}, list(below[area])
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(below.get(x, ()))
        down[area] = seen
    for children in list(below.values()):
        for x in children:
            down.setdefault(x, {x} | set())
    pairs = sorted((a, b) for a in down for b in down if a != b and down[a] & down[b])
    if pairs:
        con.executemany("INSERT INTO area_overlap VALUES (?, ?)", pairs)
