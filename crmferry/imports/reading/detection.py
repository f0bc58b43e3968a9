"""Which reader reads a file, told from its content, never its name.

A ZIP holding `xl/workbook.xml` is an XLSX workbook, one whose `mimetype` says so an
OpenDocument spreadsheet (.ods), an OLE2 compound file an Excel 97-2003 workbook (.xls);
text whose first non-blank line is a whole JSON object is JSON Lines (`jsonl`); anything
else must be text (CSV, TSV, TXT). Images, PDFs, other archives and binary
junk raise FileUnreadable saying what the file looks like.

Each format is a `Reader` in READERS, keyed by the name `FileInfo.format` records.
Adding a format is one module (its `sniff` and `records`, like `text` and `xlsx`), its
entry in READERS (`streams=True` when it reads a `Source` front to back, else it is
given a local path), and the content that tells it here: a ZIP member in `_ZIP_FORMATS`,
or leading bytes in `_SIGNATURE_FORMATS` (taken out of `_REFUSED` if listed there).
"""

from __future__ import annotations

import codecs
import json
import zipfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from crmferry.errors import FileUnreadable
from crmferry.imports.reading import calamine_book, jsonl, text, xlsx
from crmferry.imports.reading.archive import archive_members
from crmferry.imports.reading.info import (
    SAMPLE_BYTES,
    FileInfo,
    ReadChoices,
    ReadLimits,
    Record,
    StrPath,
)
from crmferry.imports.reading.source import Source, as_source, skip_bytes


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
    "jsonl": Reader(jsonl.sniff_jsonl, jsonl.jsonl_records),
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
    name = format_of_head(head, as_source(path))
    return _zip_format(path) if name == ZIP else name


ZIP = "zip"  # what `format_of_head` answers when the ZIP's directory must tell


def format_of_head(head: bytes, source: Source) -> str:
    """The READERS name told by the first bytes (and, for JSON Lines whose first line
    is longer than `head`, that line read on from `source`), or ZIP for a ZIP archive,
    whose directory tells (`detect_format`); FileUnreadable as `detect_format`."""
    if not head:
        raise FileUnreadable("The file is empty.")
    for signature, name in _SIGNATURE_FORMATS:
        if head.startswith(signature):
            return name
    for signature, what in _REFUSED:
        if head.startswith(signature):
            raise FileUnreadable(f"This is {what}, not a CSV, XLSX, XLS, ODS or JSON Lines file.")
    if head.startswith(_ZIP_MAGIC):
        return ZIP
    return "jsonl" if _is_json_lines(source, head) else "csv"


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


# ---------------------------------------------------------------- JSON Lines

_WHITE = b" \t\r\n"
# Unicode text that is not UTF-8, told by its byte-order mark (UTF-32 first: its
# little-endian mark begins with UTF-16's).
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _is_json_lines(source: Source, head: bytes) -> bool:
    """True when the first non-blank line of the file (after a UTF-8 byte-order mark) is
    one whole JSON object. A CSV whose first cell merely starts with `{` is not one.

    FileUnreadable for JSON Lines in UTF-16 or UTF-32, and for a JSON document (one
    value over many lines, or an array) that is not JSON Lines."""
    for bom, encoding in _OTHER_BOMS:
        if head.startswith(bom):
            first = head.decode(encoding, errors="replace").lstrip().split("\n", 1)[0]
            if _is_object(first):
                raise FileUnreadable(
                    f"This is JSON Lines in {encoding.upper()}; JSON Lines files are UTF-8 "
                    "(RFC 8259): save it as UTF-8 and upload it again."
                )
            return False
    if not head.removeprefix(codecs.BOM_UTF8).lstrip(_WHITE).startswith((b"{", b"[")):
        return False
    text = _first_line(head, source).decode("utf-8", errors="replace").strip()
    if text in ("{", "[") or (text.startswith("[") and _parses(text)):
        raise FileUnreadable(
            "This is a JSON document, not JSON Lines: imports read one JSON object per "
            "line (as our JSON Lines exports write them), or a CSV or spreadsheet."
        )
    return _is_object(text)


def _first_line(head: bytes, source: Source) -> bytes:
    """The first non-blank line, read on from the file when it is longer than `head`."""
    offset = len(head) - len(head.removeprefix(codecs.BOM_UTF8).lstrip(_WHITE))
    end = head.find(b"\n", offset)
    if end >= 0 or len(head) < SAMPLE_BYTES:
        return head[offset:] if end < 0 else head[offset:end]
    with source.open() as file:
        skip_bytes(file, offset)
        return file.readline(jsonl.MAX_LINE_BYTES)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # (values nested past Python's stack)
        return False
    return True


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False
