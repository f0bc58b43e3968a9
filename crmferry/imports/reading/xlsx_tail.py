"""The end of an XLSX sheet, for sniffing: its <row> elements counted, and its last rows
told apart as blank, one-cell or wider (what a report's footer is found by).

A ZIP member cannot be read from its end: the sheet's XML is inflated front to back
once, on the raw stream, without parsing (some 100 times faster than parsing a row),
and only its last TAIL_BYTES are kept. The rows in them are looked at with regular
expressions for what `rows.find_last_row` needs (each row's number and how many of its
cells hold something), never turned into values: a shared string counts as filled
without being looked up, so a row of empty shared strings is not blank here (a footer
is then not found, and every row is read as before).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass

from crmferry.imports.reading.info import Record

TAIL_BYTES = 64 * 1024
_CHUNK_BYTES = 1024 * 1024
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_ROW_ELEMENT = re.compile(rb"<" + _PREFIX + rb"row[\s>/]")  # <row ...>, <x:row ...>
_ROW = re.compile(rb"<(" + _PREFIX + rb")row\b([^>]*?)(?:/>|>(.*?)</\1row>)", re.DOTALL)
_NUMBER = re.compile(rb"""\sr\s*=\s*["'](\d+)["']""")
_CELL = re.compile(rb"<(" + _PREFIX + rb")c\b[^>]*?(?:/>|>(.*?)</\1c>)", re.DOTALL)
# a value (<v>, also a formula's cached one) or inline text (<is><t>, rich-text runs)
_FILLED = re.compile(rb"<(?:" + _PREFIX + rb")(?:v|t)\b[^>/]*>\s*[^<\s]")


@dataclass(frozen=True)
class SheetEnd:
    rows: int | None  # the <row> elements counted (formatted blank rows too), when asked
    tail: list[Record]  # the last rows, numbered, each cell "x" (filled) or "" (blank)


def sheet_end(archive: zipfile.ZipFile, part: str, count_rows: bool) -> SheetEnd:
    """Inflate the sheet `part` once: its rows counted (with `count_rows`) and its last
    rows (see the module's docstring)."""
    count, carry, tail = 0, b"", b""
    with archive.open(part) as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            data = carry + chunk
            cut = max(data.rfind(b"<"), 0)  # a tag never straddles two counted pieces
            if count_rows:
                count += len(_ROW_ELEMENT.findall(data, 0, cut))
            carry = data[cut:]
            tail = (tail + data[:cut])[-TAIL_BYTES:]
    if count_rows:
        count += len(_ROW_ELEMENT.findall(carry))
    return SheetEnd(count if count_rows else None, tail_records(tail + carry))


def tail_records(xml: bytes) -> list[Record]:
    """The whole <row> elements of a piece of sheet XML (what is left of one cut at its
    start is not), numbered by their `r`. Empty when a row has no number (its place would be
    unknown)."""
    start = _ROW_ELEMENT.search(xml)
    if start is None:
        return []
    records: list[Record] = []
    for row in _ROW.finditer(xml, start.start()):  # (a row cut at the start has no <row)
        number = _NUMBER.search(row.group(2))
        if number is None:
            return []
        cells = [_filled(cell.group(2)) for cell in _CELL.finditer(row.group(3) or b"")]
        records.append((int(number.group(1)), cells))
    return records


def _filled(content: bytes | None) -> str:
    return "x" if content and _FILLED.search(content) else ""
