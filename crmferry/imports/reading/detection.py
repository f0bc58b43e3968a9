"""Which reader reads a file, told from its content, never its name.

A ZIP holding `xl/workbook.xml` is an XLSX workbook, one whose `mimetype` says so an
OpenDocument spreadsheet (.ods), an OLE2 compound file an Excel 97-2003 workbook (.xls);
anything else must be text (CSV, TSV, TXT). Images, PDFs, other archives and binary
junk raise FileUnreadable saying what the file looks like.

Each format is a `Reader` in READERS, keyed by the name `FileInfo.format` records.
Adding a format is one module (its `sniff` and `records`, like `text` and `xlsx`), its
entry in READERS (`streams=True` when it reads a `Source` front to back, else it is
given a local path), and the content that tells it here: a ZIP member in `_ZIP_FORMATS`,
or leading bytes in `_SIGNATURE_FORMATS` (taken out of `_REFUSED` if listed there).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from crmferry.errors import FileUnreadable
from crmferry.imports.reading import calamine_book, text, xlsx
from crmferry.imports.reading.archive import archive_members
from crmferry.imports.reading.info import FileInfo, ReadChoices, ReadLimits, Record, StrPath


@dataclass(frozen=True)
class Reader:
    """One file format. `sniff(file, head, limits, choices)` describes a file of it
    (`head` is its first SAMPLE_BYTES) as the user's choices say; `records(file, info,
    limits)` streams all of its records,
    header and blank ones included, as (row number, cells), closing the file when closed.
    `file` is a `source.Source` when `streams` (the reader opens it as often as it needs,
    never seeking), else the path of a seekable local file (a temporary copy of a
    stored one, removed after)."""

    sniff: Callable[[Any, bytes, ReadLimits, ReadChoices], FileInfo]
    records: Callable[[Any, FileInfo, ReadLimits], Generator[Record, None, None]]
    streams: bool = False


READERS: dict[str, Reader] = {
    "csv": Reader(text.sniff_text, text.text_records, streams=True),
    "xlsx": Reader(xlsx.sniff_xlsx, xlsx.xlsx_records),
    "xls": Reader(calamine_book.sniffer("xls"), calamine_book.records_of("xls")),
    "ods": Reader(calamine_book.sniffer("ods"), calamine_book.records_of("ods")),
}

# Formats told by their first bytes (checked before `_REFUSED`): an OLE2 compound file
# is an Excel 97-2003 workbook (or a password-protected one, which calamine refuses
# saying so).
_SIGNATURE_FORMATS: tuple[tuple[bytes, str], ...] = ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),)

_REFUSED = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
)

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# A ZIP holding this member is read by that reader.
_ZIP_FORMATS = (("xl/workbook.xml", "xlsx"),)
_ZIP_REFUSED = (
    ("xl/workbook.bin", "an Excel binary workbook (.xlsb); save it as .xlsx or CSV"),
    ("word/document.xml", "a Word document"),
    ("ppt/presentation.xml", "a PowerPoint presentation"),
    ("content.xml", "an OpenDocument text or presentation, not a spreadsheet"),
)


def detect_format(path: StrPath, head: bytes) -> str:
    """The READERS name for the file at `path`, whose first bytes are `head`.

    FileUnreadable, saying what the file is, for an empty file and for content no
    reader reads."""
    name = format_of_head(head)
    return _zip_format(path) if name == ZIP else name


ZIP = "zip"  # what `format_of_head` answers when the ZIP's directory must tell


def format_of_head(head: bytes) -> str:
    """The READERS name told by the first bytes alone, or ZIP for a ZIP archive, whose
    directory tells (`detect_format`); FileUnreadable as `detect_format`."""
    if not head:
        raise FileUnreadable("The file is empty.")
    for signature, name in _SIGNATURE_FORMATS:
        if head.startswith(signature):
            return name
    for signature, what in _REFUSED:
        if head.startswith(signature):
            raise FileUnreadable(f"This is {what}, not a CSV, XLSX, XLS or ODS file.")
    if head.startswith(_ZIP_MAGIC):
        return ZIP
    return "csv"


ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _mimetype(path: StrPath) -> bytes:
    """An OpenDocument package's `mimetype` member (its first, stored uncompressed)."""
    with zipfile.ZipFile(path) as archive:
        try:
            with archive.open("mimetype") as member:
                return member.read(len(ODS_MIMETYPE) + 16).strip()
        except KeyError:
            return b""


def reader(name: str) -> Reader:
    """The reader of format `name` (a `FileInfo.format`); FileUnreadable for no such one."""
    try:
        return READERS[name]
    except KeyError:
        raise FileUnreadable(f"Files of format '{name}' cannot be read.") from None


def _zip_format(path: StrPath) -> str:
    names = {entry.filename for entry in archive_members(path)}
    for member, name in _ZIP_FORMATS:
        if member in names:
            return name
    if "content.xml" in names and _mimetype(path) == ODS_MIMETYPE:
        return "ods"
    what = next((w for n, w in _ZIP_REFUSED if n in names), None)
    what = what or "a ZIP archive, not an Excel workbook; upload the CSV or XLSX inside it"
    raise FileUnreadable(f"This is {what}.")
