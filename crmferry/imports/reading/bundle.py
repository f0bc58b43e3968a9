"""A ZIP of CSV/XLSX/JSON Lines files uploaded at once (a batch's files): checked from its directory
before anything is inflated, like a workbook (`archive.py`), then unpacked entry by entry.

Limits, all read from the ZIP's directory (Python's zipfile never inflates an entry
past the size the directory declares, so they cannot be lied around):
the number of files (`CRMFERRY_MAX_ZIP_ENTRIES`), the unpacked total (the workbook
limit, `CRMFERRY_MAX_XLSX_UNCOMPRESSED_BYTES`), each file's unpacked size (the upload
limit, `CRMFERRY_MAX_UPLOAD_BYTES`: each becomes an upload) and each file's ratio of
unpacked to packed size over 1 MiB (`CRMFERRY_MAX_XLSX_RATIO`).
Folders, and the metadata macOS and editors add (`__MACOSX/`, dot files), are skipped.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from crmferry.errors import ValidationFailed
from crmferry.imports.reading.archive import RATIO_FLOOR_BYTES, archive_members
from crmferry.imports.reading.info import StrPath

BUNDLED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".jsonl", ".ndjson")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BundleLimits:
    max_entries: int
    max_total_bytes: int
    max_entry_bytes: int
    max_ratio: int


def is_bundle(file_name: str, path: Path) -> bool:
    """True for a ZIP that is not itself a workbook (a `.zip` name, a ZIP signature)."""
    with path.open("rb") as file:
        signature = file.read(4)
    return file_name.lower().endswith(".zip") and signature == b"PK\x03\x04"


def bundled_files(path: StrPath, limits: BundleLimits) -> list[zipfile.ZipInfo]:
    """The entries to import, checked; ValidationFailed naming the entry and the limit."""
    entries = [e for e in archive_members(path) if _wanted(e)]
    if not entries:
        _refuse("it holds no CSV, TSV, TXT, XLSX or JSON Lines file", None)
    if len(entries) > limits.max_entries:
        _refuse(
            f"it holds {len(entries)} files, over the limit of {limits.max_entries}",
            "CRMFERRY_MAX_ZIP_ENTRIES",
        )
    total = sum(e.file_size for e in entries)
    if total > limits.max_total_bytes:
        _refuse(
            f"it unpacks to {total:,} bytes, over the limit of {limits.max_total_bytes:,}",
            "CRMFERRY_MAX_XLSX_UNCOMPRESSED_BYTES",
        )
    for entry in entries:
        _check_entry(entry, limits)
    return entries


def unpack(path: StrPath, entry: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, in chunks (never more than its declared size)."""
    with zipfile.ZipFile(path) as archive, archive.open(entry) as member:
        yield from _chunks(member)


def entry_name(entry: zipfile.ZipInfo) -> str:
    """The file name an entry's upload gets (without its folders)."""
    return PurePosixPath(entry.filename).name[:255]


def _chunks(member: IO[bytes]) -> Iterator[bytes]:
    while chunk := member.read(CHUNK):
        yield chunk


def _wanted(entry: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(entry.filename).parts
    if entry.is_dir() or not parts or parts[0] == "__MACOSX":
        return False
    if any(p.startswith(".") for p in parts):
        return False
    return entry.filename.lower().endswith(BUNDLED_SUFFIXES) or _refuse(
        f"its file '{entry.filename}' is not a CSV, TSV, TXT, XLSX or JSON Lines file", None
    )


def _check_entry(entry: zipfile.ZipInfo, limits: BundleLimits) -> None:
    name, size = entry.filename, entry.file_size
    if size > limits.max_entry_bytes:
        _refuse(
            f"its file '{name}' unpacks to {size:,} bytes, over the upload limit of "
            f"{limits.max_entry_bytes:,}",
            "CRMFERRY_MAX_UPLOAD_BYTES",
        )
    ratio = size / max(entry.compress_size, 1)
    if size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
        _refuse(
            f"its file '{name}' unpacks to {size:,} bytes from {entry.compress_size:,}, "
            f"{ratio:,.0f} times its packed size, over the limit of {limits.max_ratio:,} "
            "times (a compression bomb?)",
            "CRMFERRY_MAX_XLSX_RATIO",
        )


def _refuse(message: str, setting: str | None) -> bool:
    which = f" ({setting})" if setting else ""
    raise ValidationFailed(
        f"The ZIP file cannot be used: {message}{which}.",
        [{"field": "file", "message": message}],
    )
