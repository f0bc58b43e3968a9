"""ZIP-based workbooks: the archive's directory checked before any part is parsed.

Python's zipfile never inflates an entry past the size its directory declares, so
limits checked against the declarations cannot be lied around.
"""

from __future__ import annotations

import zipfile

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading.info import ReadLimits, StrPath


def archive_members(path: StrPath) -> list[zipfile.ZipInfo]:
    """The entries of the ZIP directory; FileUnreadable for a damaged archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileUnreadable(f"The file is a damaged ZIP/XLSX archive: {reason(exc)}.") from exc


def check_archive(path: StrPath, limits: ReadLimits) -> None:
    """ValidationFailed when the workbook unpacks to more than
    `limits.max_xlsx_uncompressed_bytes` (summed from the directory alone)."""
    total = sum(entry.file_size for entry in archive_members(path))
    if total > limits.max_xlsx_uncompressed_bytes:
        message = (
            f"the workbook unpacks to {total:,} bytes, over the limit of "
            f"{limits.max_xlsx_uncompressed_bytes:,}"
        )
        raise ValidationFailed(
            f"The XLSX file is too large: {message} (CRMFERRY_MAX_XLSX_UNCOMPRESSED_BYTES).",
            [{"field": "file", "message": message}],
        )


def reason(exc: BaseException) -> str:
    """An exception as a few words for a message: its text, else its type's name."""
    return str(exc) or type(exc).__name__
