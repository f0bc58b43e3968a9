"""XLSX writers measured beside ours (`crmferry.exports.xlsx_writer`, sheet XML from
PostgreSQL): xlsxwriter in constant-memory mode and pyexcelerate, fed the same rows.

Each gets what ours gets: the export's SELECT in its snapshot (text neutralised in SQL,
every other column typed as stored), read through a server-side cursor, and writes
the same workbook: a bold, frozen header with an autofilter, column widths, numbers as
numbers (decimals `0.00`), dates and times as dates with a date format, text as string
cells (control characters XML cannot hold dropped). Used by `bench/exports.py
--xlsx-candidates`; needs the `bench` extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg.rows import tuple_row

from crmferry.exports.formulas import neutralised_expr
from crmferry.exports.query import Column
from crmferry.exports.xlsx_package import column_width

FETCH_ROWS = 5_000
MAX_ROWS = 1_048_575
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def select_list(columns: Sequence[Column]) -> list[sql.Composable]:
    """The projection a Python writer needs: text neutralised, the rest typed as stored."""
    return [
        sql.SQL("{} AS {}").format(neutralised_expr(c), sql.Identifier(c.name)) for c in columns
    ]


def rows_of(conn: Any, query: sql.Composed, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name="bench_xlsx", row_factory=tuple_row) as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(query, params)
        while chunk := cur.fetchmany(FETCH_ROWS):
            yield from chunk


def converters(columns: Sequence[Column]) -> list[Callable[[Any], Any]]:
    def text(v: Any) -> Any:
        return ILLEGAL.sub("", v)[:32_767] if v is not None else None

    def naive(v: Any) -> Any:
        return v.astimezone(UTC).replace(tzinfo=None) if v is not None else None

    found: list[Callable[[Any], Any]] = []
    for c in columns:
        if c.field.sql_type == "uuid":
            found.append(lambda v: str(v) if v is not None else None)
        elif c.field.type == "datetime":
            found.append(naive)
        elif c.field.type in ("integer", "decimal", "date", "boolean"):
            found.append(lambda v: v)
        else:
            found.append(text)
    return found


def write_with_xlsxwriter(
    conn: Any, columns: Sequence[Column], query: sql.Composed, params: Sequence[Any], path: Path
) -> int:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    formats = {
        "decimal": book.add_format({"num_format": "0.00"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    convert = converters(columns)
    kinds = [c.field.type if c.field.sql_type != "uuid" else "uuid" for c in columns]
    writers: list[Callable[..., Any]] = []
    sheet: Any = None
    count, in_sheet = 0, MAX_ROWS

    def new_sheet(number: int) -> Any:
        ws = book.add_worksheet("Contacts" if number == 1 else f"Contacts ({number})")
        for i, c in enumerate(columns):
            ws.set_column(i, i, column_width(c))
            ws.write_string(0, i, c.name, bold)
        ws.freeze_panes(1, 0)
        return ws

    for row in rows_of(conn, query, params):
        if in_sheet == MAX_ROWS:
            if sheet is not None:
                sheet.autofilter(0, 0, in_sheet, len(columns) - 1)
            sheet = new_sheet(count // MAX_ROWS + 1)
            in_sheet = 0
            writers = [_xlsxwriter_cell(sheet, kind, formats.get(kind)) for kind in kinds]
        in_sheet += 1
        count += 1
        for i, value in enumerate(row):
            if value is not None:
                writers[i](in_sheet, i, convert[i](value))
    if sheet is None:
        sheet = new_sheet(1)
    sheet.autofilter(0, 0, in_sheet, len(columns) - 1)
    book.close()
    return count


def _xlsxwriter_cell(sheet: Any, kind: str, fmt: Any) -> Callable[..., Any]:
    if kind in ("integer",):
        return sheet.write_number
    if kind == "decimal":
        return lambda r, c, v: sheet.write_number(r, c, v, fmt)
    if kind in ("date", "datetime"):
        return lambda r, c, v: sheet.write_datetime(r, c, v, fmt)
    if kind == "boolean":
        return sheet.write_boolean
    return sheet.write_string


def write_with_pyexcelerate(
    conn: Any, columns: Sequence[Column], query: sql.Composed, params: Sequence[Any], path: Path
) -> int:
    """pyexcelerate keeps every row of a sheet in memory until it saves (it has no
    streaming mode): its peak RSS grows with the row count. It has no autofilter."""
    from pyexcelerate import Panes, Style, Workbook
    from pyexcelerate.Font import Font
    from pyexcelerate.Format import Format

    book = Workbook()
    convert = converters(columns)
    header = [c.name for c in columns]
    sheets: list[list[list[Any]]] = []
    for row in rows_of(conn, query, params):
        if not sheets or len(sheets[-1]) > MAX_ROWS:
            sheets.append([header])
        sheets[-1].append([convert[i](v) for i, v in enumerate(row)])
    for number, data in enumerate(sheets or [[header]], 1):
        ws = book.new_sheet("Contacts" if number == 1 else f"Contacts ({number})", data=data)
        ws.set_row_style(1, Style(font=Font(bold=True)))
        ws.panes = Panes(y=1)
        for i, c in enumerate(columns, 1):
            ws.set_col_style(i, Style(size=column_width(c)))
            kind = c.field.type
            if kind in ("decimal", "date", "datetime"):
                fmt = {"decimal": "0.00", "date": "yyyy-mm-dd"}.get(kind, "yyyy-mm-dd hh:mm:ss")
                ws.set_col_style(i, Style(size=column_width(c), format=Format(fmt)))
    book.save(str(path))
    return sum(len(s) - 1 for s in sheets)


CANDIDATES: dict[str, Callable[..., int]] = {
    "xlsx-xlsxwriter": write_with_xlsxwriter,
    "xlsx-pyexcelerate": write_with_pyexcelerate,
}
