"""What an export is asked for (:class:`ExportOptions`) and what it gives back (:class:`ExportResult`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cfkb.io.tlp import DEFAULT_CEILING

FORMATS = ("turtle", "trig", "jsonld", "nt", "nq")
PROFILES = ("nanopub",)
#: The licence an export carries unless told otherwise: the TLP 2.0 rules.
TLP_LICENSE = "https://www.first.org/tlp/"


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how.

    Names (``entity``, ``area``, ``source``) may be any label, alias, CURIE or
    IRI the base knows. ``when`` is the export time written in the header
    (default: now); pass it to get the same bytes twice.
    """

    format: str = "turtle"
    ceiling: str = DEFAULT_CEILING
    entity: str | None = None
    area: str | None = None
    source: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    conflicts_only: bool = False
    accepted_view: bool = False
    profile: str | None = None
    when: dt.datetime | None = None
    exporter: str | None = None
    license: str = TLP_LICENSE

    @property
    def subset(self) -> bool:
        return bool(self.entity or self.area or self.source or self.since or self.until
                    or self.conflicts_only or self.accepted_view)


@dataclass
class ExportResult:
    """The exported text and what went into it."""

    text: str
    iri: str
    claims: int
    withheld: int
    ceiling: str
    triples: int = 0
    filters: dict[str, str] = field(default_factory=dict)
