"""A large CSV export read as two COPY streams of one snapshot, like `pg_dump -j`.

What limits a CSV export is the one PostgreSQL backend that evaluates the formula
neutralisation of every text cell while it runs the COPY. Past SPLIT_MIN_ROWS rows, a
second backend takes half of that work: the export's connection COPYs the first half
of the ORDER BY (`LIMIT n/2`) into the file while a second connection, in a transaction
that imports the first one's snapshot (`crmferry.exports.snapshot.shared_snapshot`),
COPYs the rest (from the sort key of row n/2 + 1 on) into a part file; one thread reads
both (`crmferry.exports.streams`), and once both are complete the part file is appended
to the file. The result is byte for byte the file one COPY writes.

Only for a sort that contiguous key ranges cut cleanly (`query.splittable`: the
(created_at, id) index order, either direction). If no second connection can be opened
the export is read as one stream.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
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

SPLIT_MIN_ROWS = 100_000  # below this, a second connection costs more than it saves


@dataclass(frozen=True)
class Split:
    """Where a large export gets its second stream: `connect` opens a new autocommit
    application-role connection (`Database.app_connect`); `expected_rows` is the
    export's row count when known (otherwise the planner's estimate is used)."""

    connect: Connect
    expected_rows: int | None = None

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
        path: Path,
        prefix: bytes,
        progress: Progress,
        chunk_rows: int,
        opener: Callable[[Path], BinaryIO] | None = None,
        *,
        header: bool = True,
        crlf: bool = True,
        lines: bool = False,
    ) -> int | None:
        """Run the two COPY `parts` at once, the first on `conn` (in its snapshot
        transaction), and write `prefix`, then their rows, to `path`; return the number
        of rows, or None, having written nothing, when no second connection opens.
        `header`: the first part begins with a header line (not a record); `crlf`: lines
        end in CRLF; `lines`: binary COPYs of one text column (`streams.CopyStream`).
        Whatever is raised (by either COPY, or by `progress`) stops both and removes
        the part file; `path` is the caller's to remove. `opener` opens each file
        (a gzip stream for a compressed export: each part is then one gzip member)."""
        tail = path.with_name(path.name + ".2")
        try:
            with ExitStack() as stack:
                try:
                    second = stack.enter_context(shared_snapshot(conn, self.connect))
                except psycopg.OperationalError as exc:
                    log.warning("export read as one stream: no second connection: %s", exc)
                    return None
                streams = []
                for index, (each, target, (statement, params)) in enumerate(
                    zip((conn, second), (path, tail), parts, strict=True)
                ):
                    out = stack.enter_context(
                        opener(target) if opener else target.open("wb", buffering=FILE_BUFFER)
                    )
                    cur = stack.enter_context(each.cursor())
                    stack.enter_context(cur.copy(statement, params))
                    headers = int(header and index == 0)
                    streams.append(CopyStream(each.pgconn, out, headers, crlf=crlf, lines=lines))
                streams[0].out.write(prefix)
                rows = copy_into_files(streams, progress, chunk_rows)
            _append(path, tail)
        finally:
            tail.unlink(missing_ok=True)
        return rows


def _append(path: Path, tail: Path) -> None:
    """Append the file `tail` to `path`: inside the kernel (copy_file_range) where the
    system and the file system allow it, otherwise through a buffer."""
    with path.open("r+b") as out, tail.open("rb") as source:
        end = out.seek(0, os.SEEK_END)
        try:
            while os.copy_file_range(source.fileno(), out.fileno(), 1 << 30):
                pass
        except (AttributeError, OSError):
            out.seek(end)
            out.truncate()
            source.seek(0)
            shutil.copyfileobj(source, out, FILE_BUFFER)
