"""Likely duplicate entities: pairs whose names suggest they are one, found as
record linkage does, by blocking on the keys :class:`~cfkb.model.names.EntityIndex`
keeps for lookups (loose keys, word sets, Latin readings of Arabic names,
distinctive words), then scored and explained pair by pair."""

from __future__ import annotations

from collections.abc import Iterable

from cfkb.model.names import EntityIndex
from cfkb.model.spelling import _DIGITS, _FILLER, skeleton, specific


def likely_duplicates(index: EntityIndex, min_score: float = 80, common: int = 50
                      ) -> dict[tuple[str, str], tuple[float, list[str]]]:
    """Pairs of entities in ``index`` whose names suggest they are one, scored (0-100) and explained.

    Candidates come from shared keys (blocking, as record linkage does):
    the same loose key (transliteration variants), the same words in any
    order, the Latin reading of an Arabic name, and for edit distance
    only names sharing a word that at most ``common`` names have. Names
    that differ in a number are never paired.
    """
    from rapidfuzz import fuzz

    index._tables()
    pairs: dict[tuple[str, str], tuple[float, list[str]]] = {}

    def note(iris_a: Iterable[str], iris_b: Iterable[str], score: float, why: str) -> None:
        for a in iris_a:
            for b in iris_b:
                if a == b:
                    continue
                key = (a, b) if a < b else (b, a)
                best, reasons = pairs.get(key, (0.0, []))
                if why not in reasons:
                    reasons.append(why)
                pairs[key] = (max(best, score), reasons)

    for loose, iris in index._loose.items():
        if len(iris) > 1 and len(iris) <= common:
            for a in iris:
                for b in iris:
                    if a < b:
                        shown = [index._spelled(a, loose), index._spelled(b, loose)]
                        if _DIGITS.findall(shown[0]) == _DIGITS.findall(shown[1]):
                            note([a], [b], 95 if specific(shown[0]) else 85,
                                 f"{shown[0]!r} and {shown[1]!r} are spelling variants of one name")
    for _words, keys in index._wordsets.items():
        owners = {i for k in keys for i in index._strict[k]}
        if 1 < len(owners) <= common:
            ks = sorted(keys)
            for x in ks:
                for y in ks:
                    if x < y and _DIGITS.findall(x) == _DIGITS.findall(y):
                        note(index._strict[x], index._strict[y], 90,
                             f"{index._names[x]!r} and {index._names[y]!r} have the same words")
    for latin, keys in index._arabic_loose.items():
        spelled = index._latin_consonants.get(latin, set())
        if not spelled or len(spelled) > common:
            continue
        for k in keys:
            for other in spelled:
                if _DIGITS.findall(k) == _DIGITS.findall(other):
                    note(index._strict[k], index._strict[other], 85,
                         f"the Arabic {index._names[k]!r} reads as {index._names[other]!r}")
    # edit distance inside blocks of names sharing an uncommon word, on their distinctive
    # words only: "Tahalof", "Coalition", "TV" are in many names and tell nothing
    holders = {w: {i for k in keys for i in index._strict[k]} for w, keys in index._loose_words.items()}
    generic = {w for w, iris in holders.items() if len(iris) >= 3}

    def distinctive(k: str) -> tuple[str, frozenset[str]]:
        kept = [w for w in k.split() if w not in _FILLER and skeleton(w) not in generic]
        return " ".join(kept), frozenset(skeleton(w) for w in kept)

    seen: set[tuple[str, str]] = set()
    for word, keys in index._loose_words.items():
        if word in generic or len(keys) < 2 or len(holders[word]) < 2 or len(keys) > common:
            continue
        ks = sorted(keys)
        for i, x in enumerate(ks):
            for y in ks[i + 1:]:
                if (x, y) in seen or index._strict[x] == index._strict[y]:
                    continue
                seen.add((x, y))
                if _DIGITS.findall(x) != _DIGITS.findall(y):
                    continue
                (dx, wx), (dy, wy) = distinctive(x), distinctive(y)
                if not dx or not dy:
                    continue
                if wx == wy:
                    note(index._strict[x], index._strict[y], 90, f"{index._names[x]!r} and {index._names[y]!r}"
                         " have the same distinctive words")
                elif wx < wy or wy < wx:
                    short, long_ = (x, y) if wx < wy else (y, x)
                    note(index._strict[x], index._strict[y], 80, f"every distinctive word of"
                         f" {index._names[short]!r} is in {index._names[long_]!r}")
                score = fuzz.token_sort_ratio(dx, dy)
                if score >= min_score:
                    note(index._strict[x], index._strict[y], score,
                         f"{index._names[x]!r} and {index._names[y]!r} are spelled alike ({score:.0f}%)")
    return {k: v for k, v in pairs.items() if v[0] >= min_score}

