"""Writing an export file: CSV and JSON Lines through COPY (`copy_writer`), XLSX through
a server-side cursor (`xlsx_writer`), text cells neutralised against formula injection
(`formulas`).

`write_export` is the one entry point. It must run inside the export's REPEATABLE READ
tenant transaction (`crmferry.exports.snapshot.snapshot_transaction`) so that the whole
file is one snapshot of one organization's rows. The file is written as
`<out_path>.part` and renamed at the end: a reader never sees half a file, and on any
exception (including `JobCancelled` raised by `progress`) the partial file is removed
and the exception re-raised.

Each format is a `Writer`: `(conn, data_type, options, path, progress, chunk_rows)` →
the number of records written to `path`, calling `progress(rows)` after every chunk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from crmferry.db import Conn
from crmferry.exports.copy_writer import write_csv, write_jsonl
from crmferry.exports.options import ExportOptions
from crmferry.exports.split import Connect, Split
from crmferry.exports.streams import Progress
from crmferry.exports.xlsx_writer import write_xlsx
from crmferry.records import DataType

CHUNK_ROWS = 10_000  # rows between progress calls (and cancellation checks)

Writer = Callable[[Conn, DataType, ExportOptions, Path, Progress, int], int]

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
    """Write the export described by `options` to `out_path`; return its size and count.

    `conn` must be in the export's REPEATABLE READ tenant transaction. `progress(rows)`
    is called after every `chunk_rows` rows and after the last, partial chunk; whatever
    it raises (JobCancelled) stops the export, removes the partial files and propagates.

    With `connect` (new autocommit application-role connections, `Database.app_connect`),
    a CSV or JSON Lines export of more than SPLIT_MIN_ROWS rows (`expected_rows` when
    known, otherwise the planner's estimate) is read as two COPY streams at once, in one
    snapshot; the file is the same byte for byte.
    """
    writer = WRITERS[options.format]
    if options.format in ("csv", "jsonl") and connect is not None:
        writer = partial(SPLIT_WRITERS[options.format], split=Split(connect, expected_rows))
    part = out_path.with_name(out_path.name + ".part")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        count = writer(conn, data_type, options, part, progress, chunk_rows)
        os.replace(part, out_path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return ExportResult(record_count=count, size_bytes=out_path.stat().st_size)
