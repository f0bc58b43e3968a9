"""Stage a plain UTF-8 CSV with PostgreSQL's own CSV parser: the file's bytes go to
`COPY … (FORMAT csv)` as they are, and nothing is parsed in Python.

Our reader (`reading.text`) stays the authority on what a file means: this path is
taken only where PostgreSQL's parser is known to read the file exactly as ours does,
and anything else, found before or during the COPY, stages the file the ordinary way
instead (`stage_csv` answers None; the COPY is rolled back to its savepoint). Never
a guess: where the two could disagree, the file is read by ours.

Where the two parsers differ, and how each case is told:
* a quote inside an unquoted cell (`ab"cd`) or text after a closing quote (`"ab"cd`):
  ours reads it as text, PostgreSQL opens a quoted section. Each block is scanned:
  every quoted run (`"…"`, a doubled quote being two runs) must begin and end at a
  cell boundary;
* blank rows: ours skips them (keeping the row numbers of the rows after them),
  PostgreSQL stops at an empty line and reads a row of delimiters as a row. A line
  holding only blanks, delimiters and quotes sends the file to our reader; blank
  lines at the end of the file are left out;
* a line `\\.`, the end of COPY data for older servers;
* rows shorter or longer than the header (ours pads or reports them), a quote left
  open, bytes that are not UTF-8, a NUL, mixed line endings: PostgreSQL refuses them,
  the COPY fails, and the file is read by ours, which reports them row by row.
What the reader's limits say is kept: past `max_rows` data rows the import fails as
it does there, and a cell longer than `max_cell_chars` is looked for in the staged
rows unless no line of the file is that long and no record spans lines.

The staging table holds one column per column of the file (those mapped named after
their field), then the staged fields no column holds (`staged_fields`, NULL), and the
row number: the record number, since the header is record 1 and no blank row is
skipped.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import psycopg
from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.reading import FileInfo, ReadLimits
from crmferry.imports.reading.rows import cell_too_long, too_many_rows
from crmferry.imports.staging import RAW_TABLE

BLOCK_BYTES = 1024 * 1024
# A block is sent once it ends on a record boundary; a quoted cell holding line breaks
# may delay that, but not past this (the ordinary reader then reads the file).
MAX_PENDING_BYTES = 32 * 1024 * 1024
# Progress (and a cancel) is seen after each this many bytes sent.
PROGRESS_BYTES = 8 * 1024 * 1024

ENCODINGS = ("utf-8", "utf-8-sig")

_CREATE = """
CREATE TEMP TABLE {table} (row_number integer GENERATED ALWAYS AS IDENTITY (START 2),
                           {columns}) ON COMMIT DROP
"""
_COPY = "COPY {table} ({columns}) FROM STDIN (FORMAT csv, HEADER, DELIMITER {delimiter})"
# The first staged row with a cell longer than the limit (octet_length: no decoding).
_LONG_CELL = """
SELECT row_number, ARRAY[{lengths}] AS lengths FROM {table} WHERE {over} ORDER BY row_number
 LIMIT 1
"""

_QUOTED_RUN = re.compile(rb'"[^"]*"')
_MARK = b"\xff"  # never in UTF-8 text: stands for a quoted run while scanning
# A line of nothing but blanks (str.isspace()), delimiters and quotes: a blank row.
# (every such character is below U+3001)
_SPACES = sorted({chr(c).encode() for c in range(0x3001) if chr(c).isspace()} - {b"\n"})


class NotPlain(Exception):
    """The file holds something the two parsers could read differently."""


def eligible(info: FileInfo) -> bool:
    """True for the files this path may read: UTF-8 CSV, the header on the first row, no
    footer cut off, at least two columns (one column has no delimiter to anchor on)."""
    return (
        info.format == "csv"
        and info.encoding in ENCODINGS
        and info.delimiter is not None
        and len(info.delimiter) == 1
        and info.header_row == 1
        and info.last_row is None
        and len(info.headers) >= 2
    )


def stage_csv(
    conn: Conn,
    stream: BinaryIO,
    info: FileInfo,
    fields: list[str],
    positions: list[int],
    staged: list[str],
    limits: ReadLimits,
    on_progress: Callable[[int], None],
) -> int | None:
    """COPY the file read from `stream` into the staging table: the column at each of
    `positions` as its field of `fields`, and every field of `staged` no column holds
    as NULL. The data rows staged, or None (nothing staged, the stream consumed) when
    the file must be read by our reader. `on_progress(rows_so_far)` about every
    PROGRESS_BYTES; ValidationFailed past a read limit."""
    if not eligible(info):
        return None
    assert info.delimiter is not None
    scan = _Scan(info.delimiter)
    names = _column_names(len(info.headers), dict(zip(positions, fields, strict=True)))
    try:
        with conn.transaction():
            _create(conn, names, [f for f in staged if f not in fields])
            rows = _copy(conn, stream, scan, names, info.delimiter, on_progress)
            _check_limits(conn, info.headers, names, rows, scan, limits)
    except (NotPlain, psycopg.DataError, psycopg.errors.BadCopyFileFormat):
        return None
    return rows


def _column_names(width: int, mapped: dict[int, str]) -> list[str]:
    # an unmapped column's name cannot be a field's: fields never start with "_"
    return [mapped.get(i, f"_column_{i + 1}") for i in range(width)]


def _create(conn: Conn, names: list[str], unheld: list[str]) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(RAW_TABLE)))
    columns = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(n)) for n in [*names, *unheld]
    )
    conn.execute(sql.SQL(_CREATE).format(table=sql.Identifier(RAW_TABLE), columns=columns))


def _copy(
    conn: Conn,
    stream: BinaryIO,
    scan: _Scan,
    names: list[str],
    delimiter: str,
    on_progress: Callable[[int], None],
) -> int:
    statement = sql.SQL(_COPY).format(
        table=sql.Identifier(RAW_TABLE),
        columns=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        delimiter=sql.Literal(delimiter),
    )
    reported = 0
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            for chunk in scan.chunks(stream):
                copy.write(chunk)
                if scan.sent - reported >= PROGRESS_BYTES:
                    reported = scan.sent
                    on_progress(max(scan.lines - 1, 0))
        return cur.rowcount


def _check_limits(
    conn: Conn,
    headers: tuple[str, ...],
    names: list[str],
    rows: int,
    scan: _Scan,
    limits: ReadLimits,
) -> None:
    """The reader's limits, as it applies them (see `reading.rows.data_rows`)."""
    if rows > limits.max_rows:
        raise too_many_rows(limits)
    one_line_records = scan.lines <= rows + 1
    if one_line_records and scan.longest_line <= limits.max_cell_chars:
        return  # no cell can be longer than its line
    table = sql.Identifier(RAW_TABLE)
    cells = [sql.Identifier(n) for n in names]
    over = sql.SQL(" OR ").join(
        sql.SQL("octet_length({}) > {}").format(c, sql.Literal(limits.max_cell_chars))
        for c in cells
    )
    lengths = sql.SQL(", ").join(sql.SQL("length({})").format(c) for c in cells)
    query = sql.SQL(_LONG_CELL).format(table=table, lengths=lengths, over=over)
    found = conn.execute(query).fetchone()
    if found is None:
        return
    over_limit = [i for i, n in enumerate(found["lengths"]) if (n or 0) > limits.max_cell_chars]
    if not over_limit:
        raise NotPlain  # longer in bytes only, and maybe not the first: the reader looks
    index = over_limit[0]
    length = found["lengths"][index]
    raise cell_too_long(found["row_number"], headers[index], length, limits)


