"""Entity and predicate lookup by name, alias, CURIE or IRI, in explicit tiers.

A name is looked up in three tiers, the same for every caller (import,
``claim add``, every ``--entity``/``--source``/``--area`` option, named-query
parameters, the web search):

``exact``
    a label, alias, CURIE or IRI, after case, diacritics, hyphens and
    articles are folded (and Arabic script normalised: alef forms, taa
    marbuta, yaa/alef maqsura, tatweel, diacritics). It resolves.
``variant``
    a transliteration variant of a *specific* name (al-Amiri for al-Ameri,
    Fayyad for Fayyadh: ph/f, dh/d, ee/i, ou/u, doubled letters, short
    vowels), where the name has at least two words or eight letters. It
    resolves only when exactly one entity of a type the role allows has it.
``suggestion``
    everything looser: one short word, word order, "of"/"Iraq"/"Iraqi",
    a word of a longer name, close spellings (edit distance), the Latin
    spelling of an Arabic name. A write never takes a suggestion; a read may
    take the only one, and says what it matched and how.

A name that matches several entities is an error listing them, never a
silent pick; no key matches an entity of a type the role forbids.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cfkb.errors import AmbiguousNameError, UnknownNameError
from cfkb.model.spelling import (
    _COMMON_WORD,
    _DIGITS,
    NEAR_DUPLICATE,
    SIMILAR,
    _common,
    _content,
    _similar_how,
    consonants,
    expand_curie,
    is_arabic,
    latin_of_arabic,
    normalize,
    skeleton,
    specific,
)


@dataclass(frozen=True)
class Match:
    """One entity a name may mean, and how it matched.

    ``tier`` is ``exact``, ``variant`` or ``suggestion``; ``how`` says why in
    words; ``name`` is the known name it matched; ``score`` orders
    suggestions (100 best).
    """

    iri: str
    tier: str
    how: str
    name: str
    score: float = 100.0
    #: which key matched: exact, variant, short, words, word, part, loose-words, script, similar, contains
    kind: str = "exact"

    def note(self, given: str) -> str:
        """One line telling what ``given`` was taken to mean."""
        return f"{given!r} taken as {self.name!r} <{self.iri}> ({self.how})"


_TIER_ORDER = {"exact": 0, "variant": 1, "suggestion": 2}


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
    #: content words (strict spelling) -> strict keys of the names that have the word
    _words: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: content words (loose spelling) -> strict keys of the names that have the word
    _loose_words: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: the set of content words (loose spelling) of a name -> strict keys
    _wordsets: dict[frozenset[str], set[str]] = field(default_factory=lambda: defaultdict(set))
    #: the set of content words (strict spelling) of a name -> strict keys
    _strict_wordsets: dict[frozenset[str], set[str]] = field(default_factory=lambda: defaultdict(set))
    #: loose key of the Latin spelling of each Arabic-script name -> strict keys
    _arabic_loose: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: consonants of each Latin-script name -> strict keys
    _latin_consonants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: (loose key, IRI) -> the first name of that entity with that loose key
    _loose_names: dict[tuple[str, str], str] = field(default_factory=dict)
    #: entities merged into others: old IRI -> kept IRI (see :mod:`cfkb.workflow.entities`)
    merged: dict[str, str] = field(default_factory=dict)

    #: names were added beyond the base's own (by a file being read): not the base's index any more
    grown: bool = False
    #: names added but not yet normalised: the lookup tables are built on the
    #: first lookup, so a caller that only wants labels never pays for them
    _pending: list[tuple[str, str]] = field(default_factory=list)
    #: names in the exact-name table (:meth:`_strict_tables`) but not yet in the
    #: looser ones (:meth:`_tables`), with their strict keys
    _keyed: list[tuple[str, str, str]] = field(default_factory=list)
    #: strict keys whose words and spellings are in the looser tables
    _worded: set[str] = field(default_factory=set)
    #: every name added, in order: (IRI, name, preferred, strict key where known), for :meth:`rows`
    _added: list[tuple[str, str, bool, str | None]] = field(default_factory=list)

    def add(self, iri: str, name: str, *, preferred: bool = False) -> None:
        """Register ``name`` (a label or alias) for the entity ``iri``."""
        if preferred or iri not in self.labels:
            self.labels[iri] = name
        self._pending.append((iri, name))
        self._added.append((iri, name, preferred, None))

    def rows(self) -> list[tuple[str, str, bool, str]]:
        """Every name added, in order, with its strict key: (IRI, name, preferred, key), what
        :meth:`from_rows` makes the same index again from without normalising a name."""
        self._added = [(iri, name, preferred, normalize(name) if key is None else key)
                       for iri, name, preferred, key in self._added]
        return [(iri, name, preferred, key or "") for iri, name, preferred, key in self._added]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, bool, str]], types: dict[str, set[str]],
                  merged: dict[str, str]) -> EntityIndex:
        """The index :meth:`rows` was read from, with these types and merges."""
        index = cls(merged=merged)
        index.types.update(types)
        for iri, name, preferred, key in rows:
            if preferred or iri not in index.labels:
                index.labels[iri] = name
            index._added.append((iri, name, preferred, key))
            if key:
                index._strict[key].add(iri)
                index._names.setdefault(key, name)
                index._keyed.append((iri, name, key))
        return index

    def prepare(self) -> EntityIndex:
        """Build the lookup tables now rather than on the first lookup (a server does, as it starts)."""
        self._tables()
        return self

    def _strict_tables(self) -> None:
        """The exact names (after case, diacritics, hyphens and articles): all that a
        name given exactly needs, a fifth of the cost of every table."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        for iri, name in pending:
            key = normalize(name)
            if not key:
                continue
            self._strict[key].add(iri)
            self._names.setdefault(key, name)
            self._keyed.append((iri, name, key))

    def _tables(self) -> None:
        """Every lookup table: the exact names, then the spellings, words and scripts."""
        self._strict_tables()
        if not self._keyed:
            return
        keyed, self._keyed = self._keyed, []
        for iri, name, key in keyed:
            loose = skeleton(name)
            self._loose[loose].add(iri)
            self._loose_names.setdefault((loose, iri), name)
            if key in self._worded:
                continue
            self._worded.add(key)
            content = _content(key.split())
            for w in content:
                self._words[w].add(key)
            if content:
                self._strict_wordsets[content].add(key)
            loose_words = _content(loose.split())
            for w in loose_words:
                self._loose_words[w].add(key)
            if loose_words:
                self._wordsets[loose_words].add(key)
            if is_arabic(key):
                self._arabic_loose[consonants(latin_of_arabic(key))].add(key)
            else:
                self._latin_consonants[consonants(key)].add(key)

    def __contains__(self, iri: str) -> bool:
        return iri in self.labels or iri in self.types

    def label(self, iri: str) -> str:
        return self.labels.get(iri) or iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]

    def describe(self, iri: str) -> str:
        """The label and types of an entity, for messages: ``Hamdi Malik (Person)``."""
        kinds = sorted(t.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for t in self.types.get(iri, ()))
        return f"{self.label(iri)} ({', '.join(kinds)})" if kinds else self.label(iri)

    # -- the tiers ---------------------------------------------------------

    def _follow(self, iri: str) -> str:
        for _ in range(16):  # follow merges of merges, never loop
            if iri not in self.merged:
                break
            iri = self.merged[iri]
        return iri

    @staticmethod
    def _allows(types: set[str], allowed: set[str] | None) -> bool:
        return allowed is None or not types or bool(types & allowed)

    def _known_name(self, iri: str, key: str) -> str:
        return self._names.get(key, self.label(iri))

    def matches(self, name: str, allowed: set[str] | None = None, *, suggestions: bool = True,
                limit: int = 10, exhaustive: bool = False) -> list[Match]:
        """Every entity ``name`` may mean, best tier first, one match per entity.

        ``allowed`` is the set of classes the role allows (subclasses
        included); entities of other types never match beyond the exact tier,
        and an exact match of another type is kept only when nothing of an
        allowed type matches exactly.
        """
        iri = expand_curie(name)
        if iri is not None:  # no lookup tables needed
            iri = self._follow(iri)
            return [Match(iri, "exact", "CURIE or IRI", self.label(iri))] if iri in self else []
        self._strict_tables()
        key = normalize(name)
        if not key:
            return []
        found: dict[str, Match] = {}

        def take(m: Match) -> None:
            old = found.get(m.iri)
            if old is None or (_TIER_ORDER[m.tier], -m.score) < (_TIER_ORDER[old.tier], -old.score):
                found[m.iri] = m

        exact = self._strict.get(key, set())
        fitting = {i for i in exact if self._allows(self.types.get(i, set()), allowed)}
        for i in fitting or exact:
            take(Match(i, "exact", "its label" if self.labels.get(i) and normalize(self.labels[i]) == key
                       else "one of its names", self._known_name(i, key)))
        if fitting and not exhaustive:
            return list(found.values())  # an exact name of an allowed type: nothing looser matters
        self._tables()
        loose = skeleton(name)
        for i in self._loose.get(loose, ()):
            if i in found or not self._allows(self.types.get(i, set()), allowed):
                continue
            known = self._spelled(i, loose)
            if specific(name):
                take(Match(i, "variant", f"transliteration variant of {known!r}", known, kind="variant"))
            else:
                take(Match(i, "suggestion", f"spelled like {known!r}, but one short word does not resolve",
                           known, 90, "short"))
        if suggestions and (not found or any(m.tier == "suggestion" for m in found.values())
                            or len(found) > 1):
            for m in self._suggestions(name, key, loose):
                if self._allows(self.types.get(m.iri, set()), allowed):
                    take(m)
        return sorted(found.values(), key=lambda m: (_TIER_ORDER[m.tier], -m.score, self.label(m.iri)))[:limit] \
            if limit else sorted(found.values(), key=lambda m: (_TIER_ORDER[m.tier], -m.score, self.label(m.iri)))

    def _spelled(self, iri: str, loose: str) -> str:
        """The known name of ``iri`` whose loose key is ``loose`` (its label if that one is)."""
        label = self.labels.get(iri)
        if label and skeleton(label) == loose:
            return label
        return self._loose_names.get((loose, iri)) or self.label(iri)

    def _suggestions(self, name: str, key: str, loose: str) -> list[Match]:
        out: list[Match] = []

        def add(keys: Iterable[str], how: Callable[[str], str], score: float, kind: str) -> None:
            for k in keys:
                if k == key:
                    continue
                for i in self._strict.get(k, ()):
                    out.append(Match(i, "suggestion", how(self._names[k]), self._names[k], score, kind))

        words = _content(key.split())
        loose_words = _content(loose.split())
        if loose_words:
            add(self._wordsets.get(loose_words, ()), lambda n: f"the same words as {n!r}", 88, "words")
        if words:
            # a word (or words) of a longer name: "Hadba", "Asaib"
            shared = _common(self._words, words)
            add(shared, lambda n: f"{'words' if len(words) > 1 else 'a word'} of {n!r}", 80, "word")
            # a longer name holding a known one: "Kataib Hezbollah Brigades" (each smaller set of
            # its words looked up whole: a few dozen lookups, however many names share a word)
            if len(words) <= 8:
                ordered = sorted(words)
                for r in range(1, len(ordered)):
                    for sub in itertools.combinations(ordered, r):
                        found_keys = self._strict_wordsets.get(frozenset(sub))
                        if found_keys:
                            add(found_keys, lambda n: f"{n!r} is part of the name", 70, "part")
        if loose_words:
            shared = _common(self._loose_words, loose_words)
            add(shared, lambda n: f"{'words' if len(loose_words) > 1 else 'a word'} spelled like those of {n!r}",
                75, "loose-words")
        if is_arabic(key):
            add(self._latin_consonants.get(consonants(latin_of_arabic(key)), ()),
                lambda n: f"the Latin spelling {n!r} of the Arabic", 85, "script")
        else:
            add(self._arabic_loose.get(consonants(key), ()), lambda n: f"the Arabic spelling {n!r}", 85, "script")
        for k, score in self._similar(key, loose):
            add([k], _similar_how(score), score * 0.9, "similar")
        return out

    def _similar(self, key: str, loose: str, cutoff: float = SIMILAR) -> list[tuple[str, float]]:
        """Known names spelled like ``key`` (edit distance), with their similarity."""
        pool: set[str] = set()
        if len(self._names) <= 5000:
            pool = set(self._names)
        else:  # a big base: only names sharing a word (in either spelling) with it
            for w in _content(key.split()):
                if len(self._words.get(w, ())) <= _COMMON_WORD:
                    pool |= self._words.get(w, set())
            for w in _content(loose.split()):
                if len(self._loose_words.get(w, ())) <= _COMMON_WORD:
                    pool |= self._loose_words.get(w, set())
        if not pool:
            return []
        from rapidfuzz import fuzz, process  # deferred: only a name not found loads it

        choices = list(pool)
        found = process.extract(key, choices, scorer=fuzz.ratio, limit=8, score_cutoff=cutoff)
        digits = _DIGITS.findall(key)
        return [(k, score) for k, score, _ in found if _DIGITS.findall(k) == digits]

    # -- what callers use ----------------------------------------------------

    def lookup(self, name: str, allowed: set[str] | None = None, *, accept: str = "variant",
               explain: bool = True) -> Match:
        """The one entity ``name`` means, and how it matched.

        ``accept`` is the loosest tier taken: ``variant`` for a write (the
        default), ``suggestion`` for a read, which takes a suggestion when it
        is the only one.

        ``explain=False`` leaves the suggestions out of an unknown name's
        error (a caller that looks for near duplicates next).

        Raises:
            UnknownNameError: no entity matches (with the suggestions, explained).
            AmbiguousNameError: several match (with every candidate).
        """
        found = self.matches(name, allowed, suggestions=explain or accept == "suggestion")
        for tier in ("exact", "variant"):
            hits = [m for m in found if m.tier == tier]
            if len(hits) == 1:
                return hits[0]
            if hits:
                raise AmbiguousNameError(name, sorted((m.iri, self.describe(m.iri)) for m in hits))
            if tier == accept:
                break
        loose = [m for m in found if m.tier == "suggestion"]
        strong = [m for m in loose if m.kind not in ("part", "contains")
                  and not (m.kind == "similar" and m.score < NEAR_DUPLICATE * 0.9)]
        if accept == "suggestion" and len(strong) == 1:
            return strong[0]
        if accept == "suggestion" and strong:
            raise AmbiguousNameError(name, [(m.iri, f"{self.describe(m.iri)}: {m.how}") for m in strong])
        raise UnknownNameError(name, [m.name for m in loose[:3]],
                               explained=[self._explain(m) for m in loose[:3]])

    def _explain(self, m: Match) -> str:
        """Which entity a suggestion is (when the name matched is not its label), its types, how it matched."""
        if self.label(m.iri) != m.name:
            return f"{self.describe(m.iri)}: {m.how}"
        kinds = sorted(t.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for t in self.types.get(m.iri, ()))
        return f"{', '.join(kinds)}: {m.how}" if kinds else m.how

    def resolve(self, name: str, allowed: set[str] | None = None) -> str:
        """The IRI of the one entity ``name`` means (exact, or a specific variant).

        Raises:
            UnknownNameError: no entity matches (with the closest names).
            AmbiguousNameError: several match (with every candidate).
        """
        return self.lookup(name, allowed).iri

    def candidates(self, name: str, allowed: set[str] | None = None) -> set[str]:
        """Every entity the name means without suggestions (exact match first, then a specific variant)."""
        found = self.matches(name, allowed, suggestions=False, limit=0)
        for tier in ("exact", "variant"):
            hits = {m.iri for m in found if m.tier == tier}
            if hits:
                return hits
        return set()

    def exact_one(self, name: str) -> str | None:
        """The entity whose name ``name`` is, when exactly one has it (the common case, made cheap)."""
        if ":" in name:
            return None  # a CURIE or IRI: see :meth:`lookup`
        self._strict_tables()
        found = self._strict.get(normalize(name))
        if found is not None and len(found) == 1:
            for iri in found:
                return iri
        return None

    def strict_matches(self, name: str) -> set[str]:
        """The entities with exactly this name (after case, diacritics, hyphens and articles)."""
        self._strict_tables()
        return set(self._strict.get(normalize(name), ()))

    def near_duplicates(self, name: str, allowed: set[str] | None = None) -> list[Match]:
        """Entities a *new* entity called ``name`` would likely duplicate.

        The same name or a variant of it; the same words in another order;
        ``name`` being a word of an existing name (but not an existing name
        within a longer new one: "Kataib Hezbollah Media Office" is another
        body); a very similar spelling. Names that differ in a number
        ("List 17", "List 18") are never near duplicates.
        """
        out = []
        for m in self.matches(name, allowed, limit=0):
            if m.kind in ("part", "contains") or (m.kind == "similar" and m.score < NEAR_DUPLICATE * 0.9):
                continue
            out.append(m)
        return out

    def search(self, text: str, limit: int = 20) -> list[str]:
        """Entities whose names match ``text``: what it may mean first, then
        names containing it, or its words in any spelling, then close spellings.

        >>> index = EntityIndex()
        >>> index.add("urn:x:hoquq", "Harakat Hoquq", preferred=True)
        >>> index.add("urn:x:hikma", "Hikma", preferred=True)
        >>> index.search("huquq"), index.search("harakat")
        (['urn:x:hoquq'], ['urn:x:hoquq'])
        """
        return [m.iri for m in self.search_matches(text, limit)]

    def search_matches(self, text: str, limit: int = 20) -> list[Match]:
        """As :meth:`search`, with how each entity matched."""
        found = {m.iri: m for m in self.matches(text, limit=0, exhaustive=True)}
        key = normalize(text)
        if key and len(key) >= 3:
            for k, iris in self._strict.items():
                if key in k and k != key:
                    for i in iris:
                        found.setdefault(i, Match(i, "suggestion", f"{self._names[k]!r} contains it",
                                                  self._names[k], 78, "contains"))
        ordered = sorted(found.values(), key=lambda m: (_TIER_ORDER[m.tier], -m.score, self.label(m.iri)))
        return ordered[:limit]
