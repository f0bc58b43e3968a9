"""XLSX: sheet rows written by PostgreSQL (`sheet_xml`), read by COPY straight from libpq
(`streams`) and only compressed in Python (`xlsx_package`).

No Python library fits at this speed: every one of them (openpyxl, xlsxwriter in its
constant-memory mode, pyexcelerate) takes each value as a Python object and formats
each cell in Python, 1-3 µs a cell; the 15 fields of a million contacts then take
20-60 s of the one core Python has, against about a second for the COPY itself
(`bench/exports.py` measures them side by side). Here PostgreSQL types and escapes the
cells as it reads them, and the client does what a CSV export does plus zlib.

The workbook: a bold, frozen header row of field names with an autofilter, column
widths by type, typed cells (numbers, dates and date-times with date formats, text
always a string cell, never a formula: `sheet_xml`), a new sheet every 1,048,575
records (Excel's 1,048,576 rows less the header), the header repeated on each; the
included records (`options.include`, a bid's line items) on sheets of their own.

The interface is `write_xlsx`, a `writers.Writer` like the COPY writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, BinaryIO

from psycopg import sql

from crmferry.db import Conn
from crmferry.exports.included import includable
from crmferry.exports.options import ExportOptions
from crmferry.exports.query import (
    build_export_query,
    export_columns,
    included_columns,
    included_sheet_query,
)
from crmferry.exports.sheet_xml import row_select_list
from crmferry.exports.streams import CopyStream, Progress, copy_rows_into
from crmferry.exports.xlsx_package import Workbook
from crmferry.records import DataType

MAX_XLSX_ROWS = 1_048_575  # records per sheet: Excel's 1,048,576 rows less the header
# One column of XML per line through COPY in CSV mode with control characters as quote
# and delimiter: the row XML holds neither (XML cannot), nor CR or LF (escaped), so
# COPY never quotes it and each line is the row's XML as is.
ROW_QUOTE = "\x01"
ROW_DELIMITER = "\x02"


def write_xlsx(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    out: BinaryIO,
    progress: Progress,
    chunk_rows: int,
) -> int:
    """Write the XLSX export to the stream `out`; the number of records. `progress` is called
    after every `chunk_rows` records and after the last, partial chunk."""
    columns = export_columns(data_type, options)
    query, params = build_export_query(data_type, options, row_select_list(columns))
    book = Workbook(out, data_type.label, columns)
    try:
        rows = _copy_into_sheets(conn, _row_copy(query), params, book, progress, chunk_rows)
        for name in options.include:
            # the records' own count, reported again: a cancel is seen between chunks
            done = partial(_report_again, progress, rows)
            _included_sheets(conn, book, data_type, options, name, done, chunk_rows)
    except BaseException:
        book.abandon()
        raise
    book.close()
    return rows


def _included_sheets(
    conn: Conn,
    book: Workbook,
    data_type: DataType,
    options: ExportOptions,
    name: str,
    progress: Progress,
    chunk_rows: int,
) -> None:
    """The included records `name` of the exported ones, on sheets of their own."""
    columns = included_columns(data_type, name)
    select_list = row_select_list(columns)
    query, params = included_sheet_query(data_type, options, name, select_list)
    book.next_group(includable(data_type)[name].data_type.label, columns)
    _copy_into_sheets(conn, _row_copy(query), params, book, progress, chunk_rows)


def _report_again(progress: Progress, rows: int, _: int) -> None:
    progress(rows)


def _row_copy(query: sql.Composable) -> sql.Composed:
    return sql.SQL(
        "COPY ({query}) TO STDOUT (FORMAT csv, QUOTE {quote}, DELIMITER {delimiter},"
        " ENCODING 'UTF8')"
    ).format(query=query, quote=sql.Literal(ROW_QUOTE), delimiter=sql.Literal(ROW_DELIMITER))


def _copy_into_sheets(
    conn: Conn,
    statement: sql.Composed,
    params: Sequence[Any],
    book: Workbook,
    progress: Progress,
    chunk_rows: int,
) -> int:
    """Stream the COPY's rows into the workbook's sheets, MAX_XLSX_ROWS to a sheet."""
    rows = 0
    left = MAX_XLSX_ROWS
    with conn.cursor() as cur, cur.copy(statement, params):
        stream = CopyStream(conn.pgconn, book.sheet_file())
        while not stream.done:
            if not left:
                book.next_sheet()
                stream.out = book.sheet_file()
                left = MAX_XLSX_ROWS
            got = copy_rows_into(stream, min(chunk_rows, left))
            if got:
                book.rows_written(got)
                rows += got
                left -= got
                progress(rows)
    return rows
