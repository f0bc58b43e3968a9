"""XLSX workbooks, read with openpyxl in read-only mode (streamed, so memory stays flat)
with `data_only=True`: formulas are never evaluated, the value Excel cached when it
last saved is read. A formula without a cached value (written by openpyxl, for
instance) reads as "".

The sheet read is the first visible worksheet; its records are numbered as Excel
numbers its rows. The archive's sizes are checked (`archive`) before anything is parsed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from crmferry.errors import FileUnreadable
from crmferry.imports.reading.archive import check_archive, reason
from crmferry.imports.reading.info import FileInfo, ReadLimits, Record, StrPath
from crmferry.imports.reading.rows import data_rows, preview_rows, split_header

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

_CHUNK_BYTES = 1024 * 1024
_ROW_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")  # <row ...>, <x:row ...>


def sniff_xlsx(path: StrPath, head: bytes, limits: ReadLimits) -> FileInfo:
    """Describe the workbook's sheet: headers, preview, row estimate, sheet title.

    FileUnreadable for a workbook that cannot be opened or read; ValidationFailed past
    a limit."""
    with _workbook(path, limits) as workbook:
        sheet = _first_sheet(workbook)
        declared = sheet.max_row  # from the sheet's <dimension>: may be absent or wrong
        records = _sheet_records(sheet)
        header_row, headers = split_header(records)
        rows = data_rows(records, header_row, headers, limits)
        preview = preview_rows(rows)
        if declared is not None and declared - header_row >= len(preview):
            estimate = declared - header_row
        else:  # no usable dimension
            estimate = max(_count_row_elements(path, sheet) - header_row, len(preview))
    return FileInfo("xlsx", None, None, tuple(headers), preview, estimate, header_row, sheet.title)


def xlsx_records(
    path: StrPath, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    """Every row of the sheet `info` names, as text, numbered as Excel numbers them."""
    with _workbook(path, limits) as workbook:
        sheet = _first_sheet(workbook, info.sheet)
        yield from _sheet_records(sheet)


def cell_text(value: object) -> str:
    """A cell value as the text a CSV export would hold (dates as ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _float_text(value: float) -> str:
    # Excel keeps 15 significant digits: 0.1 + 0.2 shows as 0.3, and so do we.
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _count_row_elements(path: StrPath, sheet: ReadOnlyWorksheet) -> int:
    """The <row> elements of the sheet's XML, counted on the raw stream (memory-flat and
    some 100 times faster than parsing); they include formatted blank rows."""
    member = getattr(sheet, "_worksheet_path", None)  # openpyxl keeps it; private
    if not isinstance(member, str):
        return 0
    count, carry = 0, b""
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            data = carry + chunk
            cut = max(data.rfind(b"<"), 0)  # a tag never straddles two counted pieces
            count += len(_ROW_ELEMENT.findall(data, 0, cut))
            carry = data[cut:]
    return count + len(_ROW_ELEMENT.findall(carry))


@contextmanager
def _workbook(path: StrPath, limits: ReadLimits) -> Iterator[Workbook]:
    """The workbook opened read-only with cached values, after the zip-bomb check."""
    check_archive(path, limits)
    # A file object, not the path: openpyxl would refuse a name not ending in .xlsx.
    with open(path, "rb") as handle:
        try:
            workbook = openpyxl.load_workbook(
                handle, read_only=True, data_only=True, keep_links=False
            )
        except Exception as exc:  # any parser failure means a broken workbook, said plainly
            raise FileUnreadable(f"The XLSX workbook cannot be opened: {reason(exc)}.") from exc
        try:
            yield workbook
        finally:
            workbook.close()


def _first_sheet(workbook: Workbook, title: str | None = None) -> ReadOnlyWorksheet:
    """The sheet named `title`, else the first visible worksheet (hidden ones are usually
    lookup tables), else the first worksheet."""
    sheets = [s for s in workbook.worksheets if isinstance(s, ReadOnlyWorksheet)]
    if title is not None:
        sheets = [s for s in sheets if s.title == title]
    visible = [s for s in sheets if s.sheet_state == "visible"]
    if not sheets:
        missing = f"no sheet named '{title}'" if title else "no worksheet"
        raise FileUnreadable(f"The XLSX workbook has {missing}.")
    return (visible or sheets)[0]


def _sheet_records(sheet: ReadOnlyWorksheet) -> Iterator[Record]:
    """Every row of the sheet as text, numbered as Excel numbers them."""
    # Forget the declared dimension: openpyxl would otherwise stop at a wrong one,
    # or pad every row to a huge declared width.
    sheet.reset_dimensions()
    try:
        for number, values in enumerate(sheet.values, start=1):
            yield number, [cell_text(value) for value in values]
    except Exception as exc:  # a malformed sheet surfaces mid-stream as any parser error
        raise FileUnreadable(f"The XLSX workbook cannot be read: {reason(exc)}.") from exc
