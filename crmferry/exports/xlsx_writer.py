"""XLSX, written by openpyxl in write-only mode (constant memory) from a server-side
cursor.

A header row of field names, numbers as numeric cells (decimals formatted `0.00`),
dates as date cells, times as UTC date-time cells; text neutralised (`formulas`, in the
SELECT), then the control characters XML cannot hold dropped (the rule looks through
them, so the cell is the one dropping them first would give); every text cell is a
string cell (`inlineStr`), never a formula or an error value, whatever it holds; a CR
reads back as a line feed (XML normalises line ends), text is cut at Excel's 32,767
characters; one more sheet per 1,048,575 records (Excel's row limit).

The interface is `write_xlsx`, a `writers.Writer` like the COPY writers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from psycopg import sql
from psycopg.rows import tuple_row

from crmferry.db import Conn
from crmferry.exports.formulas import neutralised_expr
from crmferry.exports.included import includable
from crmferry.exports.options import TEXT_LIKE, ExportOptions
from crmferry.exports.query import (
    Column,
    build_export_query,
    export_columns,
    included_columns,
    included_sheet_query,
)
from crmferry.exports.streams import Progress
from crmferry.records import DataType

XLSX_FETCH_ROWS = 5_000  # rows per round trip of the server-side cursor
MAX_XLSX_CELL = 32_767
MAX_XLSX_ROWS = 1_048_575  # records per sheet: Excel's 1,048,576 rows less the header
DECIMAL_FORMAT = "0.00"

Convert = Callable[[Any], Any]


def write_xlsx(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    path: Path,
    progress: Progress,
    chunk_rows: int,
) -> int:
    """Write the XLSX export to `path`; the number of records. `progress` is called
    after each fetch of at most `chunk_rows` rows; on any exception openpyxl's
    temporary sheet files are removed."""
    columns = export_columns(data_type, options)
    query, params = build_export_query(data_type, options, xlsx_select_list(columns))
    workbook = Workbook(write_only=True)
    sheets = _Sheets(workbook, data_type.label, [c.name for c in columns])
    converters = _converters(columns, sheets.sheet)
    try:
        rows = _append_rows(conn, query, params, sheets, converters, progress, chunk_rows)
        for name in options.include:
            # the records' own count, reported again: a cancel is seen between chunks
            done = partial(_report_again, progress, rows)
            _append_included(conn, workbook, data_type, options, name, done, chunk_rows)
        workbook.save(path)
    except BaseException:
        _discard(workbook)
        raise
    return rows


def _append_included(
    conn: Conn,
    workbook: Workbook,
    data_type: DataType,
    options: ExportOptions,
    name: str,
    progress: Progress,
    chunk_rows: int,
) -> None:
    """The included records `name` of the exported ones, on sheets of their own."""
    columns = included_columns(data_type, name)
    query, params = included_sheet_query(data_type, options, name, xlsx_select_list(columns))
    title = includable(data_type)[name].data_type.label
    sheets = _Sheets(workbook, title, [c.name for c in columns])
    converters = _converters(columns, sheets.sheet)
    _append_rows(conn, query, params, sheets, converters, progress, chunk_rows)


def _report_again(progress: Progress, rows: int, _: int) -> None:
    progress(rows)


def xlsx_select_list(columns: Sequence[Column]) -> list[sql.Composable]:
    """The XLSX projection: text neutralised, every other column typed as stored."""
    return [
        sql.SQL("{} AS {}").format(neutralised_expr(c), sql.Identifier(c.name)) for c in columns
    ]


class _Sheets:
    """The workbook's sheets: one, or a new one (header repeated) every MAX_XLSX_ROWS
    records, so that an export larger than a sheet still opens in Excel."""

    def __init__(self, workbook: Workbook, title: str, header: list[str]) -> None:
        self.workbook, self.title, self.header = workbook, title, header
        self.count = 0
        self.rows_left = 0
        self.sheet: WriteOnlyWorksheet = self._next_sheet()

    def _next_sheet(self) -> WriteOnlyWorksheet:
        self.count += 1
        title = self.title if self.count == 1 else f"{self.title} ({self.count})"
        sheet: WriteOnlyWorksheet = self.workbook.create_sheet(title=title)
        sheet.append(self.header)
        self.rows_left = MAX_XLSX_ROWS
        return sheet

    def append(self, values: list[Any]) -> None:
        if not self.rows_left:
            self.sheet = self._next_sheet()
        self.sheet.append(values)
        self.rows_left -= 1


def _discard(workbook: Workbook) -> None:
    """Close an unsaved write-only workbook and remove the temporary files openpyxl keeps
    its sheets in (otherwise removed only when the process exits)."""
    for sheet in workbook.worksheets:
        writer = getattr(sheet, "_writer", None)
        if writer is None:
            continue
        with suppress(OSError, ValueError):
            if not sheet.closed:
                sheet.close()
        with suppress(OSError, ValueError):
            writer.cleanup()


def _append_rows(
    conn: Conn,
    query: sql.Composed,
    params: Sequence[Any],
    sheets: _Sheets,
    converters: list[tuple[int, Convert]],
    progress: Progress,
    chunk_rows: int,
) -> int:
    """Feed the query's rows to the sheets from a server-side cursor, chunk by chunk."""
    rows = 0
    with conn.cursor(name="crmferry_export", row_factory=tuple_row) as cur:
        cur.itersize = XLSX_FETCH_ROWS
        cur.execute(query, params)
        while chunk := cur.fetchmany(min(chunk_rows, XLSX_FETCH_ROWS)):
            for row in chunk:
                sheets.append(_converted(row, converters))
            rows += len(chunk)
            progress(rows)
    return rows


def _converted(row: tuple[Any, ...], converters: list[tuple[int, Convert]]) -> list[Any]:
    values = list(row)
    for index, convert in converters:
        if values[index] is not None:
            values[index] = convert(values[index])
    return values


def _converters(columns: Iterable[Column], sheet: WriteOnlyWorksheet) -> list[tuple[int, Convert]]:
    """Per column index, how a database value becomes a cell (identity: not listed).
    Styled cells are made for `sheet`; styles are the workbook's, shared by its sheets."""
    found: list[tuple[int, Convert]] = []
    for index, column in enumerate(columns):
        kind = column.field.type
        if column.field.sql_type == "uuid":
            found.append((index, str))
        elif kind in TEXT_LIKE or kind == "enum":
            found.append((index, partial(_text_cell, sheet)))
        elif kind == "decimal":
            found.append((index, partial(_decimal_cell, sheet)))
        elif kind == "datetime":
            found.append((index, _naive_utc))
    return found


def _text_cell(sheet: WriteOnlyWorksheet, value: str) -> Any:
    """Text stays text: control characters XML cannot hold are dropped, the length is
    cut to Excel's limit, and a value openpyxl would take for a formula (a leading `=`,
    which neutralised text never has) or an error code (`#N/A`) is forced to a string
    cell; openpyxl types any other str as one."""
    if ILLEGAL_CHARACTERS_RE.search(value) or len(value) > MAX_XLSX_CELL:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_XLSX_CELL]
    if value.startswith("=") or value in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def _decimal_cell(sheet: WriteOnlyWorksheet, value: Decimal) -> Any:
    if not value.is_finite():
        return str(value)
    cell = WriteOnlyCell(sheet, value)  # type: ignore[arg-type]  # openpyxl takes Decimal
    cell.number_format = DECIMAL_FORMAT
    return cell


def _naive_utc(value: datetime) -> datetime:
    """Excel has no time zones: an aware time becomes the naive UTC time."""
    return value.astimezone(UTC).replace(tzinfo=None)
