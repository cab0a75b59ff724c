"""Claim predicates named by a word, IRIs minted from names, and the classes each role allows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import UnknownNameError
from cfkb.model.spelling import _APOSTROPHES, expand_curie
from cfkb.model.vocabulary import CFID_NS, CFKB_NS

#: Words analysts use for the vocabulary's predicates.
PREDICATE_SYNONYMS = {
    "partof": "memberOf",
    "member": "memberOf",
    "includedin": "memberOf",
    "belongsto": "memberOf",
    "runsunder": "runsAs",
    "runswith": "runsAs",
    "participates": "participatesIn",
    "takespartin": "participatesIn",
    "backs": "supports",
    "leader": "leads",
    "ledby": "leads",
    "wingof": "politicalWingOf",
    "alliedwith": "allianceWith",
    "ally": "allianceWith",
    "runsin": "contests",
    "rivalof": "competesWith",
}


def resolve_predicate(name: str, predicates: dict[str, str]) -> str:
    """The IRI of a claim predicate named by local name, CURIE or IRI.

    ``predicates`` maps local names to IRIs. Case is ignored; an unknown name
    is an error suggesting the closest predicate.

    >>> resolve_predicate("MemberOf", {"memberOf": CFKB_NS + "memberOf"})
    'https://w3id.org/cfkb/ns#memberOf'
    """
    iri = expand_curie(name)
    if iri is not None and iri in predicates.values():
        return iri
    by_key = {k.casefold(): v for k, v in predicates.items()}
    key = re.sub(r"[\s_\-]", "", name.casefold())
    if key in by_key:
        return by_key[key]
    suggestions: list[str] = []
    synonym = PREDICATE_SYNONYMS.get(key)
    if synonym in predicates:
        suggestions.append(synonym)
    from rapidfuzz import fuzz, process  # deferred: only an unknown predicate loads it

    for k, _, _ in process.extract(key, list(by_key), scorer=fuzz.ratio, limit=2, score_cutoff=60):
        local = by_key[k][len(CFKB_NS):]
        if local not in suggestions:
            suggestions.append(local)
    raise UnknownNameError(name, suggestions, kind="predicate")


def slug(name: str) -> str:
    """An entity IRI local name made from a label.

    >>> slug("Tahalof al-Safwa al-Watani")
    'tahalof-al-safwa-al-watani'
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[^\w]+", "-", _APOSTROPHES.sub("", text)).strip("-")
    return text or "entity"


def analyst_iri(name: str) -> ox.NamedNode:
    """The PROV agent IRI of an analyst."""
    return ox.NamedNode(CFID_NS + "analyst/" + slug(name))


def partner_iri(name: str) -> ox.NamedNode:
    """The PROV agent IRI of a partner institute."""
    return ox.NamedNode(CFID_NS + "partner/" + slug(name))


def new_entity_iri(name: str, taken: set[str] | dict[str, str]) -> str:
    """A fresh ``cfid:`` IRI for a new entity named ``name``."""
    base = CFID_NS + slug(name)
    iri, n = base, 2
    while iri in taken:
        iri, n = f"{base}-{n}", n + 1
    return iri


PROV_AGENT = "http://www.w3.org/ns/prov#Agent"

#: The class a table column's entity must have (subject and object: the predicate's domain and range).
COLUMN_REQUIRES = {"source": CFKB_NS + "Source", "cited_in": CFKB_NS + "Document", "speaker": PROV_AGENT,
                   "area": CFKB_NS + "Area", "election": CFKB_NS + "Election"}
#: The class a new entity named in a column gets, when its other roles allow it.
COLUMN_DEFAULTS = {"source": CFKB_NS + "MediaOutlet", "cited_in": CFKB_NS + "Document",
                   "speaker": CFKB_NS + "Person", "area": CFKB_NS + "Province", "election": CFKB_NS + "Election"}


@dataclass
class RoleTypes:
    """Which classes each role of a claim allows: from the ontology's domains, ranges and subclasses.

    ``above`` maps each class to itself and its ancestors.
    """

    domain: dict[str, str] = field(default_factory=dict)
    range: dict[str, str] = field(default_factory=dict)
    above: dict[str, set[str]] = field(default_factory=dict)
    #: the classes a new entity may get (the ontology's entity classes)
    classes: list[str] = field(default_factory=list)
    _below: dict[str, set[str]] = field(default_factory=dict)

    def ancestors(self, cls: str) -> set[str]:
        return self.above.get(cls, {cls})

    def below(self, cls: str) -> set[str]:
        """``cls`` and every subclass of it."""
        found = self._below.get(cls)
        if found is None:
            found = self._below[cls] = {c for c, up in self.above.items() if cls in up} | {cls}
        return found

    def related(self, cls: str) -> set[str]:
        """Classes an entity of class ``cls`` could also be filed under: its subclasses and ancestors."""
        return self.below(cls) | self.ancestors(cls)

    def required(self, column: str, predicate: str | None) -> str | None:
        if column == "subject":
            return self.domain.get(predicate or "")
        if column == "object":
            return self.range.get(predicate or "")
        return COLUMN_REQUIRES.get(column)

    def allowed(self, column: str, predicate: str | None) -> set[str] | None:
        """The classes an entity in this role may have (None: any)."""
        cls = self.required(column, predicate)
        return self.below(cls) if cls else None

    def default(self, column: str, predicate: str | None) -> str | None:
        return COLUMN_DEFAULTS.get(column) or self.required(column, predicate)

    def fits(self, cls: str, required: Iterable[str]) -> bool:
        up = self.ancestors(cls)
        return all(r in up for r in required)

    def infer(self, uses: Iterable[tuple[str, str | None]]) -> str | None:
        """The most specific class satisfying every role in ``uses`` ((column, predicate) pairs).

        A column's default class (a Person for a speaker, a MediaOutlet for a
        source) is taken when every role allows it. None when no class fits.
        """
        uses = list(uses)
        required = {r for c, p in uses if (r := self.required(c, p))}
        defaults = [d for c, p in uses if (d := self.default(c, p))]
        for d in defaults:
            if self.fits(d, required):
                return d
        fitting = [c for c in (*required, *self.classes) if self.fits(c, required)]
        if not fitting:
            return None
        # the most specific among the roles' own classes, else the most general class that fits
        own = [c for c in fitting if c in required]
        if own:
            return max(own, key=lambda c: len(self.ancestors(c)))
        return min(fitting, key=lambda c: len(self.ancestors(c)))
