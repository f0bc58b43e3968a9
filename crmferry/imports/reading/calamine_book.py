"""Excel 97-2003 (.xls) and OpenDocument (.ods) workbooks, read by python-calamine (Rust).

The sheet read is the one chosen, else the first visible worksheet (hidden ones are
usually lookup tables). Cells come as the workbook holds them: text as written (so an
identifier with leading zeros stays "00042"), numbers as Excel shows them (15
significant digits), dates as ISO 8601. Rows are numbered as the spreadsheet numbers
them. An ODS file is a ZIP: its directory is checked (`archive`) before calamine opens
it. calamine holds the chosen sheet's cells in memory while it is read: an .xls sheet
has at most 65,536 rows, and an ODS sheet's XML is bounded by
CRMFERRY_MAX_XLSX_PART_BYTES.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from itertools import chain, islice
from typing import Any

import python_calamine as calamine

from crmferry.errors import CrmFerryError, FileUnreadable
from crmferry.imports.reading.archive import check_archive, reason
from crmferry.imports.reading.cells import cell_text
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

NAMES = {"xls": "Excel 97-2003 (.xls)", "ods": "OpenDocument (.ods)", "xlsx": "XLSX"}
SNIFF_MAX_ROWS = 10_000


def sniffer(format_name: str) -> Any:
    """The `Reader.sniff` of workbooks of `format_name` ("xls", "ods")."""

    def sniff_book(
        path: StrPath, head: bytes, limits: ReadLimits, choices: ReadChoices = NO_CHOICES
    ) -> FileInfo:
        with _opened(path, format_name, limits) as book:
            sheets = _sheets(book)
            title = _chosen_sheet(sheets, choices.sheet, format_name)
            sheet = _guarded(format_name, lambda: book.get_sheet_by_name(title))
            records = _records(format_name, sheet, most=SNIFF_MAX_ROWS)
            first = list(islice(records, HEADER_SCAN_ROWS))
            rest = chain(first, records)
            header_row, headers = split_header(
                rest,
                f"The sheet '{title}' has no header row: its first rows are blank.",
                choices.header_row or find_header_row(first),
            )
            last_row = choices.last_row
            if last_row is None:
                last_row = find_last_row(_tail(sheet), header_row, len(headers))
            check_last_row(last_row, header_row)
            table = up_to(rest, last_row)
            problems = PreviewProblems()
            preview = preview_rows(data_rows(table, header_row, headers, limits, problems.add))
            end = sheet.end[0] + 1 if sheet.end else header_row
            end = min(end, last_row or end)
            estimate = max(end - header_row, len(preview))
        return FileInfo(
            format_name,
            None,
            None,
            tuple(headers),
            preview,
            estimate,
            header_row,
            title,
            last_row=last_row,
            sheets=tuple(sheets),
            problems=tuple(problems),
        )

    return sniff_book


def records_of(format_name: str) -> Any:
    """The `Reader.records` of workbooks of `format_name`."""

    def book_records(
        path: StrPath, info: FileInfo, limits: ReadLimits
    ) -> Generator[Record, None, None]:
        with _opened(path, format_name, limits) as book:
            title = _chosen_sheet(_sheets(book), info.sheet, format_name)
            sheet = _guarded(format_name, lambda: book.get_sheet_by_name(title))
            yield from _records(format_name, sheet)

    return book_records


def _tail(sheet: Any) -> list[Record]:
    """The sheet's last TAIL_RECORDS rows, each cell "x" (filled) or "" (blank), for
    `find_last_row`. calamine has parsed the whole sheet into memory when it is opened
    and gives its rows only from the first: walking them all to keep the last ones only
    turns each row into Python values (not into text), a small part of what opening the
    sheet cost, and it reads no part of the file again."""
    _, start_column = sheet.start or (0, 0)
    pad = [""] * start_column
    tail: deque[Record] = deque(maxlen=TAIL_RECORDS)
    for number, values in enumerate(sheet.iter_rows(), start=1):
        tail.append((number, pad + ["x" if _filled(v) else "" for v in values]))
    return list(tail)


def _filled(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


@contextmanager
def sheet_records(
    path: StrPath, format_name: str, title: str, most: int | None = None
) -> Iterator[tuple[Iterator[Record], int]]:
    """The rows of sheet `title` (see `_records`) and its last row's number, the workbook
    open until the block ends. The caller has checked the file (`archive`)."""
    book = _guarded(format_name, lambda: calamine.CalamineWorkbook.from_path(str(path)))
    try:
        sheet = _guarded(format_name, lambda: book.get_sheet_by_name(title))
        last_row = sheet.end[0] + 1 if sheet.end else 0
        yield _records(format_name, sheet, most), last_row
    finally:
        book.close()


@contextmanager
def _opened(path: StrPath, format_name: str, limits: ReadLimits) -> Iterator[Any]:
    if format_name == "ods":
        check_archive(path, limits)
    book = _guarded(format_name, lambda: calamine.CalamineWorkbook.from_path(str(path)))
    try:
        yield book
    finally:
        book.close()


def _sheets(book: Any) -> list[SheetInfo]:
    return [
        SheetInfo(m.name, m.visible != calamine.SheetVisibleEnum.Visible)
        for m in book.sheets_metadata
        if m.typ == calamine.SheetTypeEnum.WorkSheet
    ]


def _chosen_sheet(sheets: list[SheetInfo], title: str | None, format_name: str) -> str:
    """The sheet named `title`, else the first visible worksheet, else the first one."""
    if title is not None:
        if any(s.name == title for s in sheets):
            return title
        names = ", ".join(f"'{s.name}'" for s in sheets)
        raise FileUnreadable(f"The workbook has no sheet named '{title}'; it has {names}.")
    visible = [s for s in sheets if not s.hidden]
    if not (visible or sheets):
        raise FileUnreadable(f"The {NAMES[format_name]} workbook has no worksheet.")
    return (visible or sheets)[0].name


def _records(format_name: str, sheet: Any, most: int | None = None) -> Iterator[Record]:
    """The sheet's rows as text, numbered as the spreadsheet numbers them. calamine gives
    every row from the first (blank ones too) but its cells only from the first column
    that holds one: the columns before it are put back, blank."""
    _, start_column = sheet.start or (0, 0)
    pad = [""] * start_column
    rows = islice(sheet.iter_rows(), most)
    try:
        for number, values in enumerate(rows, start=1):
            yield number, pad + [cell_text(v) for v in values]
    except CrmFerryError:
        raise
    except Exception as exc:  # a malformed sheet surfaces mid-stream
        what = NAMES[format_name]
        raise FileUnreadable(f"The {what} workbook cannot be read: {reason(exc)}.") from exc


def _guarded(format_name: str, read: Any) -> Any:
    try:
        return read()
    except CrmFerryError:
        raise
    except Exception as exc:
        raise FileUnreadable(
            f"The {NAMES[format_name]} workbook cannot be opened: {reason(exc)} (is it "
            "password-protected, or another kind of file?)."
        ) from exc
