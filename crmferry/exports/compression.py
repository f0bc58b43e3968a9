"""Compressed exports: `options.compression: "gzip"` for CSV and JSON Lines.

Every CSV and JSON Lines writer opens its file with `open_export`, which wraps it in
a gzip stream when the options ask for it: rows are compressed as they are written,
never a second pass over the file. A CSV export read as two COPY streams writes two
gzip members that are joined end to end, which is itself a valid gzip file (RFC 1952
allows any number of members; gzip, zcat, Python and browsers read them all).
XLSX is not compressed again (it is a ZIP already).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, BinaryIO, cast

COMPRESSIONS = ("gzip",)
COMPRESSIBLE_FORMATS = ("csv", "jsonl")
LEVEL = 6  # gzip's own default: most of the size gain of 9 at a fraction of its time
FILE_BUFFER = 1 << 20

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


class _GzipFile(gzip.GzipFile):
    """A gzip stream that also closes the file beneath it."""

    def __init__(self, raw: BinaryIO) -> None:
        # no name and no time in the header: the same rows give the same bytes
        super().__init__(filename="", mode="wb", compresslevel=LEVEL, fileobj=raw, mtime=0)
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_appended(path: Path, options: Any) -> BinaryIO:
    """`path` opened to append to an export file: through a gzip member of its own when
    the file is compressed (members joined end to end are one gzip file)."""
    raw = path.open("ab", buffering=FILE_BUFFER)
    if getattr(options, "compression", None) != "gzip":
        return raw
    return cast(BinaryIO, _GzipFile(raw))


def open_export(path: Path, options: Any) -> BinaryIO:
    """`path` opened for writing an export file, gzip-compressed when
    `options.compression` is "gzip"."""
    raw = path.open("wb", buffering=FILE_BUFFER)
    if getattr(options, "compression", None) != "gzip":
        return raw
    return cast(BinaryIO, _GzipFile(raw))
