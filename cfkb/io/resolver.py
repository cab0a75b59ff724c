"""From rows to claims: each cell read as its column says, names resolved against the base.

:class:`Resolver` resolves a row's entity names (or creates entities, when asked)
and makes the :class:`~cfkb.model.vocabulary.Claim` record; every error names
the cell's ``file:line:column``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

from cfkb.errors import AmbiguousNameError, ParseError, UnknownNameError
from cfkb.io.tables import _T, ENTITY_COLUMNS, MAX_CELL, Row
from cfkb.model.names import EntityIndex
from cfkb.model.spelling import expand_curie, normalize
from cfkb.model.terms import RoleTypes, new_entity_iri, resolve_predicate
from cfkb.model.vocabulary import CREDIBILITY, MODALITIES, RELIABILITY, TLP_LEVELS, Claim

# -- from rows to claims ---------------------------------------------------

_TRUE = {"true", "yes", "1", "y", "not", "negated"}
_FALSE = {"false", "no", "0", "n", ""}


def _bool(row: Row, col: str) -> bool:
    text = row.values.get(col)
    if text is None:
        return False
    v = text.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise row.error(col, f"{col} {text!r} is not a yes/no value; write true or false")


def _date(row: Row, col: str) -> dt.date | None:
    text = row.values.get(col)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise row.error(col, f"{col} {text!r} is not an ISO 8601 date; write it as YYYY-MM-DD") from None


def _choice(row: Row, col: str, allowed: tuple[str, ...], fold: Callable[[str], str] = str.upper) -> str | None:
    text = row.values.get(col)
    if text is None:
        return None
    v = fold(text.strip())
    if col == "tlp" and v.startswith("TLP:"):
        v = v[4:]
    if v not in allowed:
        raise row.error(col, f"{col} {text!r} is not allowed; use one of {', '.join(allowed)}")
    return v


class Resolver:
    """Turns names in cells into IRIs, creating entities when allowed.

    Names resolve in the tiers of :mod:`cfkb.model.names`: an exact name, or a
    specific transliteration variant that exactly one entity of a type the
    role allows has (each such resolution is kept in :attr:`variants` for the
    import's summary). A suggestion is never taken. With ``create``, an
    unknown name becomes a new entity unless it is close to an existing one
    (or to another new one), which is refused unless ``new`` insists.
    """

    def __init__(self, index: object, predicates: dict[str, str], *, create: bool = False,
                 roles: object = None, new: bool = False) -> None:

        assert isinstance(index, EntityIndex)
        assert roles is None or isinstance(roles, RoleTypes)
        self.index = index
        self.predicates = predicates
        self.create = create
        self.roles = roles
        self.new = new
        #: new entities: IRI -> (label, column it was first named in, predicate IRI)
        self.created: dict[str, tuple[str, str, str]] = {}
        #: each new entity's roles: IRI -> (column, predicate) -> the first row naming it so
        self.uses: dict[str, dict[tuple[str, str | None], Row]] = {}
        self._created_by_name: dict[str, str] = {}
        self._new_index = EntityIndex()
        self._taken: set[str] | None = None
        #: names taken as transliteration variants: (cell text, IRI) -> how
        self.variants: dict[tuple[str, str], str] = {}
        #: cell text -> IRI, for names that resolve the same in every role (tables repeat names a lot)
        self._resolved: dict[str, str] = {}
        #: (cell text, required class) -> IRI, for names whose resolution depends on the role
        self._by_role: dict[tuple[str, str | None], str] = {}
        self._predicate_cache: dict[str, str] = {}
        self._role_keys: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        #: (cell text, required class) -> why it does not resolve (a bad name is looked up once)
        self._failed: dict[tuple[str, str | None], str] = {}
        #: predicate -> column -> the class the column's role requires
        self._required: dict[str, dict[str, str | None]] = {}
        #: (column, cell text) -> value, for cells read the same way in every row (dates, grades)
        self._read: dict[tuple[str, str], object] = {}

    def forget(self) -> None:
        """Drop cached lookups (after names were added to the index)."""
        self._resolved.clear()
        self._by_role.clear()
        self._failed.clear()
        self._predicate_cache.clear()

    def entity(self, row: Row, col: str, predicate: str) -> str | None:
        text = row.values.get(col)
        if text is None:
            return None
        known = self._resolved.get(text)
        return known if known is not None else self._entity(row, col, text, predicate)

    def _role_key(self, col: str, predicate: str) -> tuple[str | None, str | None]:
        """(the class the role requires, the predicate if the column's role depends on it)."""
        key = self._role_keys.get((col, predicate))
        if key is None:
            pred = predicate if col in ("subject", "object") else None
            key = self._role_keys[(col, predicate)] = (
                self.roles.required(col, pred) if self.roles is not None else None, pred)
        return key

    def _entity(self, row: Row, col: str, text: str, predicate: str) -> str:

        required, pred = self._role_key(col, predicate)
        key = (text, required)
        iri = self._by_role.get(key)
        if iri is not None:
            return iri
        failed = self._failed.get(key)
        if failed is not None:  # the same bad name again: the same message, at this cell
            raise row.error(col, failed)
        if self._created_by_name:  # new entities: every role they have is recorded, for their type
            iri = self._created_by_name.get(normalize(text))
            if iri is not None:
                self._use(iri, col, pred, row)
                return iri
        one = self.index.exact_one(text)
        if one is not None:
            self._resolved[text] = one  # an exact name of one entity: the same in every role
            return one
        allowed = self.roles.below(required) if self.roles is not None and required else None
        try:
            match = self.index.lookup(text, allowed, explain=not self.create)
        except AmbiguousNameError as exc:
            self._failed[key] = str(exc)
            raise row.error(col, str(exc)) from None
        except UnknownNameError as exc:
            if not self.create or expand_curie(text) is not None:
                self._failed[key] = f"{col}: {exc}"
                raise row.error(col, f"{col}: {exc}") from None
            try:
                return self._create(row, col, text, pred, predicate)
            except ParseError as refused:
                self._failed[key] = refused.message
                raise
        iri = match.iri
        if match.tier == "variant":
            self.variants.setdefault((text, iri), match.how)
        if match.tier == "exact" and len(self.index.strict_matches(text)) == 1:
            self._resolved[text] = iri  # the same in every role
        else:
            self._by_role[key] = iri
        return iri

    def _use(self, iri: str, col: str, pred: str | None, row: Row) -> None:
        uses = self.uses.get(iri)
        if uses is not None and (col, pred) not in uses:
            uses[(col, pred)] = row

    def _create(self, row: Row, col: str, text: str, pred: str | None, predicate: str) -> str:

        if not self.new:
            required, _ = self._role_key(col, predicate)
            allowed = self.roles.related(required) if self.roles is not None and required else None
            close = self.index.near_duplicates(text, allowed)
            close_new = self._new_index.near_duplicates(text) if self.created else []
            if close or close_new:
                listed = "; ".join(
                    [f"{self.index.describe(m.iri)} <{m.iri}> ({m.how})" for m in close[:5]]
                    + [f"{self._new_index.label(m.iri)!r}, new in this import at {self._where(m.iri)} ({m.how})"
                       for m in close_new[:3]])
                raise row.error(col, f"{col}: {text!r} is not in the base but is close to {listed};"
                                     " write the existing name or a cfid: CURIE, add this spelling with"
                                     f" 'cfkb entity alias EXISTING {text!r}', or pass --new to create"
                                     " a separate entity")
        if self._taken is None:
            self._taken = set(self.index.labels) | set(self.index.types)
        iri = new_entity_iri(text, self._taken)
        self._taken.add(iri)
        self.created[iri] = (text, col, predicate)
        self.uses[iri] = {(col, pred): row}
        self._created_by_name[normalize(text)] = iri
        self._new_index.add(iri, text, preferred=True)
        return iri

    def _where(self, iri: str) -> str:
        uses = self.uses.get(iri)
        if not uses:
            return "?"
        row = next(iter(uses.values()))
        return f"{row.path}:{row.line}"

    def _predicate(self, row: Row) -> str:
        name = row.values["predicate"]
        predicate = self._predicate_cache.get(name)
        if predicate is None:
            try:
                predicate = self._predicate_cache[name] = resolve_predicate(name, self.predicates)
            except UnknownNameError as exc:
                raise row.error("predicate", str(exc)) from None
        return predicate

    def _checked(self, row: Row, col: str, read: Callable[[Row, str], _T]) -> _T | None:
        """A cell's value read by ``read``, each distinct text read once (tables repeat them)."""
        text = row.values.get(col)
        if text is None:
            return None
        key = (col, text)
        try:
            return cast(_T, self._read[key])  # a column is always read by the same reader
        except KeyError:
            value = self._read[key] = read(row, col)  # raises on a bad value: nothing is kept
            return value

    def names(self, row: Row, predicate: str) -> list[str | None]:
        """The IRIs of a row's entity cells, in :data:`ENTITY_COLUMNS` order (None: empty cell).

        A text seen before costs a dict lookup or two (by text, or by text and
        the class its role requires); a new one, the tiered lookup.
        """
        values = row.values
        resolved, by_role = self._resolved, self._by_role
        required = self._required.get(predicate)
        if required is None:
            required = self._required[predicate] = {c: self._role_key(c, predicate)[0] for c in ENTITY_COLUMNS}
        out: list[str | None] = []
        for col in ENTITY_COLUMNS:
            text = values.get(col)
            if text is None:
                out.append(None)
                continue
            iri = resolved.get(text)
            if iri is None:
                iri = by_role.get((text, required[col]))
                if iri is None:
                    iri = self._entity(row, col, text, predicate)
            out.append(iri)
        return out

    def claim(self, row: Row) -> Claim:
        predicate = self._predicate(row)
        values = row.values
        subject, obj, source, area, election, speaker, cited_in = self.names(row, predicate)
        checked = self._checked
        cred = checked(row, "credibility", _read_credibility)
        modality = checked(row, "modality", _read_modality)
        quote = values.get("quote")
        lang = values.get("quote_lang")
        if quote and len(quote) > MAX_CELL:
            raise row.error("quote", f"quote longer than {MAX_CELL} characters")
        paraphrase = values.get("paraphrase")
        if paraphrase and len(paraphrase) > MAX_CELL:
            raise row.error("paraphrase", f"paraphrase longer than {MAX_CELL} characters")
        if quote and paraphrase:
            raise row.error("paraphrase", "give the words as quote (verbatim) or paraphrase (reported), not both")
        if lang is not None:
            checked(row, "quote_lang", _read_lang)
        url = values.get("url")
        if url and not url.startswith(("http://", "https://")):
            raise row.error("url", f"url {url!r} must start with http:// or https://")
        assert subject and obj and source
        return Claim(
            subject=subject,
            predicate=predicate,
            object=obj,
            source=source,
            negated=bool(checked(row, "negated", _bool)),
            area=area,
            election=election,
            speaker=speaker,
            date=checked(row, "date", _date),
            quote=quote,
            quote_lang=lang if quote or paraphrase else None,
            paraphrase=paraphrase,
            cited_in=cited_in,
            url=url,
            reliability=checked(row, "reliability", _read_reliability),
            credibility=cred,
            tlp=checked(row, "tlp", _read_tlp),
            modality=modality,
            comment=values.get("comment"),
            valid_from=checked(row, "valid_from", _date),
            valid_until=checked(row, "valid_until", _date),
        )


def _read_credibility(row: Row, col: str) -> int | None:
    cred = _choice(row, col, tuple(str(c) for c in CREDIBILITY), str.strip)
    return int(cred) if cred else None


def _read_modality(row: Row, col: str) -> str | None:
    name = _choice(row, col, tuple(MODALITIES), str.lower)
    return MODALITIES[name] if name else None


def _read_reliability(row: Row, col: str) -> str | None:
    return _choice(row, col, RELIABILITY)


def _read_tlp(row: Row, col: str) -> str | None:
    return _choice(row, col, TLP_LEVELS)


def _read_lang(row: Row, col: str) -> str:
    tag = row.values[col]
    if not _valid_lang(tag):
        raise row.error(col, f"quote_lang {tag!r} is not a BCP 47 language tag (e.g. en, ar)")
    return tag


def _valid_lang(tag: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", tag) is not None
