"""Entity and predicate lookup by name, alias, CURIE or IRI.

Matching is case-, diacritic- and hyphen-insensitive, folds the common
transliteration variants of Arabic names (al-/el-, ph/f, dh/d, ee/i, ou/u,
doubled letters, short vowels) and normalises Arabic script (alef forms, taa
marbuta, yaa/alef maqsura, tatweel, diacritics). A name that matches several
entities is an error listing them, never a silent pick.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from cfkb.errors import AmbiguousNameError, UnknownNameError
from cfkb.model import CFID_NS, CFKB_NS, PREFIXES

_ARABIC_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"})
_APOSTROPHES = re.compile("['\u2019\u2018\u02bc\u02bf\u02be`\u00b4]")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_.,;:/()\[\]\"]+")
_ARTICLES = {"al", "el", "the"}
_LATIN_FOLDS = (("ph", "f"), ("dh", "d"), ("th", "t"), ("ee", "i"), ("oo", "u"), ("ou", "u"), ("q", "k"))
_VOWELS_AFTER_FIRST = re.compile(r"(?<=\w)[aeiouy]")
_DOUBLES = re.compile(r"(\w)\1+")


def normalize(name: str) -> str:
    """The strict key of a name: case, diacritics, hyphens and articles folded.

    >>> normalize("Falah al-Fayyadh") == normalize("falah  AL FAYYADH")
    True
    >>> normalize("حَيْدَر العبادي") == normalize("حيدر العبادى")
    True
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD)
    text = _APOSTROPHES.sub("", text.casefold())
    words = [w for w in _SEPARATORS.split(text) if w]
    if len(words) > 1:
        words = [w for w in words if w not in _ARTICLES] or words
    # Arabic: the article is written joined to the word.
    words = [w[2:] if w.startswith("ال") and len(w) > 3 else w for w in words]
    return " ".join(words)


def skeleton(name: str) -> str:
    """The loose key of a name: transliteration variants folded.

    >>> skeleton("Faleh al-Fayyad") == skeleton("Falah al-Fayyadh")
    True
    >>> skeleton("Haider al-Abadi") == skeleton("Haidar al-Abadi")
    True
    >>> skeleton("Hadi al-Amiri") == skeleton("Hadi al-Ameri")
    True
    """
    words = []
    for word in normalize(name).split():
        for a, b in _LATIN_FOLDS:
            word = word.replace(a, b)
        word = _VOWELS_AFTER_FIRST.sub("", word)
        words.append(_DOUBLES.sub(r"\1", word))
    return " ".join(words)


def expand_curie(text: str) -> str | None:
    """The IRI a CURIE or ``<IRI>`` stands for, or None if ``text`` is neither."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    if re.match(r"^https?://\S+$", text) or text.startswith("urn:"):
        return text
    m = re.match(r"^([A-Za-z][\w-]*):([\w.\-/]+)$", text)
    if m and m.group(1) in PREFIXES:
        return PREFIXES[m.group(1)] + m.group(2)
    return None


@dataclass
class EntityIndex:
    """Names of the entities in a base, for lookup.

    ``labels`` maps IRI to its display label; ``types`` maps IRI to its
    rdf:type IRIs.
    """

    labels: dict[str, str] = field(default_factory=dict)
    types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _strict: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _loose: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _names: dict[str, str] = field(default_factory=dict)
    #: entities merged into others: old IRI -> kept IRI (see :mod:`cfkb.entities`)
    merged: dict[str, str] = field(default_factory=dict)

    #: names added but not yet normalised: the lookup tables are built on the
    #: first lookup, so a caller that only wants labels never pays for them
    _pending: list[tuple[str, str]] = field(default_factory=list)

    def add(self, iri: str, name: str, *, preferred: bool = False) -> None:
        """Register ``name`` (a label or alias) for the entity ``iri``."""
        if preferred or iri not in self.labels:
            self.labels[iri] = name
        self._pending.append((iri, name))

    def prepare(self) -> EntityIndex:
        """Build the lookup tables now rather than on the first lookup (a server does, as it starts)."""
        self._tables()
        return self

    def _tables(self) -> None:
        pending, self._pending = self._pending, []
        for iri, name in pending:
            key = normalize(name)
            if not key:
                continue
            self._strict[key].add(iri)
            self._loose[skeleton(name)].add(iri)
            self._names.setdefault(key, name)

    def __contains__(self, iri: str) -> bool:
        return iri in self.labels or iri in self.types

    def label(self, iri: str) -> str:
        return self.labels.get(iri) or iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]

    def candidates(self, name: str) -> set[str]:
        """Every entity the name may mean (strict match first, then loose)."""
        self._tables()
        iri = expand_curie(name)
        if iri is not None:
            for _ in range(16):  # follow merges of merges, never loop
                if iri not in self.merged:
                    break
                iri = self.merged[iri]
            return {iri} if iri in self else set()
        found = self._strict.get(normalize(name))
        if found:
            return set(found)
        return set(self._loose.get(skeleton(name), ()))

    def strict_matches(self, name: str) -> set[str]:
        """The entities with exactly this name (after case, diacritics, hyphens and articles)."""
        self._tables()
        return set(self._strict.get(normalize(name), ()))

    def resolve(self, name: str) -> str:
        """The IRI of the one entity ``name`` means.

        Raises:
            UnknownNameError: no entity matches (with the closest names).
            AmbiguousNameError: several match (with every candidate).
        """
        found = self.candidates(name)
        if len(found) == 1:
            return next(iter(found))
        if found:
            raise AmbiguousNameError(name, sorted((iri, self.label(iri)) for iri in found))
        raise UnknownNameError(name, self.suggest(name))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The closest known names, one per entity, best first."""
        self._tables()
        keys = difflib.get_close_matches(normalize(name), list(self._names), n=n * 4, cutoff=0.6)
        out: list[str] = []
        seen: set[frozenset[str]] = set()
        for k in keys:
            who = frozenset(self._strict.get(k, ()))
            if who not in seen:
                seen.add(who)
                out.append(self._names[k])
        return out[:n]

    def search(self, text: str, limit: int = 20) -> list[str]:
        """Entities whose names match ``text``: what it may mean first, then
        names containing it, or its words in any spelling, then close spellings.

        >>> index = EntityIndex()
        >>> index.add("urn:x:hoquq", "Harakat Hoquq", preferred=True)
        >>> index.add("urn:x:hikma", "Hikma", preferred=True)
        >>> index.search("huquq"), index.search("harakat")
        (['urn:x:hoquq'], ['urn:x:hoquq'])
        """
        found: list[str] = []

        def take(iris: set[str]) -> None:
            for iri in sorted(iris, key=self.label):
                if iri not in found:
                    found.append(iri)

        take(self.candidates(text))
        strict, loose = normalize(text), skeleton(text)
        if strict:
            for key, iris in self._strict.items():
                if strict in key:
                    take(iris)
            words = loose.split()
            for key, iris in self._loose.items():
                # whole words only: loose keys are short and would match anything
                if words and all(w in key.split() for w in words):
                    take(iris)
            for name in self.suggest(text, n=5):
                take(self._strict.get(normalize(name), set()))
        return found[:limit]


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
    for k in difflib.get_close_matches(key, list(by_key), n=2, cutoff=0.6):
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


def new_entity_iri(name: str, taken: set[str] | dict[str, str]) -> str:
    """A fresh ``cfid:`` IRI for a new entity named ``name``."""
    base = CFID_NS + slug(name)
    iri, n = base, 2
    while iri in taken:
        iri, n = f"{base}-{n}", n + 1
    return iri
