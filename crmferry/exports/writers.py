"""Writing an export file: CSV and JSON Lines through COPY, XLSX through a server-side cursor.

`write_export` is the one entry point. It must run inside the export's REPEATABLE READ
tenant transaction (`crmferry.exports.snapshot.snapshot_transaction`) so that the whole
file is one snapshot of one organization's rows. The file is written as
`<out_path>.part` and renamed at the end: a reader never sees half a file, and on any
exception (including `JobCancelled` raised by `progress`) the partial file is removed
and the exception re-raised.

Formula injection (OWASP "CSV Injection"): a text cell that a spreadsheet would run as
a formula is prefixed with a single quote `'`. The rule, for text, e-mail and phone
fields in CSV and XLSX (never JSON Lines, which no spreadsheet opens):

* a value whose first character is `=` `+` `-` `@` tab or CR gets a leading `'`;
* so does a value that starts with one or more `'` followed by one of those, so that
  the rule is exactly reversible (`restore_formula` removes one quote from any value
  matching `'+[=+\\-@\\t\\r]...`; imports use it and a round trip changes nothing);
* values that merely look like signed numbers in a *text* field, such as the phone
  `+1 555 0100` or `-5`, are prefixed too. No exception is made for them: a spreadsheet
  would not keep them as typed anyway (`+1 555 0100` evaluates to `#NULL!`, `+15550100`
  loses its `+`, `-5-3` becomes `-8`), and a pattern of "safe-looking" values is one
  more parser for an attacker to get around. The prefix keeps the text as text.
* numbers stored in numeric columns (integer, decimal) are numbers, never prefixed:
  `-5.00` in CSV, a numeric cell in XLSX; so is the `id` (a uuid).

The rule runs inside PostgreSQL (a CASE on each text column), so CSV stays a plain
`COPY (SELECT ...) TO STDOUT`, the fastest path there is; XLSX uses the same SQL.

Formats:

* CSV: RFC 4180 quoting by PostgreSQL (fields holding the delimiter, quotes, CR or LF
  are quoted, quotes doubled); LF line ends; UTF-8 with a BOM unless `bom` is false;
  header = field names; empty fields are empty; decimals as stored (`1234.50`);
  dates `YYYY-MM-DD`; times in UTC. Given `connect`, an export of more than
  SPLIT_MIN_ROWS rows in the default order is read as two COPY streams of one snapshot
  at once, like `pg_dump -j` (`crmferry.exports.split`): the same bytes, about half
  the time the neutralisation takes in one backend.
* XLSX: a header row of field names, numbers as numeric cells (decimals formatted
  `0.00`), dates as date cells, times as UTC date-time cells; text neutralised as
  above; XML-illegal control characters are dropped, a CR reads back as a line feed
  (XML normalises line ends), text is cut at Excel's 32,767 characters; one more sheet
  per 1,048,575 records (Excel's row limit). openpyxl's write-only mode keeps memory
  constant.
* JSON Lines: one compact `row_to_json` object per record, keys in field order;
  integers and decimals are JSON *numbers* written exactly as PostgreSQL stores them (`1234.50`,
  scale kept, never through a float: read them with a decimal-aware parser, e.g.
  `json.loads(line, parse_float=Decimal)`, to keep them exact); dates `"YYYY-MM-DD"`;
  times ISO 8601 in UTC (`"2024-05-01T09:30:00+00:00"`); empty fields `null`. Lines
  come from COPY in CSV mode with control characters as quote and delimiter, which
  valid JSON never contains unescaped, so each line is the JSON text as is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from psycopg import sql
from psycopg.rows import tuple_row

from crmferry.db import Conn
from crmferry.exports.options import TEXT_LIKE, ExportOptions
from crmferry.exports.query import (
    Column,
    build_export_query,
    build_json_export_query,
    build_split_export_queries,
    export_columns,
    splittable,
)
from crmferry.exports.split import Connect, Split
from crmferry.exports.streams import FILE_BUFFER, CopyStream, Progress, copy_into_files
from crmferry.records import DataType

CHUNK_ROWS = 10_000  # rows between progress calls (and cancellation checks)
XLSX_FETCH_ROWS = 5_000  # rows per round trip of the server-side cursor
UTF8_BOM = b"\xef\xbb\xbf"
MAX_XLSX_CELL = 32_767
DECIMAL_FORMAT = "0.00"

FORMULA_TRIGGERS = "=+-@\t\r"
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")
# The same rule in SQL. The backend running the COPY evaluates it for every text cell,
# so it is most of what a CSV export costs over a bare COPY; hence tests on the first
# character's code, `ascii(v)` (one cheap call, no collation, unlike a text comparison),
# common cases first and no IN list (an array scan) on their paths. Every trigger and
# the quote are below 'A' (65): letters and accented text leave after one test, digits
# (48-57) after three; then = and @ (61, 64); then tab, CR, + and - (9, 13, 43, 45);
# then a run of quotes before a trigger (rare). NULL and '' fall through to ELSE.
# (callgrind, the bench's contacts: 30% fewer instructions for the neutralisation than
# the former first test `v >= 'A' COLLATE "C"` and one IN list of all six triggers.)
_NEUTRALISE_SQL = sql.SQL(
    "CASE WHEN ascii({v}) >= 65 THEN {v}"
    " WHEN ascii({v}) >= 48 THEN"
    " CASE WHEN ascii({v}) < 61 THEN {v} WHEN ascii({v}) IN (61, 64) THEN '''' || {v} ELSE {v} END"
    " WHEN ascii({v}) IN (43, 45, 9, 13) THEN '''' || {v}"
    " WHEN ascii({v}) = 39 AND ascii(ltrim({v}, '''')) IN (9, 13, 43, 45, 61, 64)"
    " THEN '''' || {v}"
    " ELSE {v} END"
)


@dataclass(frozen=True)
class ExportResult:
    record_count: int
    size_bytes: int


def neutralise_formula(value: str) -> str:
    """`value` with a leading `'` when a spreadsheet would read it as a formula
    (first character, after any leading quotes, one of = + - @ tab CR)."""
    first = value.lstrip("'")[:1]
    return "'" + value if first and first in FORMULA_TRIGGERS else value


def restore_formula(value: str) -> str:
    """The inverse of `neutralise_formula`: what an import does with an exported cell."""
    return value[1:] if _NEUTRALISED.match(value) else value


def neutralise_formula_sql(expr: sql.Composable) -> sql.Composable:
    """`neutralise_formula` as an SQL expression over the text expression `expr`."""
    return _NEUTRALISE_SQL.format(v=expr)


def write_export(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    out_path: Path,
    progress: Progress,
    chunk_rows: int = CHUNK_ROWS,
    *,
    connect: Connect | None = None,
    expected_rows: int | None = None,
) -> ExportResult:
    """Write the export described by `options` to `out_path`; return its size and count.

    `conn` must be in the export's REPEATABLE READ tenant transaction. `progress(rows)`
    is called after every `chunk_rows` rows and after the last, partial chunk; whatever
    it raises (JobCancelled) stops the export, removes the partial files and propagates.

    With `connect` (new autocommit application-role connections, `Database.app_connect`),
    a CSV export of more than SPLIT_MIN_ROWS rows (`expected_rows` when known, otherwise
    the planner's estimate) is read as two COPY streams at once, in one snapshot; the
    file is the same byte for byte.
    """
    writer = _WRITERS[options.format]
    if options.format == "csv" and connect is not None:
        writer = partial(_write_csv, split=Split(connect, expected_rows))
    part = out_path.with_name(out_path.name + ".part")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        count = writer(conn, data_type, options, part, progress, chunk_rows)
        os.replace(part, out_path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return ExportResult(record_count=count, size_bytes=out_path.stat().st_size)


# CSV ----------------------------------------------------------------------------------


def csv_select_list(columns: Sequence[Column]) -> list[sql.Composable]:
    """The CSV projection: text neutralised, booleans as true/false, the rest as stored."""
    return [
        sql.SQL("{} AS {}").format(_csv_expr(column), sql.Identifier(column.name))
        for column in columns
    ]


def _csv_expr(column: Column) -> sql.Composable:
    if _neutralised(column):
        return neutralise_formula_sql(column.expr)
    if column.field.type == "boolean":
        return sql.SQL("{}::text").format(column.expr)
    return column.expr


def _neutralised(column: Column) -> bool:
    """Text that may hold a formula: a text-like field stored as text (not the `id`,
    a uuid, whose text never starts with a trigger)."""
    return column.field.type in TEXT_LIKE and column.field.sql_type == "text"


def _write_csv(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    path: Path,
    progress: Progress,
    chunk_rows: int,
    split: Split | None = None,
) -> int:
    select_list = csv_select_list(export_columns(data_type, options))
    query, params = build_export_query(data_type, options, select_list)
    prefix = UTF8_BOM if options.bom else b""
    if split is not None and splittable(options):
        first_rows = split.first_part_rows(conn, query, params)
        if first_rows is not None:
            first, second = build_split_export_queries(data_type, options, select_list, first_rows)
            parts = (
                (_csv_copy(first[0], options, header=True), first[1]),
                (_csv_copy(second[0], options, header=False), second[1]),
            )
            rows = split.copy_in_two(conn, parts, path, prefix, progress, chunk_rows)
            if rows is not None:
                return rows
    with path.open("wb", buffering=FILE_BUFFER) as out:
        out.write(prefix)
        copy = _csv_copy(query, options, header=True)
        return _copy_to(conn, copy, params, out, progress, chunk_rows, header_lines=1)


def _csv_copy(query: sql.Composable, options: ExportOptions, header: bool) -> sql.Composed:
    return sql.SQL(
        "COPY ({query}) TO STDOUT"
        " (FORMAT csv, HEADER {header}, DELIMITER {delimiter}, ENCODING 'UTF8')"
    ).format(
        query=query,
        header=sql.SQL("true" if header else "false"),
        delimiter=sql.Literal(options.delimiter),
    )


def _copy_to(
    conn: Conn,
    statement: sql.Composed,
    params: Sequence[Any],
    out: BinaryIO,
    progress: Progress,
    chunk_rows: int,
    header_lines: int = 0,
) -> int:
    """Stream `COPY ... TO STDOUT` into `out` in chunks; return the number of rows.

    COPY takes no bound parameters, so psycopg binds `params` client-side (quoted
    literals, never our string-building).
    """
    with conn.cursor() as cur, cur.copy(statement, params):
        stream = CopyStream(conn.pgconn, out, header_lines)
        return copy_into_files([stream], progress, chunk_rows)


# JSON Lines ---------------------------------------------------------------------------

JSON_QUOTE = "\x01"  # never unescaped in JSON text: COPY in CSV mode never quotes a line
JSON_DELIMITER = "\x02"


def _write_jsonl(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    path: Path,
    progress: Progress,
    chunk_rows: int,
) -> int:
    query, params = build_json_export_query(data_type, options)
    copy = sql.SQL(
        "COPY ({query}) TO STDOUT (FORMAT csv, QUOTE {quote}, DELIMITER {delimiter},"
        " ENCODING 'UTF8')"
    ).format(query=query, quote=sql.Literal(JSON_QUOTE), delimiter=sql.Literal(JSON_DELIMITER))
    with path.open("wb", buffering=FILE_BUFFER) as out:
        return _copy_to(conn, copy, params, out, progress, chunk_rows)


# XLSX ---------------------------------------------------------------------------------

Convert = Callable[[Any], Any]
MAX_XLSX_ROWS = 1_048_575  # records per sheet: Excel's 1,048,576 rows less the header


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


def _write_xlsx(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    path: Path,
    progress: Progress,
    chunk_rows: int,
) -> int:
    columns = export_columns(data_type, options)
    query, params = build_export_query(data_type, options, xlsx_select_list(columns))
    workbook = Workbook(write_only=True)
    sheets = _Sheets(workbook, data_type.label, [c.name for c in columns])
    converters = _converters(columns, sheets.sheet)
    try:
        rows = _append_rows(conn, query, params, sheets, converters, progress, chunk_rows)
        workbook.save(path)
    except BaseException:
        _discard(workbook)
        raise
    return rows


def xlsx_select_list(columns: Sequence[Column]) -> list[sql.Composable]:
    """The XLSX projection: text neutralised, every other column typed as stored."""
    return [
        sql.SQL("{} AS {}").format(
            neutralise_formula_sql(c.expr) if _neutralised(c) else c.expr,
            sql.Identifier(c.name),
        )
        for c in columns
    ]


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
        elif kind in TEXT_LIKE:
            found.append((index, partial(_text_cell, sheet)))
        elif kind == "decimal":
            found.append((index, partial(_decimal_cell, sheet)))
        elif kind == "datetime":
            found.append((index, _naive_utc))
    return found


def _text_cell(sheet: WriteOnlyWorksheet, value: str) -> Any:
    """Text stays text: control characters XML cannot hold are dropped, the length is
    cut to Excel's limit, and a value openpyxl would take for an error code (`#N/A`)
    is forced to a string cell. (A leading `=` never gets here: it was neutralised.)"""
    if ILLEGAL_CHARACTERS_RE.search(value) or len(value) > MAX_XLSX_CELL:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_XLSX_CELL]
    if value in ERROR_CODES:
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


Writer = Callable[[Conn, DataType, ExportOptions, Path, Progress, int], int]

_WRITERS: dict[str, Writer] = {"csv": _write_csv, "xlsx": _write_xlsx, "jsonl": _write_jsonl}
