"""Claim tables: CSV and YAML rows in the design's import columns.

Each cell keeps its file, line and column, so every error names where it is.
Rows become :class:`~cfkb.model.vocabulary.Claim` records once their names resolve.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

import yaml

from cfkb.errors import AmbiguousNameError, InputError, ParseError, UnknownNameError
from cfkb.io.rdfio import decode, refuse_markup
from cfkb.model.names import EntityIndex
from cfkb.model.spelling import expand_curie, normalize
from cfkb.model.terms import RoleTypes, new_entity_iri, resolve_predicate
from cfkb.model.vocabulary import CREDIBILITY, MODALITIES, RELIABILITY, TLP_LEVELS, Claim
from cfkb.store.guard import check_size, limits

_T = TypeVar("_T")

REQUIRED = ("subject", "predicate", "object", "source")
COLUMNS = REQUIRED + (
    "negated", "area", "election", "speaker", "date", "quote", "quote_lang", "cited_in", "url",
    "reliability", "credibility", "tlp",
    # extensions to the design's columns
    "modality", "comment", "valid_from", "valid_until", "paraphrase",
)
ENTITY_COLUMNS = ("subject", "object", "source", "area", "election", "speaker", "cited_in")
MAX_ROWS = 5_000_000
MAX_CELL = 100_000


@dataclass
class Cell:
    value: str
    line: int
    column: int


class Row:
    """One claim row: its cells' text by column, and where each cell is.

    A CSV row keeps its line's text and works out the cells' columns only
    when something asks (an error message): a 100k-row table needs them for
    none of its rows, or a few.
    """

    __slots__ = ("path", "line", "column", "values", "_cells", "_source")

    def __init__(self, path: str, line: int, cells: dict[str, Cell] | None = None, column: int = 1, *,
                 values: dict[str, str] | None = None, source: tuple[str, list[str], list[str]] | None = None
                 ) -> None:
        self.path = path
        self.line = line
        self.column = column
        if cells is None and source is None:
            cells = {}
        self._cells = cells  # None: placed on first use, from _source
        #: (line text, header keys, fields) to place the cells from, for a CSV row
        self._source = source
        #: column -> the cell's text (stripped, never empty)
        self.values = values if values is not None else {k: c.value for k, c in (cells or {}).items()}

    @property
    def cells(self) -> dict[str, Cell]:
        """Each non-empty cell with its line and column."""
        if self._cells is None:
            assert self._source is not None
            raw, keys, record = self._source
            st = _field_starts(raw)
            self._cells = {keys[i]: Cell(value.strip(), self.line, st[i] if i < len(st) else 1)
                           for i, value in enumerate(record) if value.strip()}
        return self._cells

    def error(self, column: str | None, message: str) -> ParseError:
        cell = self.cells.get(column) if column else None
        if cell is not None:
            return ParseError(self.path, cell.line, cell.column, message)
        return ParseError(self.path, self.line, self.column, message)


def _check_text(path: str, data: bytes) -> str:

    check_size(path, len(data))
    text = decode(path, data)
    refuse_markup(path, text)
    return text


def _check_header(path: str, name: str, line: int, column: int) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in COLUMNS:
        from rapidfuzz import fuzz, process

        close = process.extractOne(key, COLUMNS, scorer=fuzz.ratio, score_cutoff=60)
        hint = f"did you mean {close[0]!r}?" if close else "the columns are " + ", ".join(COLUMNS)
        raise ParseError(path, line, column, f"unknown column {name!r}; {hint}")
    return key


def _field_starts(line: str, delimiter: str = ",") -> list[int]:
    """1-based start columns of the fields of one CSV line."""
    if '"' not in line:
        starts, at = [], 1
        for f in line.split(delimiter):
            starts.append(at)
            at += len(f) + 1
        return starts
    starts, quoted = [1], False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            starts.append(i + 2)
    return starts


def read_csv(path: str, data: bytes) -> Iterator[Row]:
    """Rows of a CSV claim table (header line first)."""
    text = _check_text(path, data)
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise ParseError(path, 1, 1, f"cannot read the CSV header: {exc}") from exc
    starts = _field_starts(lines[0])
    keys = [_check_header(path, h, 1, starts[i] if i < len(starts) else 1) for i, h in enumerate(header)]
    missing = [c for c in REQUIRED if c not in keys]
    if missing:
        raise ParseError(path, 1, 1, "missing required column(s) " + ", ".join(missing)
                         + "; the header needs subject, predicate, object, source")
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        at = keys.index(duplicated[0], keys.index(duplicated[0]) + 1)
        raise ParseError(path, 1, starts[at] if at < len(starts) else 1,
                         f"column {duplicated[0]!r} appears twice in the header; keep one")
    line_no = 1
    rows = 0
    ended = reader.line_num  # the line the previous record ended on: the next one starts after it
    width = len(keys)
    strip = str.strip
    try:
        for n, record in enumerate(reader, 1):
            line_no, ended = ended + 1, reader.line_num
            if n > MAX_ROWS:
                raise ParseError(path, line_no, 1, f"more than {MAX_ROWS} rows; split the file")
            values = {k: v for k, v in zip(keys, map(strip, record), strict=False) if v}
            if not values:
                continue
            if len(record) > width:
                raise ParseError(path, line_no, 1, f"{len(record)} fields but the header has {width}")
            raw = lines[line_no - 1] if line_no - 1 < len(lines) else ""
            row = Row(path, line_no, values=values, source=(raw, keys, record))
            if len(values) < 4 or not all(c in values for c in REQUIRED):
                missing = [c for c in REQUIRED if c not in values]
                if missing:
                    column = keys.index(missing[0])
                    st = _field_starts(raw)
                    raise ParseError(path, line_no, st[column] if column < len(st) else 1,
                                     f"the row has no {', '.join(missing)}; fill in the cell(s) or delete the row")
            rows += 1
            yield row
    except csv.Error as exc:
        raise ParseError(path, reader.line_num, 1, f"malformed CSV: {exc}; check the quotes on this line") from exc
    if rows == 0:
        raise ParseError(path, 2, 1, "the table has a header but no rows; nothing to import")


class _Mark(Protocol):
    line: int
    column: int


def _position(mark: _Mark | None) -> tuple[int | None, int | None]:
    """A YAML mark's 1-based line and column."""
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def read_yaml(path: str, data: bytes) -> Iterator[Row]:
    """Rows of a YAML claim table: a list of mappings, or ``{defaults:, claims:}``."""
    text = _check_text(path, data)
    try:
        depth, max_depth = 0, limits().depth
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
            if depth > max_depth:
                raise ParseError(path, *_position(event.start_mark), f"YAML nested deeper than {max_depth} levels")
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ParseError(path, *_position(event.start_mark),
                                 "YAML anchors and aliases are not accepted in claim tables; write values out")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        line, col = (m.line + 1, m.column + 1) if m else (None, None)
        raise ParseError(path, line, col, f"YAML syntax error: {exc.problem or exc}; fix the YAML and import again"
                         ) from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ParseError(path, line, col, f"character #x{exc.character:04x} is not allowed in YAML;"
                         " remove it and import again") from exc
    except yaml.YAMLError as exc:
        raise ParseError(path, None, None, f"YAML error: {exc}") from exc
    if root is None:
        raise ParseError(path, None, None, "the file is empty; nothing to import")
    defaults: dict[str, Cell] = {}
    items = root
    if isinstance(root, yaml.MappingNode):
        sections = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
        for k, _v in root.value:
            if k.value not in ("defaults", "claims"):
                raise _yaml_error(path, k, f"unknown top-level key {k.value!r}; use 'defaults' and 'claims'")
        if "defaults" in sections:
            defaults = _yaml_cells(path, sections["defaults"])
        if "claims" not in sections:
            raise _yaml_error(path, root, "no 'claims' list")
        items = sections["claims"]
    if not isinstance(items, yaml.SequenceNode):
        raise _yaml_error(path, items, "expected a list of claims")
    if not items.value:
        raise _yaml_error(path, items, "the list of claims is empty; nothing to import")
    for n, item in enumerate(items.value, 1):
        if n > MAX_ROWS:
            raise _yaml_error(path, item, f"more than {MAX_ROWS} rows; split the file")
        cells = dict(defaults)
        cells.update(_yaml_cells(path, item))
        row = Row(path, item.start_mark.line + 1, cells, item.start_mark.column + 1)
        missing = [c for c in REQUIRED if c not in cells]
        if missing:
            raise row.error(None, "claim lacks required key(s) " + ", ".join(missing))
        yield row


def _yaml_error(path: str, node: yaml.Node, message: str) -> ParseError:
    m = node.start_mark
    return ParseError(path, m.line + 1, m.column + 1, message)


def _yaml_cells(path: str, node: yaml.Node) -> dict[str, Cell]:
    if not isinstance(node, yaml.MappingNode):
        raise _yaml_error(path, node, "expected a mapping of column: value")
    cells = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            raise _yaml_error(path, k, "keys must be plain column names")
        key = _check_header(path, k.value, k.start_mark.line + 1, k.start_mark.column + 1)
        if not isinstance(v, yaml.ScalarNode):
            raise _yaml_error(path, v, f"{key} must be a single value, not a list or mapping")
        if v.value.strip():
            cells[key] = Cell(v.value.strip(), v.start_mark.line + 1, v.start_mark.column + 1)
    return cells


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


READERS: dict[str, Callable[[str, bytes], Iterator[Row]]] = {"csv": read_csv, "yaml": read_yaml}


def read_rows(path: str, data: bytes, fmt: str) -> Iterator[Row]:
    try:
        return READERS[fmt](path, data)
    except KeyError:
        raise InputError(f"{path}: no table reader for {fmt!r}") from None
