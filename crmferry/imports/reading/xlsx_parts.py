"""The heavy parts of an XLSX workbook, streamed: a worksheet's rows and the shared
strings. Each XML element is dropped from the tree once it has been read, so memory
holds one row (or one string) whatever the part's size; openpyxl's own readers keep
every element they have read, emptied but attached, and all the shared strings.

`SharedStrings` is the whole table for a read of the whole sheet, compact (the strings'
UTF-8 in one buffer, an offset per string); `resolve_strings` reads only the strings a
few rows use, for sniffing. `date_styles` reads from the styles only which cell styles
show dates, where openpyxl would build the whole stylesheet as objects (some 14 bytes
of memory per byte of XML).
"""

from __future__ import annotations

import zipfile
from array import array
from collections.abc import Iterator
from typing import IO, cast
from xml.etree.ElementTree import Element, XMLPullParser

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import range_boundaries
from openpyxl.xml.constants import ARC_STYLE, SHEET_MAIN_NS

from crmferry.errors import FileUnreadable, ValidationFailed

MAX_ROW_CELLS = 16_384  # Excel's column limit
MAX_ROW_CHARS = 8 * 1024 * 1024  # 256 cells full to Excel's 32,767 characters
# XML read without an element ending: a cell's text (at most 32,767 characters) takes
# well under 1 MiB however it is written; more means one text or tag is a bomb.
MAX_ELEMENT_BYTES = 4 * 1024 * 1024
_FEED_BYTES = 64 * 1024

_ROW = f"{{{SHEET_MAIN_NS}}}row"
_CELL = f"{{{SHEET_MAIN_NS}}}c"
_SHEET_DATA = f"{{{SHEET_MAIN_NS}}}sheetData"
_DIMENSION = f"{{{SHEET_MAIN_NS}}}dimension"
_STRING = f"{{{SHEET_MAIN_NS}}}si"
_TEXT = f"{{{SHEET_MAIN_NS}}}t"
_RUN = f"{{{SHEET_MAIN_NS}}}r"
_NUMBER_FORMAT = f"{{{SHEET_MAIN_NS}}}numFmt"
_CELL_STYLES = f"{{{SHEET_MAIN_NS}}}cellXfs"
_STYLE = f"{{{SHEET_MAIN_NS}}}xf"


def iterparse(stream: IO[bytes]) -> Iterator[tuple[str, Element]]:
    """ElementTree's iterparse of start and end events, refusing (FileUnreadable) more
    than MAX_ELEMENT_BYTES of XML without one: the parser would hold a text or a tag of
    any size whole."""
    parser: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
    unevented = 0
    while data := stream.read(_FEED_BYTES):
        parser.feed(data)
        found = False
        for pair in parser.read_events():
            found = True
            yield cast(tuple[str, Element], pair)
        unevented = 0 if found else unevented + len(data)
        if unevented > MAX_ELEMENT_BYTES:
            raise FileUnreadable(
                f"The XLSX workbook holds a text or tag of more than {MAX_ELEMENT_BYTES:,} "
                "bytes, where a cell holds at most 32,767 characters."
            )
    parser.close()
    for pair in parser.read_events():
        yield cast(tuple[str, Element], pair)


def iter_row_elements(stream: IO[bytes]) -> Iterator[Element]:
    """Each complete <row> element of a worksheet's XML, in order; it is dropped from
    the tree when the next one is asked for. Stops at the end of <sheetData>.

    FileUnreadable for a row of more than MAX_ROW_CELLS cells or MAX_ROW_CHARS
    characters of text."""
    open_elements: list[Element] = []
    row_depth = 0  # the open row's place in `open_elements`, 0 outside rows
    cells = chars = 0
    for event, element in iterparse(stream):
        if event == "start":
            open_elements.append(element)
            if element.tag == _ROW:
                row_depth, cells, chars = len(open_elements), 0, 0
            continue
        open_elements.pop()
        if row_depth and len(open_elements) >= row_depth:  # inside the row: kept for now
            cells += element.tag == _CELL
            chars += len(element.text or "")
            if cells > MAX_ROW_CELLS or chars > MAX_ROW_CHARS:
                raise FileUnreadable(
                    f"A row of the sheet holds more than {MAX_ROW_CELLS:,} cells or "
                    f"{MAX_ROW_CHARS:,} characters, more than a spreadsheet holds."
                )
            continue
        if element.tag == _ROW:
            row_depth = 0
            yield element
        elif element.tag == _SHEET_DATA:
            return
        if open_elements:
            open_elements[-1].remove(element)  # its only child: each is removed at its end


