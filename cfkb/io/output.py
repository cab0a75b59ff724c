"""Output that cannot attack its reader: spreadsheet cells and terminal text.

Claims quote what others wrote, and a quote can be crafted for whoever reads
it next:

* **Spreadsheets.** A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return is taken as a formula by Excel, LibreOffice and
  Google Sheets (``=cmd|' /C calc'!A0``, ``=HYPERLINK(...)``). Every CSV and
  TSV cfkb writes passes its cells through :func:`neutral_cell`, which
  prefixes such a cell with ``'`` as OWASP recommends (the quote shows, the
  formula does not run). A cell that is a plain number (``-1``, ``+2.5e3``)
  is left as it is: a spreadsheet reads it as a number, never as a formula.
  The exact values stay in the JSON and XML formats.
* **Terminals.** Escape sequences (``ESC [``, OSC ``ESC ]``, C1 controls)
  can recolour, retitle or rewrite the screen, and the bidi overrides
  (U+202A-U+202E, U+2066-U+2069) can make one text display as another.
  :func:`terminal_text` shows them escaped (``\\x1b``, ``\\u202e``) in every
  table and text rendering; JSON output stays exact.
"""

from __future__ import annotations

import csv
import io
import re

#: A cell starting with one of these is a formula to a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: UTF-8 byte order mark: spreadsheets read a CSV that starts with it as UTF-8 (Arabic stays Arabic).
BOM = b"\xef\xbb\xbf"


def neutral_cell(value: str) -> str:
    """The cell as a spreadsheet shows it without running it.

    >>> neutral_cell("=cmd|' /C calc'!A0"), neutral_cell("@SUM(A1)"), neutral_cell("-1"), neutral_cell("حقوق")
    ("'=cmd|' /C calc'!A0", "'@SUM(A1)", '-1', 'حقوق')
    """
    if value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_rows(rows: list[list[str]], *, lineterminator: str = "\n") -> str:
    """Rows as CSV text, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    for row in rows:
        writer.writerow([neutral_cell(str(cell)) for cell in row])
    return out.getvalue()


def safe_results_csv(data: bytes) -> bytes:
    """SPARQL 1.1 CSV results with every cell neutralised (RFC 4180, CRLF line ends).

    >>> safe_results_csv(b'x\\r\\n"=1+1"\\r\\nplain\\r\\n')
    b"x\\r\\n'=1+1\\r\\nplain\\r\\n"
    """
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return csv_rows(rows, lineterminator="\r\n").encode("utf-8")


def _neutral_tsv_cell(cell: str) -> str:
    # TSV terms: <iri>, _:b, "literal"@lang / "literal"^^<dt>, or a bare number or boolean
    if cell.startswith('"'):
        end = cell.rfind('"')
        lexical = cell[1:end]
        # inside the quotes a tab or CR is escaped (\t, \r); the raw ones cannot occur
        if lexical.startswith(("=", "+", "-", "@", "\\t", "\\r")) and not _NUMBER.fullmatch(lexical):
            return "\"'" + cell[1:]
        return cell
    return neutral_cell(cell)


def safe_results_tsv(data: bytes) -> bytes:
    """SPARQL 1.1 TSV results with every literal's value neutralised.

    >>> safe_results_tsv(b'?x\\t?n\\n"=HYPERLINK(1)"@en\\t-3\\n')
    b'?x\\t?n\\n"\\'=HYPERLINK(1)"@en\\t-3\\n'
    """
    lines = data.decode("utf-8").split("\n")
    out = [lines[0]] + ["\t".join(_neutral_tsv_cell(c) for c in line.split("\t")) if line else line
                        for line in lines[1:]]
    return "\n".join(out).encode("utf-8")


def safe_results(fmt: str, data: bytes) -> bytes:
    """Query results in ``fmt`` made safe for spreadsheets (CSV and TSV; other formats unchanged)."""
    if fmt == "csv":
        return safe_results_csv(data)
    if fmt == "tsv":
        return safe_results_tsv(data)
    return data


# -- terminals ---------------------------------------------------------------------

_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]


def _escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


_KEEP_NEWLINES = {cp: _escape(cp) for cp in [*_CONTROLS, *_BIDI] if cp != 0x0A}
_ONE_LINE = {cp: _escape(cp) for cp in [*_CONTROLS, *_BIDI]}
_ONE_LINE[0x0A] = "\\n"
_ONE_LINE[0x09] = _KEEP_NEWLINES[0x09] = "\\t"
_ONE_LINE[0x0D] = _KEEP_NEWLINES[0x0D] = "\\r"


def terminal_text(text: str, *, newlines: bool = True) -> str:
    """Text to print on a terminal: controls and bidi overrides escaped, never raw.

    ``newlines``: keep line breaks (running text); ``False`` escapes them too
    (a table cell, one line).

    >>> terminal_text("a\\x1b]0;owned\\x07b\\u202ec")
    'a\\\\x1b]0;owned\\\\x07b\\\\u202ec'
    >>> terminal_text("two\\nlines"), terminal_text("two\\nlines", newlines=False)
    ('two\\nlines', 'two\\\\nlines')
    """
    return text.translate(_KEEP_NEWLINES if newlines else _ONE_LINE)
