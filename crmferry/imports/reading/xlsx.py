"""XLSX workbooks: the first visible worksheet's values as text, numbered as Excel numbers
its rows.

openpyxl reads the workbook's small parts (the sheet list, styles for dates, the 1904
flag) and turns each cell into a value (`WorkSheetParser.parse_row`, as its read-only
mode does) with `data_only`: formulas are never evaluated, the value Excel cached when
it last saved is read, and a formula without a cached value (written by openpyxl, for
instance) reads as "". The rows and the shared strings are streamed by `xlsx_parts`,
each element dropped once read; sniffing reads only the shared strings of the rows it
looks at, and finds a report's footer at the sheet's end by inflating its XML once
without parsing it (`xlsx_tail`). The archive's sizes are checked (`archive`) before
anything is parsed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from typing import Any, TypeVar, cast

from openpyxl.packaging.relationship import get_rels_path
from openpyxl.reader.excel import ExcelReader, _find_workbook_part  # type: ignore[attr-defined]
from openpyxl.utils.escape import unescape
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS

from crmferry.errors import CrmFerryError, FileUnreadable, ValidationFailed
from crmferry.imports.reading.archive import check_archive, check_read_whole, reason
from crmferry.imports.reading.cells import cell_text as plain_cell_text
from crmferry.imports.reading.info import (
    NO_CHOICES,
    FileInfo,
    ReadChoices,
    ReadLimits,
    Record,
    SheetInfo,
    StrPath,
)
from crmferry.imports.reading.rows import (
    HEADER_SCAN_ROWS,
    PREVIEW_ROWS,
    TAIL_RECORDS,
    PreviewProblems,
    check_last_row,
    data_rows,
    find_header_row,
    find_last_row,
    preview_rows,
    split_header,
    up_to,
)
from crmferry.imports.reading.xlsx_parts import (
    SharedStrings,
    date_styles,
    declared_rows,
    iter_row_elements,
    resolve_strings,
)
from crmferry.imports.reading.xlsx_scan import RowScanner, ScanUnsupported, load_shared_strings
from crmferry.imports.reading.xlsx_tail import sheet_end


def cell_text(value: object) -> str:
    """A cell as text (`cells.cell_text`), with the workbook's `_xHHHH_` escapes of text
    undone: Excel writes a CR as `_x000D_` and a literal `_x000D_` as `_x005F_x000D_`,
    which openpyxl leaves as they are (calamine undoes them itself)."""
    if isinstance(value, str) and "_x" in value:
        return unescape(value)
    return plain_cell_text(value)


# Sniffing looks at this many rows at most (blank ones included), as it looks at the
# first 64 KiB of a text file, resolving their shared strings a chunk at a time.
SNIFF_MAX_ROWS = 10_000
SNIFF_MAX_CHARS = 8 * 1024 * 1024  # of shared strings' text, all chunks together
_FIRST_CHUNK_ROWS = 32
_MAX_CHUNK_CELLS = 50_000

Values = tuple[int, list[Any]]
T = TypeVar("T")


def sniff_xlsx(
    path: StrPath, head: bytes, limits: ReadLimits, choices: ReadChoices = NO_CHOICES
) -> FileInfo:
    """Describe the workbook's sheet: headers, preview, row estimate, sheet title.

    FileUnreadable for a workbook that cannot be opened or read, or whose first
    SNIFF_MAX_ROWS rows are blank; ValidationFailed past a limit."""
    with _open_book(path, limits) as book:
        sheet = _first_sheet(book, choices.sheet)
        declared = _guarded(lambda: declared_rows(book.archive, sheet.part))  # may be wrong
        rows = _sheet_values(book, sheet, _SharedStringRefs(), most=SNIFF_MAX_ROWS)
        resolved = _resolved(book, rows)
        first = list(islice(resolved, HEADER_SCAN_ROWS))
        records = chain(first, resolved)
        header_row, headers = split_header(
            records,
            f"The sheet '{sheet.title}' has no header row in its first {SNIFF_MAX_ROWS:,} "
            "rows: they are blank.",
            choices.header_row or find_header_row(first),
        )
        last_row, counted = _footer_and_count(book, sheet, declared, choices, header_row, headers)
        check_last_row(last_row, header_row)
        table = up_to(records, last_row)
        problems = PreviewProblems()
        preview = preview_rows(data_rows(table, header_row, headers, limits, problems.add))
        if declared is not None and declared - header_row >= len(preview):
            estimate = declared - header_row
        else:  # no usable dimension
            estimate = max((counted or 0) - header_row, len(preview))
        if last_row is not None:
            estimate = max(min(estimate, last_row - header_row), len(preview))
    sheets = tuple(SheetInfo(s.title, s.state != "visible") for s in book.sheets)
    return FileInfo(
        "xlsx",
        None,
        None,
        tuple(headers),
        preview,
        estimate,
        header_row,
        sheet.title,
        last_row=last_row,
        sheets=sheets,
        problems=tuple(problems),
    )


def xlsx_records(
    path: StrPath, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    """Every row of the sheet `info` names, as text, numbered as Excel numbers them.

    Memory holds the shared-string table (compact) and one row."""
    with _open_book(path, limits) as book:
        sheet = _first_sheet(book, info.sheet)
        try:
            yield from _scanned_records(book, sheet)
        except ScanUnsupported:  # raised before the first row: read the sheet as before
            yield from _parsed_records(book, sheet)


def _scanned_records(book: _Book, sheet: _Sheet) -> Iterator[Record]:
    """The rows by `xlsx_scan` (its expressions; a row they do not read whole parsed)."""
    strings = _guarded(lambda: load_shared_strings(book.archive, book.strings_path))
    scanner = RowScanner(strings, book.dates, book.durations, book.workbook.epoch, cell_text)
    rows = scanner.rows(book.archive, sheet.part)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except (CrmFerryError, ScanUnsupported):
            raise
        except Exception as exc:  # a malformed cell, as the parser would refuse it
            raise FileUnreadable(f"The XLSX workbook cannot be read: {reason(exc)}.") from exc
        yield row


def _parsed_records(book: _Book, sheet: _Sheet) -> Iterator[Record]:
    """The rows by ElementTree and openpyxl's cell parsing, for a sheet the scanner does
    not read (namespace prefixes, another encoding)."""
    strings = _guarded(lambda: SharedStrings.load(book.archive, book.strings_path))
    for number, values in _sheet_values(book, sheet, strings):
        yield number, [cell_text(value) for value in values]


# ---------------------------------------------------------------- the workbook


@dataclass(frozen=True)
class _Sheet:
    title: str
    state: str  # visible, hidden, veryHidden
    part: str  # its member in the archive


class _WorkbookReader(ExcelReader):  # type: ignore[misc]
    """openpyxl's reader of the workbook's small parts: the sheet list and the 1904 flag.
    Neither the shared strings, nor the styles, nor any sheet is read here: openpyxl
    would hold all of the strings in memory, build the whole stylesheet, and parse a
    sheet without a <dimension> to its end to size it."""

    strings_path: str | None = None
    sheets: list[_Sheet]

    def read(self) -> None:
        self.read_manifest()
        self.read_strings()
        workbook = _find_workbook_part(self.package).PartName[1:]
        for name in (workbook, get_rels_path(workbook)):  # type: ignore[no-untyped-call]
            if name in self.valid_files:
                check_read_whole(self.archive.getinfo(name))
        self.read_workbook()
        self.read_worksheets()

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]
        self.strings_path = part.PartName[1:] if part is not None else None

    def read_worksheets(self) -> None:
        self.sheets = [
            _Sheet(sheet.name, sheet.state or "visible", rel.target)
            for sheet, rel in self.parser.find_sheets()
            if rel.target in self.valid_files and "chartsheet" not in rel.Type
        ]


@dataclass(frozen=True)
class _Book:
    workbook: Workbook
    archive: zipfile.ZipFile
    strings_path: str | None
    sheets: list[_Sheet]
    dates: set[int]  # the cell styles that show dates
    durations: set[int]  # ... and of those, durations


@contextmanager
def _open_book(path: StrPath, limits: ReadLimits) -> Iterator[_Book]:
    """The workbook opened read-only with cached values, after the zip-bomb check."""
    check_archive(path, limits)
    # A file object, not the path: openpyxl would refuse a name not ending in .xlsx.
    with open(path, "rb") as handle:
        try:
            reader = _WorkbookReader(handle, read_only=True, data_only=True, keep_links=False)
            reader.read()
            dates, durations = date_styles(reader.archive)
        except CrmFerryError:
            raise
        except Exception as exc:  # any parser failure means a broken workbook, said plainly
            raise FileUnreadable(f"The XLSX workbook cannot be opened: {reason(exc)}.") from exc
        try:
            yield _Book(
                reader.wb, reader.archive, reader.strings_path, reader.sheets, dates, durations
            )
        finally:
            reader.archive.close()


def _first_sheet(book: _Book, title: str | None = None) -> _Sheet:
    """The sheet named `title`, else the first visible worksheet (hidden ones are usually
    lookup tables), else the first worksheet."""
    sheets = book.sheets
    if title is not None:
        sheets = [s for s in sheets if s.title == title]
    visible = [s for s in sheets if s.state == "visible"]
    if not sheets:
        names = ", ".join(f"'{s.title}'" for s in book.sheets)
        missing = f"no sheet named '{title}'; it has {names}" if title else "no worksheet"
        raise FileUnreadable(f"The XLSX workbook has {missing}.")
    return (visible or sheets)[0]


# ---------------------------------------------------------------- rows


def _sheet_values(
    book: _Book, sheet: _Sheet, strings: Any, most: int | None = None
) -> Iterator[Values]:
    """Each row of the sheet as (Excel's row number, its values from column A to its last
    cell), as openpyxl's read-only mode gives them; rows without cells and rows out of
    order (a number not above the last one) are left out. `strings[i]` is shared string i.
    With `most`, no more than that many <row> elements are read.
    """
    workbook = book.workbook
    last = 0
    try:
        with book.archive.open(sheet.part) as source:
            parser = WorkSheetParser(
                source,  # read by us (iter_row_elements), not by the parser
                strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=book.dates,
                timedelta_formats=book.durations,
            )
            for element in islice(iter_row_elements(source), most):
                number, cells = parser.parse_row(cast(Any, element))
                parser.row_dimensions.clear()  # openpyxl would keep each row's height
                if number > last and cells:
                    last = number
                    yield number, _placed(cells)
    except CrmFerryError:
        raise
    except Exception as exc:  # a malformed sheet surfaces mid-stream as any parser error
        raise FileUnreadable(f"The XLSX workbook cannot be read: {reason(exc)}.") from exc


def _placed(cells: Sequence[dict[str, Any]]) -> list[Any]:
    """Cell values at their columns' places, up to the row's last cell (None between)."""
    width = cells[-1]["column"]
    values: list[Any] = [None] * width
    for cell in cells:
        if 1 <= cell["column"] <= width:
            values[cell["column"] - 1] = cell["value"]
    return values


def _guarded(read: Callable[[], T]) -> T:
    """`read()`, any parser failure said plainly as FileUnreadable."""
    try:
        return read()
    except CrmFerryError:
        raise
    except Exception as exc:
        raise FileUnreadable(f"The XLSX workbook cannot be read: {reason(exc)}.") from exc


# ---------------------------------------------------------------- sniffing's shared strings


@dataclass(frozen=True)
class _Ref:
    """A shared string not read yet: its index."""

    index: int


class _SharedStringRefs:
    """Shared strings as references, for `WorkSheetParser`: resolved in chunks."""

    def __getitem__(self, index: int) -> _Ref:
        return _Ref(index)


def _resolved(book: _Book, rows: Iterator[Values]) -> Iterator[Record]:
    """The rows as text, their shared strings read a chunk of rows at a time (the first
    chunk small, each next one twice as large, up to _MAX_CHUNK_CELLS cells).
    ValidationFailed past SNIFF_MAX_CHARS characters of text in all."""
    size, budget = _FIRST_CHUNK_ROWS, SNIFF_MAX_CHARS
    while chunk := _chunk(rows, size, budget):
        wanted = {v.index for _, values in chunk for v in values if isinstance(v, _Ref)}
        resolve = partial(resolve_strings, book.archive, book.strings_path, wanted, budget)
        strings = _guarded(resolve)
        for number, values in chunk:
            cells = [strings[v.index] if isinstance(v, _Ref) else cell_text(v) for v in values]
            budget -= sum(map(len, cells))
            if budget < 0:
                raise ValidationFailed(
                    f"The first rows of the sheet hold more than {SNIFF_MAX_CHARS:,} "
                    "characters of text, more than an upload's preview reads.",
                    [{"field": "file", "message": "too much text in the first rows"}],
                )
            yield number, cells
        size *= 2


def _chunk(rows: Iterator[Values], size: int, chars: int) -> list[Values]:
    """The next `size` rows, fewer when they reach _MAX_CHUNK_CELLS cells or hold
    `chars` characters of text of their own (not counting shared strings)."""
    chunk: list[Values] = []
    cells = 0
    for row in rows:
        chunk.append(row)
        cells += len(row[1])
        chars -= sum(len(v) for v in row[1] if isinstance(v, str))
        if len(chunk) >= size or cells >= _MAX_CHUNK_CELLS or chars < 0:
            break
    return chunk


def _footer_and_count(
    book: _Book,
    sheet: _Sheet,
    declared: int | None,
    choices: ReadChoices,
    header_row: int,
    headers: Sequence[str],
) -> tuple[int | None, int | None]:
    """The last data row (the chosen one, else the one before a report's footer, else
    None) and the sheet's <row> elements counted when it declares no usable size.

    Sniffing reads only the first rows; the footer is at the sheet's end, which a ZIP
    member reaches only by inflating everything before it. So the sheet's XML is
    inflated once without parsing, as the count without a <dimension> always did, its
    last 64 KiB kept (`xlsx_tail`): for a large sheet that pass costs a small part of
    what parsing its rows does, and nothing of the sheet is parsed twice. A chosen
    `last_row` with a usable declared size needs no pass at all (the import's own sniff of an
    upload whose footer was found)."""
    # a declared size smaller than a preview may be a writer's "A1" whatever the data
    count = declared is None or declared - header_row < PREVIEW_ROWS
    if choices.last_row is not None and not count:
        return choices.last_row, None
    end = _guarded(lambda: sheet_end(book.archive, sheet.part, count_rows=count))
    if choices.last_row is not None:
        return choices.last_row, end.rows
    return find_last_row(end.tail[-TAIL_RECORDS:], header_row, len(headers)), end.rows
