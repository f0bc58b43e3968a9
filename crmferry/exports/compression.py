"""Compressed exports: `options.compression: "gzip"` for CSV and JSON Lines.

Every CSV and JSON Lines writer writes through `compressed`, which wraps the export's
stream in a gzip stream when the options ask for it: rows are compressed as they are written,
never a second pass over the file. A CSV export read as two COPY streams writes two
gzip members that are joined end to end, which is itself a valid gzip file (RFC 1952
allows any number of members; gzip, zcat, Python and browsers read them all).
XLSX is not compressed again (it is a ZIP already).
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

COMPRESSIONS = ("gzip",)
COMPRESSIBLE_FORMATS = ("csv", "jsonl")
LEVEL = 6  # gzip's own default: most of the size gain of 9 at a fraction of its time

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gz": "application/gzip",
}


def extension(format: str, compression: str | None) -> str:
    """The result's extension: "csv", or "csv.gz" when compressed."""
    return f"{format}.gz" if compression == "gzip" else format


def media_type(file_name: str) -> str:
    """The Content-Type a result file is served (and delivered) with, by its name."""
    suffix = file_name.rsplit(".", 1)[-1].lower()
    return MEDIA_TYPES.get(suffix, "application/octet-stream")


@contextlib.contextmanager
def compressed(raw: BinaryIO, options: Any) -> Iterator[BinaryIO]:
    """What is written to the block's stream goes to `raw` (never closed here): as one
    gzip member when `options.compression` is "gzip" (finished when the block ends),
    as it is otherwise. Members written one after another are one gzip file."""
    if getattr(options, "compression", None) != "gzip":
        yield raw
        return
    # no name and no time in the header: the same rows give the same bytes
    with gzip.GzipFile(filename="", mode="wb", compresslevel=LEVEL, fileobj=raw, mtime=0) as out:
        yield cast(BinaryIO, out)
