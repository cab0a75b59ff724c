"""What every import records and reports, planned whole or in chunks.

The files given, the report, the import batch's IRI and PROV record, the text
form of new claims and the one way problems are raised: shared by the import
(:mod:`cfkb.io.importer`) and its chunked form (:mod:`cfkb.io.importstream`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import InputError, ProblemsError, ShapeError
from cfkb.model.terms import analyst_iri, partner_iri
from cfkb.model.vocabulary import BATCH_PREFIX, CFKB, DCT, PROV, RDF, RDFS, XSD, ClaimText, content_hash
from cfkb.version import __version__

#: Called with the number of input lines just processed.
Progress = Callable[[int], None]


@dataclass
class InputFile:
    """One file to import: its name (for messages), bytes and format (None: guess).

    ``own`` marks quads cfkb made itself (a partner import's gradings): only
    those may write the base's own records. Files from outside never are.
    """

    name: str
    data: bytes
    format: str | None = None
    own: bool = False

    @property
    def lines(self) -> int:
        """Lines in the file (the unit of import progress)."""
        return self.data.count(b"\n") + (0 if self.data.endswith(b"\n") else 1)


@dataclass
class ImportReport:
    """What an import did."""

    batch: str
    files: list[str]
    claims_added: list[str] = field(default_factory=list)
    claims_present: list[str] = field(default_factory=list)
    entities_created: list[tuple[str, str, str]] = field(default_factory=list)
    other_triples: int = 0
    #: names taken as transliteration variants: (cell text, IRI, how)
    name_variants: list[tuple[str, str, str]] = field(default_factory=list)
    #: open conflicts the import added (None: not counted)
    new_conflicts: int | None = None
    #: records of the sending base the files carried and the base did not store, by kind
    left_out: dict[str, int] = field(default_factory=dict)


def now() -> dt.datetime:
    """The time an import records (UTC, whole seconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def batch_iri(when: dt.datetime, analyst: str, files: Sequence[InputFile]) -> ox.NamedNode:
    """The import batch's IRI: a hash of when, who and the files' bytes."""
    return ox.NamedNode(BATCH_PREFIX + content_hash(when.isoformat(), analyst,
                                                    *(hashlib.sha256(f.data).hexdigest() for f in files)))


def claim_text(batch: ox.NamedNode, analyst: str, when: dt.datetime) -> ClaimText:
    """New claims as N-Quads text, each with its record of the batch."""
    return ClaimText(tail=[(CFKB.recordedAt, _lit(when.isoformat(), XSD.dateTime)),
                           (CFKB.recordedBy, ox.Literal(analyst)), (PROV.wasGeneratedBy, batch)])


def _lit(value: str, datatype: ox.NamedNode | None = None) -> ox.Literal:
    return ox.Literal(value, datatype=datatype) if datatype else ox.Literal(value)


def _problem_key(exc: InputError) -> tuple[str, int, int, str]:
    path = getattr(exc, "path", None)
    return (path or "~", getattr(exc, "line", None) or 0, getattr(exc, "column", None) or 0, str(exc))


def raise_problems(problems: Sequence[InputError]) -> None:
    """Raise the problems found, if any: one alone as itself, several as one
    :class:`~cfkb.errors.ProblemsError` listing each, in file order."""
    lines: list[tuple[tuple[str, int, int, str], str]] = []
    count = 0
    for exc in problems:
        details = getattr(exc, "details", None)
        if isinstance(exc, (ShapeError, ProblemsError)) and details:
            extra = getattr(exc, "count", len(details))
            count += max(extra, len(details))
            lines += [((exc.path or "~", 0, 0, d), d) for d in details] if isinstance(exc, ShapeError) \
                else [((d.split(":", 1)[0], 0, 0, d), d) for d in details]
        else:
            count += 1
            lines.append((_problem_key(exc), str(exc)))
    if not lines:
        return
    if len(problems) == 1 and (count == 1 or isinstance(problems[0], (ShapeError, ProblemsError))):
        raise problems[0]
    lines.sort(key=lambda x: _line_order(x[1], x[0]))
    raise ProblemsError([text for _, text in lines], count)


def _line_order(text: str, key: tuple[str, int, int, str]) -> tuple[str, int, int, str]:
    """Order problem lines by file, line and column (read from ``file:line:column: ...``)."""
    m = re.match(r"^(.*?):(\d+)(?::(\d+))?: ", text)
    if m:
        return (m.group(1), int(m.group(2)), int(m.group(3) or 0), text)
    return key


def batch_quads(batch: ox.NamedNode, files: Sequence[InputFile], analyst: str, when: dt.datetime,
                partner: str | None = None) -> list[ox.Quad]:
    """The batch's own record: when, by whom, from which partner, which files."""
    agent = analyst_iri(analyst)
    quads = [
        ox.Quad(batch, RDF.type, CFKB.ImportBatch),
        ox.Quad(batch, PROV.startedAtTime, _lit(when.isoformat(), XSD.dateTime)),
        ox.Quad(batch, PROV.wasAssociatedWith, agent),
        ox.Quad(batch, CFKB.softwareVersion, ox.Literal(f"cfkb {__version__}")),
        ox.Quad(agent, RDF.type, PROV.Person),
        ox.Quad(agent, RDFS.label, ox.Literal(analyst)),
    ]
    if partner:
        org = partner_iri(partner)
        quads += [ox.Quad(batch, CFKB.fromPartner, org), ox.Quad(org, RDF.type, PROV.Organization),
                  ox.Quad(org, RDFS.label, ox.Literal(partner))]
    for i, f in enumerate(files, 1):
        node = ox.NamedNode(f"{batch.value}/file/{i}")
        quads += [
            ox.Quad(batch, PROV.used, node),
            ox.Quad(node, DCT.title, ox.Literal(f.name)),
            ox.Quad(node, CFKB.sha256, ox.Literal(hashlib.sha256(f.data).hexdigest())),
        ]
    return quads
