"""Claim tables: CSV and YAML rows in the design's import columns.

Each cell keeps its file, line and column, so every error names where it is.
Rows become :class:`~cfkb.model.vocabulary.Claim` records once their names
resolve (:mod:`cfkb.io.resolver`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from cfkb.errors import InputError, ParseError
from cfkb.io.rdfio import decode, refuse_markup
from cfkb.store.guard import check_size, limits

if TYPE_CHECKING:
    import yaml

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


#: A line with its end, as a file opened with ``newline=""`` gives it to the CSV reader.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class _Lines:
    """The lines of a table's text, one at a time (the text is never copied or split whole:
    a copy to read from took four bytes a character), each record's first kept for its messages."""

    def __init__(self, text: str) -> None:
        self._lines = _LINE.finditer(text)
        #: the first line of the record being read, without its end
        self._first = ""
        self._new = True

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines).group()
        if self._new:
            self._first, self._new = line.rstrip("\r\n"), False
        return line

    def take_first(self) -> str:
        """The first line of the record just read; the next line read begins another."""
        self._new = True
        return self._first


def read_csv(path: str, data: bytes) -> Iterator[Row]:
    """Rows of a CSV claim table (header line first)."""
    text = _check_text(path, data)
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise ParseError(path, 1, 1, f"cannot read the CSV header: {exc}") from exc
    starts = _field_starts(lines.take_first())
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
            raw = lines.take_first()
            if n > MAX_ROWS:
                raise ParseError(path, line_no, 1, f"more than {MAX_ROWS} rows; split the file")
            values = {k: v for k, v in zip(keys, map(strip, record), strict=False) if v}
            if not values:
                continue
            if len(record) > width:
                raise ParseError(path, line_no, 1, f"{len(record)} fields but the header has {width}")
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
    import yaml  # deferred: a CSV import or a one-claim command does not load it

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
    import yaml

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


READERS: dict[str, Callable[[str, bytes], Iterator[Row]]] = {"csv": read_csv, "yaml": read_yaml}


def read_rows(path: str, data: bytes, fmt: str) -> Iterator[Row]:
    try:
        return READERS[fmt](path, data)
    except KeyError:
        raise InputError(f"{path}: no table reader for {fmt!r}") from None