@dataclass
class _Scan:
    """Cuts the file into blocks that end on a record boundary, checking each (see the
    module's docstring) and counting its lines; NotPlain at the first that fails."""

    delimiter: str
    sent: int = 0
    lines: int = 0
    longest_line: int = 0

    def __post_init__(self) -> None:
        d = re.escape(self.delimiter.encode())
        boundary = rb"[%s\r\n%s]" % (d, _MARK)
        # a quoted run whose neighbour is no cell boundary (the block is framed by
        # line breaks, so a run at either end of it has one)
        self._stray = re.compile(rb"%s(?:(?<!%s%s)|(?!%s))" % (_MARK, boundary, _MARK, boundary))
        blank = b"|".join(re.escape(s) for s in _SPACES)
        self._blank = re.compile(rb"\n(?:%s|%s|\")*(?:\n|$)" % (blank, d))
        self._end = re.compile(rb"\n\\\.\r?(?:\n|$)")

    def chunks(self, stream: BinaryIO) -> Iterator[bytes]:
        # a byte-order mark is not sent: it would stand before a quote opening the first
        # header cell (PostgreSQL skips the header line whatever it holds)
        pending = stream.read(len(codecs.BOM_UTF8)).removeprefix(codecs.BOM_UTF8)
        while block := stream.read(BLOCK_BYTES):
            pending += block
            cut = _record_boundary(pending)
            if cut is None:
                if len(pending) > MAX_PENDING_BYTES:
                    raise NotPlain
                continue
            # blank lines it ends with wait: they are checked with what follows them,
            # or left out at the end of the file
            chunk = _without_blank_tail(pending[:cut])
            if chunk:
                pending = pending[len(chunk) :]
                yield self._checked(chunk)
        last = _without_blank_tail(pending)
        if last:
            if last.count(b'"') % 2:
                raise NotPlain  # a quote left open: the reader says where it opened
            yield self._checked(last)

    def _checked(self, chunk: bytes) -> bytes:
        framed = b"\n" + chunk + (b"" if chunk.endswith(b"\n") else b"\n")
        if b"\x00" in chunk or self._blank.search(framed[:-1]) or self._end.search(framed):
            raise NotPlain
        if b'"' in chunk and self._stray.search(_QUOTED_RUN.sub(_MARK, framed)):
            raise NotPlain
        self.sent += len(chunk)
        self.lines += framed.count(b"\n") - 1
        self.longest_line = max(self.longest_line, max(map(len, chunk.split(b"\n"))))
        return chunk


def _record_boundary(data: bytes) -> int | None:
    """The end of the last line of `data` after which no quote is open, or None."""
    open_quote = data.count(b'"') % 2 == 1
    end = len(data)
    while (newline := data.rfind(b"\n", 0, end)) >= 0:
        # quotes after this line break change the parity at it
        if data.count(b'"', newline + 1, end) % 2:
            open_quote = not open_quote
        if not open_quote:
            return newline + 1
        end = newline
    return None


def _without_blank_tail(data: bytes) -> bytes:
    """`data` without the blank lines it ends with (the reader skips them too)."""
    stripped = data.rstrip()
    if not stripped or len(stripped) == len(data):
        return stripped
    newline = data.find(b"\n", len(stripped))
    return data if newline < 0 else data[: newline + 1]
