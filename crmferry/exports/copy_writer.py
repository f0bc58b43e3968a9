"""CSV and JSON Lines, written by PostgreSQL itself: `COPY (SELECT ...) TO STDOUT` read
straight from libpq into the export's stream (`streams`): the store's, so the bytes
reach it as they are written.

* CSV: RFC 4180 quoting by PostgreSQL (fields holding the delimiter, quotes, CR or LF
  are quoted, quotes doubled); CRLF line ends (a line break inside a value is kept as
  it is); UTF-8 with a BOM unless `bom` is false;
  header = field names; empty fields are empty; decimals as stored (`1234.50`);
  dates `YYYY-MM-DD`; times in UTC; text neutralised (`formulas`). Given a `Split`,
  an export of more than SPLIT_MIN_ROWS rows in the default order is read as two COPY
  streams of one snapshot at once, like `pg_dump -j` (`split`): the same bytes, about
  half the time the neutralisation takes in one backend.
* JSON Lines: one compact JSON object per record (`query.json_select_list`: what
  `row_to_json` writes, as a plain select list), keys in field order;
  integers and decimals are JSON *numbers* written exactly as PostgreSQL stores them
  (`1234.50`, scale kept, never through a float: read them with a decimal-aware parser,
  e.g. `json.loads(line, parse_float=Decimal)`, to keep them exact); dates
  `"YYYY-MM-DD"`; times ISO 8601 in UTC (`"2024-05-01T09:30:00+00:00"`); empty fields
  `null`. Lines come from a binary COPY of that one text column (`streams.CopyStream`
  with `lines`: each value as it is, then LF), which sends the text without scanning it
  for characters to quote. Split like CSV (two streams) past SPLIT_MIN_ROWS rows in
  creation order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, BinaryIO

from psycopg import sql

from crmferry.db import Conn
from crmferry.exports.compression import compressed
from crmferry.exports.formulas import neutralised_expr
from crmferry.exports.options import ExportOptions
from crmferry.exports.query import (
    JSON_SCALAR_VERSION,
    Column,
    build_export_query,
    build_split_export_queries,
    export_columns,
    included_row_columns,
    json_export_select_list,
    splittable,
)
from crmferry.exports.split import Split
from crmferry.exports.streams import CopyStream, Progress, copy_into_files
from crmferry.records import DataType

UTF8_BOM = b"\xef\xbb\xbf"


def write_csv(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    out: BinaryIO,
    progress: Progress,
    chunk_rows: int,
    split: Split | None = None,
) -> int:
    """Write the CSV export to the stream `out` (front to back); the number of
    records. With `split`, a large export in creation order is read as two streams
    (the same bytes)."""
    columns = export_columns(data_type, options) + included_row_columns(data_type, options)
    select_list = csv_select_list(columns)
    query, params = build_export_query(data_type, options, select_list, included_rows=True)
    prefix = UTF8_BOM if options.bom else b""
    if split is not None and splittable(options):
        first_rows = split.first_part_rows(conn, query, params)
        if first_rows is not None:
            first, second = build_split_export_queries(data_type, options, select_list, first_rows)
            parts = (
                (_csv_copy(first[0], options, header=True), first[1]),
                (_csv_copy(second[0], options, header=False), second[1]),
            )
            rows = split.copy_in_two(
                conn, parts, out, prefix, progress, chunk_rows, lambda raw: compressed(raw, options)
            )
            if rows is not None:
                return rows
    with compressed(out, options) as packed:
        packed.write(prefix)
        copy = _csv_copy(query, options, header=True)
        return _copy_to(conn, copy, params, packed, progress, chunk_rows, header_lines=1, crlf=True)


def write_jsonl(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    out: BinaryIO,
    progress: Progress,
    chunk_rows: int,
    split: Split | None = None,
) -> int:
    """Write the JSON Lines export to the stream `out`; the number of records. With `split`, a
    large export in creation order is read as two streams (the same bytes)."""
    scalar = conn.info.server_version >= JSON_SCALAR_VERSION
    select_list = json_export_select_list(data_type, options, utf8=True, json_scalar=scalar)
    query, params = build_export_query(data_type, options, select_list)
    if split is not None and splittable(options):
        first_rows = split.first_part_rows(conn, query, params)
        if first_rows is not None:
            first, second = build_split_export_queries(data_type, options, select_list, first_rows)
            parts = ((_json_copy(first[0]), first[1]), (_json_copy(second[0]), second[1]))
            rows = split.copy_in_two(
                conn,
                parts,
                out,
                b"",
                progress,
                chunk_rows,
                lambda raw: compressed(raw, options),
                header=False,
                crlf=False,
                lines=True,
            )
            if rows is not None:
                return rows
    with compressed(out, options) as packed:
        return _copy_to(conn, _json_copy(query), params, packed, progress, chunk_rows, lines=True)


def _json_copy(query: sql.Composable) -> sql.Composed:
    """Binary COPY of the lines, each a bytea of UTF-8 (`json_select_list(utf8=True)`:
    a bytea is sent as it is, whatever the connection's client encoding, where a text
    value would be converted to it)."""
    return sql.SQL("COPY ({query}) TO STDOUT (FORMAT binary)").format(query=query)


def csv_select_list(columns: Sequence[Column]) -> list[sql.Composable]:
    """The CSV projection: text neutralised, booleans as true/false, the rest as stored."""
    return [
        sql.SQL("{} AS {}").format(_csv_expr(column), sql.Identifier(column.name))
        for column in columns
    ]


def _csv_expr(column: Column) -> sql.Composable:
    if column.field.type == "boolean":
        return sql.SQL("{}::text").format(column.expr)
    return neutralised_expr(column)


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
    crlf: bool = False,
    lines: bool = False,
) -> int:
    """Stream `COPY ... TO STDOUT` into `out` in chunks; return the number of rows.

    COPY takes no bound parameters, so psycopg binds `params` client-side (quoted
    literals, never our string-building).
    """
    with conn.cursor() as cur, cur.copy(statement, params):
        stream = CopyStream(conn.pgconn, out, header_lines, crlf=crlf, lines=lines)
        return copy_into_files([stream], progress, chunk_rows)