def declared_rows(archive: zipfile.ZipFile, member: str) -> int | None:
    """The last row the sheet's <dimension> declares (it may be wrong), None without one
    (or with one that names no range); read no further than the start of <sheetData>."""
    open_elements: list[Element] = []
    with archive.open(member) as stream:
        for event, element in iterparse(stream):
            if event == "end":
                open_elements.pop()
                if open_elements:
                    open_elements[-1].remove(element)
                continue
            if element.tag == _DIMENSION:
                return _last_row(element.get("ref", ""))
            if element.tag == _SHEET_DATA:
                return None
            open_elements.append(element)
    return None


def _last_row(ref: str) -> int | None:
    try:
        return range_boundaries(ref)[3]
    except (ValueError, TypeError):
        return None


def iter_shared_strings(stream: IO[bytes]) -> Iterator[str]:
    """The text of each shared string (<si>) in order, as openpyxl reads it: the plain
    text and the rich-text runs, without phonetic guides."""
    root: Element | None = None
    for event, element in iterparse(stream):
        if root is None:
            root = element
        if event == "end" and element.tag == _STRING:
            yield _string_text(element).replace("x005F_", "")
            root.clear()  # the <sst> element: its strings read so far


def _string_text(element: Element) -> str:
    parts = []
    for child in element:
        if child.tag == _TEXT:
            parts.append(child.text or "")
        elif child.tag == _RUN:
            parts.append(child.findtext(_TEXT) or "")
    return "".join(parts)


class SharedStrings:
    """A workbook's whole shared-string table, held compactly: about the strings' UTF-8
    size plus 8 bytes each, where a list of str would take some 60 bytes more each."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")
        self._view = memoryview(b"")

    @classmethod
    def load(cls, archive: zipfile.ZipFile, member: str | None) -> SharedStrings:
        """The table of part `member` (None: a workbook without shared strings)."""
        table = cls()
        if member is not None:
            with archive.open(member) as stream:
                for text in iter_shared_strings(stream):
                    table._data += text.encode("utf-8")
                    table._ends.append(len(table._data))
        table._view = memoryview(table._data)  # from now on the buffer never grows
        return table

    @classmethod
    def of(cls, data: bytearray, ends: array[int]) -> SharedStrings:
        """The table of strings already read: `data` their UTF-8, `ends` where each
        ends in it."""
        table = cls()
        table._data, table._ends, table._view = data, ends, memoryview(data)
        return table

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        """The string at `index`; IndexError past the table's end (or below 0)."""
        if index < 0:
            raise IndexError(index)
        start = self._ends[index - 1] if index else 0
        return str(self._view[start : self._ends[index]], "utf-8")


def resolve_strings(
    archive: zipfile.ZipFile, member: str | None, wanted: set[int], max_chars: int
) -> dict[int, str]:
    """The shared strings at the `wanted` indexes, reading the part only as far as the
    last of them. FileUnreadable when the table has no string at one of them;
    ValidationFailed when they hold more than `max_chars` characters together."""
    found: dict[int, str] = {}
    chars = 0
    if wanted and member is not None:
        last = max(wanted)
        with archive.open(member) as stream:
            for index, text in enumerate(iter_shared_strings(stream)):
                if index in wanted:
                    found[index] = text
                    chars += len(text)
                    if chars > max_chars:
                        raise ValidationFailed(
                            f"The first rows of the sheet hold more than {max_chars:,} "
                            "characters of text, more than an upload's preview reads.",
                            [{"field": "file", "message": "too much text in the first rows"}],
                        )
                if index >= last:
                    break
    missing = wanted - found.keys()
    if missing:
        raise FileUnreadable(
            f"The XLSX workbook cannot be read: a cell refers to shared string {min(missing)}, "
            "which the workbook does not have."
        )
    return found


def date_styles(archive: zipfile.ZipFile) -> tuple[set[int], set[int]]:
    """The cell styles (indexes in <cellXfs>) whose number format shows a date or time,
    and those among them that show a duration, as openpyxl tells them apart; both
    empty for a workbook without styles."""
    dates: set[int] = set()
    durations: set[int] = set()
    if ARC_STYLE not in archive.namelist():
        return dates, durations
    custom: dict[int, str] = {}
    open_elements: list[Element] = []
    in_cell_styles, index = False, 0
    with archive.open(ARC_STYLE) as stream:
        for event, element in iterparse(stream):
            if event == "start":
                open_elements.append(element)
                in_cell_styles = in_cell_styles or element.tag == _CELL_STYLES
                continue
            open_elements.pop()
            if element.tag == _NUMBER_FORMAT:
                custom[int(element.get("numFmtId", 0))] = element.get("formatCode", "")
            elif element.tag == _STYLE and in_cell_styles:
                number = int(element.get("numFmtId", 0))
                code = custom[number] if number in custom else BUILTIN_FORMATS.get(number)
                if code and is_date_format(code):
                    dates.add(index)
                if code and is_timedelta_format(code):
                    durations.add(index)
                index += 1
            elif element.tag == _CELL_STYLES:
                in_cell_styles = False
            if open_elements:
                open_elements[-1].remove(element)
    return dates, durations
