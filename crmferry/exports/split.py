"""A large CSV export read as two COPY streams of one snapshot, like `pg_dump -j`.

What limits a CSV export is the one PostgreSQL backend that evaluates the formula
neutralisation of every text cell while it runs the COPY. Past SPLIT_MIN_ROWS rows, a
second backend takes half of that work: the export's connection COPYs the first half
of the ORDER BY (`LIMIT n/2`) into the file while a second connection, in a transaction
that imports the first one's snapshot (`crmferry.exports.snapshot.shared_snapshot`),
COPYs the rest (from the sort key of row n/2 + 1 on) into a local part file; one thread
reads both (`crmferry.exports.streams`): the first half goes to the export's stream
(the store) as it arrives, and once both are complete the part file follows it. The
result is byte for byte the file one COPY writes.

Only for a sort that contiguous key ranges cut cleanly (`query.splittable`: the
(created_at, id) index order, either direction). If no second connection can be opened
the export is read as one stream.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from crmferry.db import Conn
from crmferry.exports.snapshot import shared_snapshot
from crmferry.exports.streams import FILE_BUFFER, CopyStream, Progress, copy_into_files

log = logging.getLogger(__name__)

Connect = Callable[[], Conn]
Statement = tuple[sql.Composed, Sequence[Any]]
Wrap = Callable[[BinaryIO], AbstractContextManager[BinaryIO]]

SPLIT_MIN_ROWS = 100_000  # below this, a second connection costs more than it saves


@dataclass(frozen=True)
class Split:
    """Where a large export gets its second stream: `connect` opens a new autocommit
    application-role connection (`Database.app_connect`); `expected_rows` is the
    export's row count when known (otherwise the planner's estimate is used);
    `scratch` the local folder where the second stream's rows wait their turn."""

    connect: Connect
    expected_rows: int | None = None
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))

    def first_part_rows(self, conn: Conn, query: sql.Composed, params: Sequence[Any]) -> int | None:
        """Rows for the first stream (half of the export's), or None when the export
        (the SELECT `query`) has too few rows to be worth two streams."""
        rows = self.expected_rows
        if rows is None:
            explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query)
            plan = conn.execute(explain, params).fetchone()
            assert plan is not None
            rows = int(plan["QUERY PLAN"][0]["Plan"]["Plan Rows"])
        return rows // 2 if rows > SPLIT_MIN_ROWS else None

    def copy_in_two(
        self,
        conn: Conn,
        parts: tuple[Statement, Statement],
        out: BinaryIO,
        prefix: bytes,
        progress: Progress,
        chunk_rows: int,
        wrap: Wrap | None = None,
        *,
        header: bool = True,
        crlf: bool = True,
        lines: bool = False,
    ) -> int | None:
        """Run the two COPY `parts` at once, the first on `conn` (in its snapshot
        transaction), and write `prefix`, then their rows, to the stream `out`; return
        the number of rows, or None, having written nothing, when no second connection
        opens. The first part's rows go to `out` as they arrive; the second's wait in a
        part file in `scratch` (removed whatever happens) and follow once the first is
        complete. `header`: the first part begins with a header line (not a record);
        `crlf`: lines end in CRLF; `lines`: binary COPYs of one text column
        (`streams.CopyStream`). Whatever is raised (by either
        COPY, or by `progress`) stops both. `wrap` wraps each part's stream (a gzip
        member each, for a compressed export)."""
        wrapped = wrap or _as_is
        self.scratch.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".split-", suffix=".part", dir=self.scratch)
        tail = Path(name)
        try:
            with ExitStack() as stack:
                tail_file = stack.enter_context(open(handle, "wb", buffering=FILE_BUFFER))
                try:
                    second = stack.enter_context(shared_snapshot(conn, self.connect))
                except psycopg.OperationalError as exc:
                    log.warning("export read as one stream: no second connection: %s", exc)
                    return None
                streams = []
                for index, (each, target, (statement, params)) in enumerate(
                    zip((conn, second), (out, tail_file), parts, strict=True)
                ):
                    sink = stack.enter_context(wrapped(target))
                    cur = stack.enter_context(each.cursor())
                    stack.enter_context(cur.copy(statement, params))
                    headers = int(header and index == 0)
                    streams.append(CopyStream(each.pgconn, sink, headers, crlf=crlf, lines=lines))
                streams[0].out.write(prefix)
                rows = copy_into_files(streams, progress, chunk_rows)
            _append(out, tail)
        finally:
            tail.unlink(missing_ok=True)
        return rows


@contextmanager
def _as_is(out: BinaryIO) -> Iterator[BinaryIO]:
    yield out


def _append(out: BinaryIO, tail: Path) -> None:
    """Write the file `tail` to the stream `out`, through a buffer."""
    with tail.open("rb") as source:
        shutil.copyfileobj(source, out, FILE_BUFFER)
