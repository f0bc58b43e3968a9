"""Writing an export file: CSV and JSON Lines through COPY (`copy_writer`), XLSX through
a server-side cursor (`xlsx_writer`), text cells neutralised against formula injection
(`formulas`).

`write_export_to` is the one entry point: it writes the file front to back into a
stream, the file store's own (`FileStore.writing`) for an export job, so that its bytes
reach the store as they are written; `write_export` writes a local file (under a
temporary name, renamed at the end). Either must run inside the export's REPEATABLE
READ tenant transaction (`crmferry.exports.snapshot.snapshot_transaction`) so that the
whole file is one snapshot of one organization's rows. On any exception (including
`JobCancelled` raised by `progress`) the exception goes on, and the store's stream (or
the temporary file) keeps nothing of it.

Each format is a `Writer`: `(conn, data_type, options, out, progress, chunk_rows)` →
the number of records written to the stream `out` (which cannot seek: XLSX's ZIP
entries carry data descriptors), calling `progress(rows)` after every chunk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

from crmferry.db import Conn
from crmferry.exports.copy_writer import write_csv, write_jsonl
from crmferry.exports.options import ExportOptions
from crmferry.exports.split import Connect, Split
from crmferry.exports.streams import Progress
from crmferry.exports.xlsx_writer import write_xlsx
from crmferry.records import DataType
from crmferry.storage.local import writing_file

CHUNK_ROWS = 10_000  # rows between progress calls (and cancellation checks)

Writer = Callable[[Conn, DataType, ExportOptions, BinaryIO, Progress, int], int]

WRITERS: dict[str, Writer] = {"csv": write_csv, "xlsx": write_xlsx, "jsonl": write_jsonl}
SPLIT_WRITERS = {"csv": write_csv, "jsonl": write_jsonl}  # these take a `split`


@dataclass(frozen=True)
class ExportResult:
    record_count: int
    size_bytes: int


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
    """`write_export_to` a local file `out_path` (written under a temporary name beside
    it, renamed at the end, removed on any exception); its size and count."""
    with writing_file(out_path) as out:
        count = write_export_to(
            conn,
            data_type,
            options,
            cast(BinaryIO, out),
            progress,
            chunk_rows,
            connect=connect,
            expected_rows=expected_rows,
            scratch=out_path.parent,
        )
    return ExportResult(record_count=count, size_bytes=out.size)


def write_export_to(
    conn: Conn,
    data_type: DataType,
    options: ExportOptions,
    out: BinaryIO,
    progress: Progress,
    chunk_rows: int = CHUNK_ROWS,
    *,
    connect: Connect | None = None,
    expected_rows: int | None = None,
    scratch: Path | None = None,
) -> int:
    """Write the export described by `options` to the stream `out`, front to back;
    return the number of records.

    `conn` must be in the export's REPEATABLE READ tenant transaction. `progress(rows)`
    is called after every `chunk_rows` rows and after the last, partial chunk; whatever
    it raises (JobCancelled) stops the export and propagates (the caller's stream then
    keeps nothing).

    With `connect` (new autocommit application-role connections, `Database.app_connect`),
    a CSV or JSON Lines export of more than SPLIT_MIN_ROWS rows (`expected_rows` when
    known, otherwise the planner's estimate) is read as two COPY streams at once, in one
    snapshot, the second one's rows waiting in a part file in the local folder
    `scratch`; the file is the same byte for byte.
    """
    writer = WRITERS[options.format]
    if options.format in ("csv", "jsonl") and connect is not None:
        folder = scratch or Path(tempfile.gettempdir())
        writer = partial(SPLIT_WRITERS[options.format], split=Split(connect, expected_rows, folder))
    return writer(conn, data_type, options, out, progress, chunk_rows)
