"""How names are folded and compared: case, diacritics, articles, Arabic script, transliteration.

The keys of :class:`~cfkb.model.names.EntityIndex`'s tiers are made here:
:func:`normalize` (the ``exact`` tier), :func:`skeleton` (the ``variant``
tier) and the looser keys of the ``suggestion`` tier.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable

from cfkb.model.vocabulary import PREFIXES

_ARABIC_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"})
_APOSTROPHES = re.compile("['\u2019\u2018\u02bc\u02bf\u02be`\u00b4]")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_.,;:/()\[\]\"]+")
_ARTICLES = {"al", "el", "the"}
_LATIN_FOLDS = (("ph", "f"), ("dh", "d"), ("th", "t"), ("ee", "i"), ("oo", "u"), ("ou", "u"), ("q", "k"))
_VOWEL_RUNS = re.compile(r"[aeiouy]+")
_DOUBLES = re.compile(r"([^\W\d_])\1+")  # doubled letters, never digits: "List 11" is not "List 1"


@functools.lru_cache(maxsize=1 << 16)
def normalize(name: str) -> str:
    """The strict key of a name: case, diacritics, hyphens and articles folded.

    >>> normalize("Falah al-Fayyadh") == normalize("falah  AL FAYYADH")
    True
    >>> normalize("حَيْدَر العبادي") == normalize("حيدر العبادى")
    True
    """
    if name.isascii():
        text = name.casefold()
    else:
        text = unicodedata.normalize("NFKD", name)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD).casefold()
    text = _APOSTROPHES.sub("", text)
    words = [w for w in _SEPARATORS.split(text) if w]
    if len(words) > 1:
        words = [w for w in words if w not in _ARTICLES] or words
    # Arabic: the article is written joined to the word.
    words = [w[2:] if w.startswith("ال") and len(w) > 3 else w for w in words]
    return " ".join(words)


@functools.lru_cache(maxsize=1 << 16)
def skeleton(name: str) -> str:
    """The loose key of a name: transliteration variants folded.

    Consonant digraphs (ph/f, dh/d, th/t, q/k) and doubled letters fold,
    and each run of vowels becomes one vowel: where a name has vowels stays
    part of the key, so "Malik" and "Maliki" differ.

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
        word = _DOUBLES.sub(r"\1", word)
        # a vowel (or run of them) stays a vowel, of any colour: Amiri/Ameri, Haidar/Haider, Qais/Qays
        words.append(_VOWEL_RUNS.sub("a", word))
    return " ".join(words)


def expand_curie(text: str) -> str | None:
    """The IRI a CURIE or ``<IRI>`` stands for, or None if ``text`` is neither."""
    if ":" not in text:
        return None
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    if re.match(r"^https?://\S+$", text) or text.startswith("urn:"):
        return text
    m = re.match(r"^([A-Za-z][\w-]*):([\w.\-/]+)$", text)
    if m and m.group(1) in PREFIXES:
        return PREFIXES[m.group(1)] + m.group(2)
    return None


#: Words that do not tell one name from another: "Supreme Islamic Iraqi Council"
#: and "Islamic Supreme Council of Iraq" share every other word.
_FILLER = {"of", "the", "and", "in", "for", "al", "el", "iraq", "iraqi", "و"}
#: A transliteration variant resolves only for a name this specific.
VARIANT_MIN_WORDS = 2
VARIANT_MIN_LETTERS = 8
#: Edit-distance similarity (0-100) from which two spellings are suggested for each other.
SIMILAR = 70
#: ... and from which a new name is refused as a near duplicate.
NEAR_DUPLICATE = 90
#: A word shared by more names than this does not bring candidates for edit distance.
_COMMON_WORD = 500
_DIGITS = re.compile(r"\d+")

#: Arabic letters in Latin, for comparing an Arabic spelling with a Latin one.
_ARABIC_LATIN = str.maketrans({
    "ا": "a", "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r",
    "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f",
    "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "u", "ي": "i", "ء": "", "پ": "p",
    "چ": "ch", "گ": "g", "ڤ": "v", "ی": "i", "ک": "k",
})
_ARABIC = re.compile("[\u0600-\u06ff]")


def is_arabic(text: str) -> bool:
    return _ARABIC.search(text) is not None


def latin_of_arabic(name: str) -> str:
    """A rough Latin spelling of an Arabic-script name, for suggestions only.

    >>> consonants(latin_of_arabic("حمدي مالك")) == consonants("Hamdi Malik")
    True
    """
    return normalize(name).translate(_ARABIC_LATIN)


_LATIN_VOWELS = re.compile(r"[aeiouy]")


@functools.lru_cache(maxsize=1 << 14)
def consonants(name: str) -> str:
    """The loose key without its vowels: Arabic script writes no short vowels, so an Arabic
    spelling and a Latin one are compared on their consonants (for suggestions only).

    >>> consonants("Hamdi Malik")
    'hmd mlk'
    """
    return " ".join(w for w in (_LATIN_VOWELS.sub("", w) for w in skeleton(name).split()) if w)


def _content(words: Iterable[str]) -> frozenset[str]:
    return frozenset(w for w in words if w not in _FILLER)


def _letters(key: str) -> int:
    return sum(ch.isalnum() for ch in key)


def specific(name: str) -> bool:
    """Whether a name is specific enough for a transliteration variant to resolve.

    >>> specific("Fayyad"), specific("Hadi al-Amiri"), specific("Diyalatuna")
    (False, True, True)
    """
    key = normalize(name)
    return len(key.split()) >= VARIANT_MIN_WORDS or _letters(key) >= VARIANT_MIN_LETTERS


def _common(postings: dict[str, set[str]], words: Iterable[str]) -> set[str]:
    """The keys that every one of ``words`` is in (the smallest posting list first)."""
    sets = sorted((postings.get(w, set()) for w in words), key=len)
    if not sets or not sets[0]:
        return set()
    return sets[0].intersection(*sets[1:])


def _similar_how(score: float) -> Callable[[str], str]:
    return lambda _name: f"similar spelling, {score:.0f}%"
