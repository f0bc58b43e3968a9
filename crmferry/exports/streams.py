"""`COPY ... TO STDOUT` read straight from libpq into files: one stream, or two at once.

psycopg's own `Copy` iteration spends about 1 µs of Python per row; the loops here about
a third of that, and on a machine where the client shares two cores with PostgreSQL
that is the difference between keeping up with COPY and not. They run inside psycopg's
`cursor.copy()` blocks (which hold each connection's lock and, on an exception, cancel
the COPY and drain it), never block inside libpq (they wait on the sockets, so other
threads such as heartbeats run), and end each COPY by collecting the statement's result
as psycopg would, raising its error if the COPY failed.

`copy_into_files` reads one COPY, or several in one thread, taking rows from whichever
connection has some, so that progress and cancellation stay in the caller's thread.
"""

from __future__ import annotations

import select
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import psycopg
from psycopg import pq
from psycopg.pq.abc import PGconn, PGresult

Progress = Callable[[int], None]

FILE_BUFFER = 1 << 20  # bytes gathered before a write to an export file

# COPY (FORMAT binary): the file header's signature (then 32-bit flags and the length of
# a header extension), each row's prefix for one column (16-bit field count, 32-bit
# length), and the trailer (a field count of -1).
BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
BINARY_ROW_PREFIX = 6
BINARY_TRAILER_BYTES = 2


@dataclass
class CopyStream:
    """One `COPY ... TO STDOUT` in progress and the file its rows go to.

    `header_lines`: leading messages that are not records (a CSV header): written,
    never counted. PostgreSQL sends one message per row, so messages count rows.
    `crlf`: each message's final LF (PostgreSQL's only line end) is written as CRLF
    (RFC 4180); a line break inside a quoted value is not a message's end and stays
    as it is. Rows
    are gathered in `pending` and written FILE_BUFFER bytes at a time: appending to a
    bytearray costs less than a buffered file's (locked) write per row.
    `lines`: the COPY is `(FORMAT binary)` of one non-NULL text column, and each value is
    written as it is, followed by LF: the binary framing (the file header before the
    first row, each row's field count and length, the trailer) is dropped. Unlike the
    text and CSV formats, binary COPY sends a value without scanning it for characters
    to escape or quote.
    """

    pgconn: PGconn
    out: BinaryIO
    header_lines: int = 0
    crlf: bool = False
    lines: bool = False
    messages: int = 0
    done: bool = False
    pending: bytearray = field(default_factory=bytearray)
    started: bool = False  # `lines`: the file header was dropped


def copy_into_files(streams: Sequence[CopyStream], progress: Progress, chunk_rows: int) -> int:
    """Write each stream's rows to its file as they arrive (each file is complete when
    this returns); return the number of records.

    `progress(records)` gets the total of all streams after every `chunk_rows` records
    and after the last, partial chunk; whatever it raises stops the reading (the
    `cursor.copy()` blocks then cancel the COPYs still running).
    """
    headers = sum(stream.header_lines for stream in streams)
    reported = 0
    while running := [stream for stream in streams if not stream.done]:
        arrived = False
        for stream in running:
            # stop exactly at the next chunk boundary, so progress is called there
            limit = reported + chunk_rows - (_messages(streams) - headers)
            arrived |= _drain(stream, limit) > 0 or stream.done
            if _messages(streams) - headers - reported >= chunk_rows:
                reported += chunk_rows
                progress(reported)
        if not arrived:
            _wait_for_input([stream.pgconn for stream in running])
    records = _messages(streams) - headers
    if records > reported:
        progress(records)
    return records


def _messages(streams: Sequence[CopyStream]) -> int:
    return sum(stream.messages for stream in streams)


def _drain(stream: CopyStream, limit: int) -> int:
    """Take up to `limit` messages that libpq already holds; return how many. At the
    end of the COPY the stream is marked done and its file written to the end (or the
    COPY's error raised)."""
    get_copy_data, pending, crlf = stream.pgconn.get_copy_data, stream.pending, stream.crlf
    lines = stream.lines
    taken = 0
    while taken < limit:
        nbytes, data = get_copy_data(1)
        if nbytes > 0:
            if lines:
                view = memoryview(data)
                if not stream.started:
                    view = view[_binary_header(view) :]
                    stream.started = True
                if len(view) == BINARY_TRAILER_BYTES:
                    continue  # the trailer: the end of the rows, not one of them
                pending += view[BINARY_ROW_PREFIX:]
                pending += b"\n"
            elif crlf:
                pending += memoryview(data)[:-1]
                pending += b"\r\n"
            else:
                pending += data
            taken += 1
        elif nbytes == 0:
            break
        elif nbytes == -1:
            _check_final_result(stream.pgconn)
            stream.done = True
            break
        else:
            raise psycopg.OperationalError(_message(stream.pgconn))
    stream.messages += taken
    if stream.done or len(pending) >= FILE_BUFFER:
        stream.out.write(pending)
        pending.clear()
    return taken


def _binary_header(view: memoryview) -> int:
    """The length of binary COPY's file header at the start of its first message."""
    if bytes(view[: len(BINARY_SIGNATURE)]) != BINARY_SIGNATURE:
        raise psycopg.DataError("not the output of COPY (FORMAT binary)")
    extension = int(struct.unpack_from("!I", view, len(BINARY_SIGNATURE) + 4)[0])
    return len(BINARY_SIGNATURE) + 8 + extension


def _wait_for_input(pgconns: Sequence[PGconn]) -> None:
    """Wait until one of the connections can be read, and let libpq read it."""
    readable, _, _ = select.select([pgconn.socket for pgconn in pgconns], [], [])
    for pgconn in pgconns:
        if pgconn.socket in readable:
            pgconn.consume_input()


def _check_final_result(pgconn: PGconn) -> None:
    """Read the results that follow the COPY data; raise the error of a failed one."""
    failed: PGresult | None = None
    while True:
        while pgconn.is_busy():
            _wait_for_input([pgconn])
        result = pgconn.get_result()
        if result is None:
            break
        if result.status != pq.ExecStatus.COMMAND_OK and failed is None:
            failed = result
    if failed is not None:
        raise _error_of(failed)


def _error_of(result: PGresult) -> psycopg.Error:
    """The psycopg exception for a failed result (DivisionByZero, QueryCanceled...)."""
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_message or b"COPY failed").decode(errors="replace").strip()
    try:
        return psycopg.errors.lookup(sqlstate)(message)
    except KeyError:
        return psycopg.DatabaseError(message)


def _message(pgconn: PGconn) -> str:
    return pgconn.error_message.decode(errors="replace") or "COPY failed"


def copy_rows_into(stream: CopyStream, max_rows: int) -> int:
    """Write up to `max_rows` more rows of the stream's COPY to `stream.out`, all of
    them written when this returns (so that the caller may then point `out` at another
    file); return how many: fewer only at the COPY's end, then 0 (`stream.done`).
    Header messages are rows here."""
    taken = 0
    while taken < max_rows and not stream.done:
        got = _drain(stream, max_rows - taken)
        taken += got
        if not got and not stream.done:
            _wait_for_input([stream.pgconn])
    if stream.pending:
        stream.out.write(stream.pending)
        stream.pending.clear()
    return taken
