"""ZIP-based workbooks: the archive's directory checked before any part is parsed.

Python's zipfile never inflates an entry past the size its directory declares, so
limits checked against the declarations cannot be lied around: the whole workbook's
unpacked size, each part's, and each part's compression ratio (a compression bomb
packs hundreds of megabytes of one repeated string into a few hundred kilobytes).
The parts openpyxl parses whole into memory (the package's content types, the workbook
part and its relationships) have a small fixed limit (`check_read_whole`); every other
part we read is streamed.
"""

from __future__ import annotations

import zipfile

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading.info import ReadLimits, StrPath

# A ratio means nothing for a small part, and small parts cannot exhaust memory.
RATIO_FLOOR_BYTES = 1024 * 1024
# Real workbooks keep these to kilobytes; openpyxl holds each as a whole XML tree and
# objects (some 15 bytes of memory per byte).
MAX_WHOLE_PART_BYTES = 2 * 1024 * 1024
CONTENT_TYPES = "[Content_Types].xml"


def archive_members(path: StrPath) -> list[zipfile.ZipInfo]:
    """The entries of the ZIP directory; FileUnreadable for a damaged archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileUnreadable(f"The file is a damaged ZIP/XLSX archive: {reason(exc)}.") from exc


def check_archive(path: StrPath, limits: ReadLimits) -> None:
    """ValidationFailed, naming the part and the limit, when the workbook unpacks to more
    than `limits.max_xlsx_uncompressed_bytes`, a part to more than
    `limits.max_xlsx_part_bytes` (the content types, parsed whole, to more than
    MAX_WHOLE_PART_BYTES), or a part over RATIO_FLOOR_BYTES to more than
    `limits.max_xlsx_ratio` times its compressed size. Read from the directory alone."""
    members = archive_members(path)
    total = sum(entry.file_size for entry in members)
    if total > limits.max_xlsx_uncompressed_bytes:
        _refuse(
            f"the workbook unpacks to {total:,} bytes, over the limit of "
            f"{limits.max_xlsx_uncompressed_bytes:,}",
            "CRMFERRY_MAX_XLSX_UNCOMPRESSED_BYTES",
        )
    for entry in members:
        _check_part(entry, limits)
        if entry.filename == CONTENT_TYPES:
            check_read_whole(entry)


def check_read_whole(entry: zipfile.ZipInfo) -> None:
    """ValidationFailed when a part openpyxl parses whole unpacks to more than
    MAX_WHOLE_PART_BYTES."""
    if entry.file_size > MAX_WHOLE_PART_BYTES:
        _refuse(
            f"its part '{entry.filename}' unpacks to {entry.file_size:,} bytes, over the "
            f"limit of {MAX_WHOLE_PART_BYTES:,} for a part read whole",
            None,
        )


def _check_part(entry: zipfile.ZipInfo, limits: ReadLimits) -> None:
    name, size = entry.filename, entry.file_size
    if size > limits.max_xlsx_part_bytes:
        _refuse(
            f"its part '{name}' unpacks to {size:,} bytes, over the limit of "
            f"{limits.max_xlsx_part_bytes:,} per part",
            "CRMFERRY_MAX_XLSX_PART_BYTES",
        )
    ratio = size / max(entry.compress_size, 1)
    if size > RATIO_FLOOR_BYTES and ratio > limits.max_xlsx_ratio:
        _refuse(
            f"its part '{name}' unpacks to {size:,} bytes from {entry.compress_size:,}, "
            f"{ratio:,.0f} times its packed size, over the limit of "
            f"{limits.max_xlsx_ratio:,} times (a compression bomb?)",
            "CRMFERRY_MAX_XLSX_RATIO",
        )


def _refuse(message: str, setting: str | None) -> None:
    which = f" ({setting})" if setting else ""
    raise ValidationFailed(
        f"The XLSX file is too large: {message}{which}.",
        [{"field": "file", "message": message}],
    )


def reason(exc: BaseException) -> str:
    """An exception as a few words for a message: its text, else its type's name."""
    return str(exc) or type(exc).__name__
