"""Open an uploaded file as a table: `sniff` describes it, `iter_rows` streams it.

The format comes from the content, never the name: a ZIP holding
`xl/workbook.xml` is an XLSX workbook, anything else must be text (CSV, TSV,
TXT); images, PDFs, other archives and binary junk raise `FileUnreadable`
saying what the file looks like.

Text: the encoding is a byte-order mark (UTF-8, UTF-16/32 LE/BE), else UTF-8
when the whole file decodes as UTF-8 (checked by streaming it, so an accent on
row 50,000 is not missed), else charset-normalizer's guess on 64 KiB around
the first non-UTF-8 byte, preferring cp1252 (what Windows and Excel write in
the West) when no other code page fits clearly better.
The delimiter is the one of `, ; TAB |` that splits the sample most
consistently into the header's width (csv.Sniffer breaks ties).

Rows are numbered as the user counts them, the header being row 1: for text,
the CSV record number (a quoted cell spanning three lines is still one row,
as a spreadsheet shows it); for XLSX, the sheet's own row number. The header
is the first non-blank row; blank rows are skipped but keep their numbers.

XLSX is read with openpyxl in read-only mode (streamed, so memory stays flat)
with `data_only=True`: formulas are never evaluated, the value Excel cached
when it last saved is read. A formula without a cached value (written by
openpyxl, for instance) reads as "".

Limits (`ReadLimits`) protect the service and end the whole read with a clear
`ValidationFailed`: more data rows than `max_rows`, a cell longer than
`max_cell_chars` (Excel's own maximum by default, so real spreadsheets never
reach it; per-field lengths are the validator's job), an XLSX whose declared
uncompressed size exceeds `max_xlsx_uncompressed_bytes` (checked from the ZIP
directory before any parsing; Python's zipfile never inflates an entry past
its declared size, so the declaration cannot lie).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import os
import re
import zipfile
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

import charset_normalizer
import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from crmferry.errors import FileUnreadable, ValidationFailed

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

    from crmferry.config import Settings

StrPath = str | os.PathLike[str]
Record = tuple[int, list[str]]

SAMPLE_BYTES = 64 * 1024
PREVIEW_ROWS = 20
DELIMITERS = (",", ";", "\t", "|")

_CHUNK_BYTES = 1024 * 1024
# One physical line may hold many long cells, but not a whole file without a line break.
_MAX_LINE_CHARS = 16 * 1024 * 1024
_SNIFF_RECORDS = 100
# Above this share of control characters a "text" file is really binary.
_MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_ROW_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")  # <row ...>, <x:row ...>

_BOMS = (
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 (.xls) workbook or a password-protected file; "
        "save it as .xlsx or CSV (without a password)",
    ),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ZIP_KINDS = (
    ("xl/workbook.bin", "an Excel binary workbook (.xlsb); save it as .xlsx or CSV"),
    ("word/document.xml", "a Word document"),
    ("ppt/presentation.xml", "a PowerPoint presentation"),
    ("content.xml", "an OpenDocument file (.ods/.odt); save it as .xlsx or CSV"),
)


@dataclass(frozen=True)
class ReadLimits:
    """Limits that protect the service; each one, when exceeded, fails the read clearly."""

    max_rows: int = 5_000_000
    max_cell_chars: int = 32_767
    max_xlsx_uncompressed_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        """The limits configured by CRMFERRY_MAX_IMPORT_ROWS, _MAX_CELL_CHARS and
        _MAX_XLSX_UNCOMPRESSED_BYTES."""
        return cls(
            max_rows=settings.max_import_rows,
            max_cell_chars=settings.max_cell_chars,
            max_xlsx_uncompressed_bytes=settings.max_xlsx_uncompressed_bytes,
        )


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class FileInfo:
    """What sniffing found: enough to show the file and to read it again with `iter_rows`.

    `encoding` and `delimiter` are None for XLSX; `sheet` is None for text.
    `preview` rows have the shape `iter_rows` yields. `row_estimate` counts the
    data rows after the header: exact for text up to 64 KiB, else extrapolated
    from the sample; for XLSX, the sheet's declared size (or a streamed count).
    """

    format: Literal["csv", "xlsx"]
    encoding: str | None
    delimiter: str | None
    headers: tuple[str, ...]
    preview: tuple[tuple[str, ...], ...]
    row_estimate: int
    header_row: int = 1
    sheet: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples (the upload response uses these keys)."""
        return {
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "headers": list(self.headers),
            "preview": [list(row) for row in self.preview],
            "row_estimate": self.row_estimate,
            "header_row": self.header_row,
            "sheet": self.sheet,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileInfo:
        """The inverse of `to_dict` (missing optional keys take their defaults)."""
        return cls(
            format=data["format"],
            encoding=data.get("encoding"),
            delimiter=data.get("delimiter"),
            headers=tuple(data["headers"]),
            preview=tuple(tuple(row) for row in data.get("preview") or ()),
            row_estimate=int(data.get("row_estimate") or 0),
            header_row=int(data.get("header_row") or 1),
            sheet=data.get("sheet"),
        )


# ---------------------------------------------------------------- public API


def sniff(path: StrPath, limits: ReadLimits = DEFAULT_LIMITS) -> FileInfo:
    """Describe the file at `path`: format, encoding, delimiter, headers, preview, row estimate.

    Raises FileUnreadable for a file that is empty, binary or not a table, and
    ValidationFailed when a limit is exceeded in what sniffing reads.
    """
    with open(path, "rb") as file:
        head = file.read(SAMPLE_BYTES)
    if not head:
        raise FileUnreadable("The file is empty.")
    _reject_known_binary(head)
    if head.startswith(_ZIP_MAGIC):
        return _sniff_xlsx(path, limits)
    return _sniff_text(path, head, limits)


def iter_rows(
    path: StrPath, info: FileInfo, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[Record]:
    """Stream the data rows of the file `sniff` described as (row_number, cells),
    numbered as the user counts them (header = row 1; see the module's docstring).

    Rows shorter than the header are padded with ""; longer ones keep their
    extra cells (trailing empty ones dropped) for the validator to report.
    Memory stays bounded whatever the file's size. Raises FileUnreadable if the
    file no longer matches `info` or cannot be decoded, ValidationFailed past a limit.
    """
    if info.format == "xlsx":
        records = _xlsx_records(path, info, limits)
    else:
        records = _text_records(path, info, limits)
    try:
        header_row, headers = _split_header(records)
        if tuple(headers) != tuple(info.headers):
            raise FileUnreadable(
                "The file's header row is not the one found when it was uploaded; "
                "was the file replaced?"
            )
        yield from _data_rows(records, header_row, headers, limits)
    finally:
        records.close()  # closes the file (and the workbook) even when the caller stops early


def clean_headers(cells: Sequence[str]) -> list[str]:
    """Header cells as column names: trimmed, trailing blanks dropped, other blanks
    named "Column N" (N counting from 1), repeats made unique ("Email", "Email (2)")."""
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    named = [name or f"Column {index}" for index, name in enumerate(names, start=1)]
    return _unique(named)


# ---------------------------------------------------------------- shared row logic


def _unique(names: list[str]) -> list[str]:
    """Suffix repeated names (compared case-insensitively) with " (2)", " (3)"..."""
    seen: set[str] = set()
    result: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def _is_blank(cells: Sequence[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def _split_header(records: Iterator[Record]) -> tuple[int, list[str]]:
    """Consume records up to the first non-blank one, the header; its number and names."""
    for number, cells in records:
        if not _is_blank(cells):
            return number, clean_headers(cells)
    raise FileUnreadable("The file has no header row: it holds no data at all.")


def _data_rows(
    records: Iterator[Record], header_row: int, headers: Sequence[str], limits: ReadLimits
) -> Iterator[Record]:
    """The records after the header, shaped to its width, blank ones skipped, limits enforced."""
    width = len(headers)
    for number, cells in records:
        if number - header_row > limits.max_rows:
            raise ValidationFailed(
                f"The file has more than {limits.max_rows:,} data rows, the limit "
                "(CRMFERRY_MAX_IMPORT_ROWS); split it into smaller files.",
                [{"field": "file", "message": f"more than {limits.max_rows:,} rows"}],
            )
        # one join answers both per-row questions cheaply: blank? any cell too long?
        joined = "".join(cells)
        if not joined or joined.isspace():
            continue
        row = _fit(cells, width)
        if len(joined) > limits.max_cell_chars:
            _check_cell_sizes(number, row, headers, limits)
        yield number, row


def _fit(cells: list[str], width: int) -> list[str]:
    """Pad to `width`; keep cells beyond it except trailing empty ones (stray delimiters)."""
    if len(cells) <= width:
        return cells + [""] * (width - len(cells))
    end = len(cells)
    while end > width and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _check_cell_sizes(
    number: int, row: list[str], headers: Sequence[str], limits: ReadLimits
) -> None:
    if not row or max(map(len, row)) <= limits.max_cell_chars:
        return
    index = next(i for i, cell in enumerate(row) if len(cell) > limits.max_cell_chars)
    column = headers[index] if index < len(headers) else f"Column {index + 1}"
    message = (
        f"row {number}, column '{column}': {len(row[index]):,} characters, over the limit "
        f"of {limits.max_cell_chars:,} per cell"
    )
    raise ValidationFailed(
        f"A cell is too long: {message} (CRMFERRY_MAX_CELL_CHARS).",
        [{"field": "file", "message": message}],
    )


# ---------------------------------------------------------------- text: sniffing


def _reject_known_binary(head: bytes) -> None:
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise FileUnreadable(f"This is {what}, not a CSV or XLSX file.")


def _sniff_text(path: StrPath, head: bytes, limits: ReadLimits) -> FileInfo:
    whole = os.path.getsize(path) <= len(head)
    encoding = _detect_encoding(path, head)
    text = _decode_sample(head, encoding, final=whole)
    _reject_control_characters(text)
    complete = text if whole else _cut_after_last_line_break(text)
    delimiter = _choose_delimiter(complete)
    parsed = list(_parse(complete, delimiter))
    if parsed and not whole and complete.count('"') % 2:
        parsed.pop()  # the sample ends inside a quoted cell: its record is incomplete
    records = enumerate(parsed, start=1)
    header_row, headers = _split_header(records)
    rows = _data_rows(records, header_row, headers, limits)
    preview = tuple(tuple(row) for _, row in islice(rows, PREVIEW_ROWS))
    if whole:
        estimate = len(preview) + sum(1 for _ in rows)
    else:
        estimate = _extrapolate(path, len(parsed), len(head) * len(complete) / len(text))
        estimate = max(estimate - header_row, len(preview))
    return FileInfo("csv", encoding, delimiter, tuple(headers), preview, estimate, header_row)


def _extrapolate(path: StrPath, records: int, sample_bytes: float) -> int:
    """Records in the file, assuming the sample's average bytes per record holds throughout."""
    return round(records * os.path.getsize(path) / max(sample_bytes, 1.0))


def _detect_encoding(path: StrPath, head: bytes) -> str:
    """A byte-order mark's encoding, else UTF-8 if the whole file is, else a legacy guess."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            _require_decodable(path, encoding, f"marked as {encoding} by its byte-order mark")
            return encoding
    first_error = _first_decode_error(path, "utf-8")
    if first_error is None:
        return "utf-8"
    return _detect_legacy_encoding(path, _window(path, first_error))


def _detect_legacy_encoding(path: StrPath, sample: bytes) -> str:
    """charset-normalizer's guess for `sample` (see `_prefer_cp1252`), checked against
    the whole file. If cp1252 fails on a byte it leaves undefined, latin-1 (which
    decodes every byte) is the fallback."""
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        raise FileUnreadable(
            "The file is not text in any encoding we recognise (UTF-8, UTF-16 with a "
            "byte-order mark, Windows/ISO code pages): it looks binary."
        )
    encoding = _prefer_cp1252(matches, best)
    if encoding.startswith(("utf-16", "utf-32")):
        raise FileUnreadable("The file looks like UTF-16/32 text without a byte-order mark.")
    if _first_decode_error(path, encoding) is None:
        return encoding
    if encoding == "cp1252":
        return "latin-1"
    raise FileUnreadable(f"The file mixes text encodings: part of it is not {encoding}.")


def _prefer_cp1252(
    matches: charset_normalizer.CharsetMatches, best: charset_normalizer.CharsetMatch
) -> str:
    """cp1252 when it fits as well as the best guess, or when the best guess recognised
    no language (a few accents in a short file prove nothing, and cp1252 is what Windows
    and Excel write in the West); otherwise the best guess. Binary content decoded this
    way is still caught by the control-character check."""
    ties = [m for m in matches if m.chaos <= best.chaos]
    if best.coherence == 0 or any("cp1252" in m.could_be_from_charset for m in ties):
        return "cp1252"
    return codecs.lookup(best.encoding).name


def _require_decodable(path: StrPath, encoding: str, why: str) -> None:
    offset = _first_decode_error(path, encoding)
    if offset is not None:
        raise FileUnreadable(
            f"The file is {why}, but the bytes near offset {offset:,} are not valid {encoding}."
        )


def _first_decode_error(path: StrPath, encoding: str) -> int | None:
    """The byte offset (approximate) where decoding the whole file fails; None if it does not.

    Streamed in 1 MiB chunks: fast (the codecs are C) and memory-flat.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return max(offset + exc.start - len(exc.object) + len(chunk), offset)
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _window(path: StrPath, offset: int) -> bytes:
    """About 64 KiB of the file around `offset`, starting at a line start."""
    start = max(0, offset - SAMPLE_BYTES // 2)
    with open(path, "rb") as file:
        file.seek(start)
        data = file.read(SAMPLE_BYTES)
    if start > 0 and b"\n" in data[: offset - start]:
        data = data[data.index(b"\n") + 1 :]
    return data


def _decode_sample(head: bytes, encoding: str, final: bool) -> str:
    """The sample as text; an incomplete multi-byte character at its end is left out."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(head, final=final)
    except UnicodeDecodeError as exc:
        raise FileUnreadable(f"The start of the file is not valid {encoding}.") from exc
    return text.removeprefix("\ufeff")


def _reject_control_characters(text: str) -> None:
    controls = len(_CONTROL.findall(text))
    # A stray control character or two is noise in a small text file, not binary content.
    if controls > max(_MAX_CONTROL_SHARE * len(text), 2):
        raise FileUnreadable(
            f"The file looks binary: {controls:,} of its first {len(text):,} characters are "
            "control characters (such as NUL bytes). Upload a CSV/text table or an XLSX "
            "workbook (UTF-16 text needs a byte-order mark)."
        )


def _cut_after_last_line_break(text: str) -> str:
    end = max(text.rfind("\n"), text.rfind("\r"))
    if end < 0:
        raise FileUnreadable(
            f"The first {SAMPLE_BYTES // 1024} KiB of the file hold no line break: "
            "it does not look like a CSV or text table."
        )
    return text[: end + 1]


def _parse(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), **_dialect(delimiter))


def _dialect(delimiter: str) -> dict[str, Any]:
    # Excel's CSV dialect: double quotes, doubled to escape, no backslash escapes.
    return {"delimiter": delimiter, "quotechar": '"', "doublequote": True, "strict": False}


def _choose_delimiter(text: str) -> str:
    """The candidate that splits the sample most consistently into the header's width
    (then the widest; csv.Sniffer's guess breaks remaining ties). "," for one column."""
    guess = _sniffer_guess(text)
    scores = {d: _consistency(text, d) for d in DELIMITERS}
    tabular = [d for d in DELIMITERS if scores[d][1] >= 2]
    if not tabular:
        return ","
    return max(tabular, key=lambda d: (*scores[d], d == guess))


def _sniffer_guess(text: str) -> str | None:
    head = "".join(io.StringIO(text, newline="").readlines()[:50])
    try:
        return csv.Sniffer().sniff(head, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return None


def _consistency(text: str, delimiter: str) -> tuple[float, int]:
    """(share of sampled rows as wide as the header, header width)."""
    records = [r for r in islice(_parse(text, delimiter), _SNIFF_RECORDS) if not _is_blank(r)]
    if not records:
        return 0.0, 0
    width = len(records[0])
    rest = records[1:]
    if not rest:
        return 1.0, width
    return sum(1 for r in rest if len(r) == width) / len(rest), width


# ---------------------------------------------------------------- text: streaming


class _LineTooLong(Exception):
    pass


def _text_records(
    path: StrPath, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    """Every CSV record of the file, numbered from 1, decoded as sniffed, streamed."""
    if info.encoding is None or info.delimiter is None:
        raise FileUnreadable("The file description lacks an encoding or delimiter.")
    if csv.field_size_limit() < limits.max_cell_chars + 1:
        # process-wide, only ever raised: cells up to the limit must parse, to be reported
        csv.field_size_limit(limits.max_cell_chars + 1)
    number = 0
    with open(path, "rb") as raw:
        stream = io.TextIOWrapper(raw, encoding=info.encoding, errors="strict", newline="")
        try:
            if stream.read(1) != "\ufeff":
                stream.seek(0)
            reader = csv.reader(_bounded_lines(stream), **_dialect(info.delimiter))
            for number, cells in enumerate(reader, start=1):
                yield number, cells
        except UnicodeDecodeError as exc:
            raise FileUnreadable(
                f"Row {number + 1} holds bytes that are not valid {info.encoding}."
            ) from exc
        except _LineTooLong as exc:
            raise FileUnreadable(
                f"Row {number + 1} is longer than {_MAX_LINE_CHARS:,} characters without a "
                "line break; this does not look like a CSV file."
            ) from exc
        except csv.Error as exc:
            raise FileUnreadable(
                f"Row {number + 1} cannot be read as CSV ({exc}); "
                "an unclosed quote may have swallowed the rest of the file."
            ) from exc


def _bounded_lines(stream: io.TextIOWrapper) -> Iterator[str]:
    """Physical lines, refusing one so long it would hold the file in memory."""
    while line := stream.readline(_MAX_LINE_CHARS):
        if len(line) >= _MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise _LineTooLong
        yield line


# ---------------------------------------------------------------- XLSX


def _sniff_xlsx(path: StrPath, limits: ReadLimits) -> FileInfo:
    with _workbook(path, limits) as workbook:
        sheet = _first_sheet(workbook)
        declared = sheet.max_row  # from the sheet's <dimension>: may be absent or wrong
        records = _sheet_records(sheet)
        header_row, headers = _split_header(records)
        rows = _data_rows(records, header_row, headers, limits)
        preview = tuple(tuple(row) for _, row in islice(rows, PREVIEW_ROWS))
        if declared is not None and declared - header_row >= len(preview):
            estimate = declared - header_row
        else:  # no usable dimension
            estimate = max(_count_row_elements(path, sheet) - header_row, len(preview))
    return FileInfo("xlsx", None, None, tuple(headers), preview, estimate, header_row, sheet.title)


def _count_row_elements(path: StrPath, sheet: ReadOnlyWorksheet) -> int:
    """The <row> elements of the sheet's XML, counted on the raw stream (memory-flat and
    some 100 times faster than parsing); they include formatted blank rows."""
    member = getattr(sheet, "_worksheet_path", None)  # openpyxl keeps it; private
    if not isinstance(member, str):
        return 0
    count, carry = 0, b""
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            data = carry + chunk
            cut = max(data.rfind(b"<"), 0)  # a tag never straddles two counted pieces
            count += len(_ROW_ELEMENT.findall(data, 0, cut))
            carry = data[cut:]
    return count + len(_ROW_ELEMENT.findall(carry))


def _xlsx_records(
    path: StrPath, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    with _workbook(path, limits) as workbook:
        sheet = _first_sheet(workbook, info.sheet)
        yield from _sheet_records(sheet)


@contextmanager
def _workbook(path: StrPath, limits: ReadLimits) -> Iterator[Workbook]:
    """The workbook opened read-only with cached values, after the zip-bomb check."""
    _check_archive(path, limits)
    # A file object, not the path: openpyxl would refuse a name not ending in .xlsx.
    with open(path, "rb") as handle:
        try:
            workbook = openpyxl.load_workbook(
                handle, read_only=True, data_only=True, keep_links=False
            )
        except Exception as exc:  # any parser failure means a broken workbook, said plainly
            raise FileUnreadable(f"The XLSX workbook cannot be opened: {_reason(exc)}.") from exc
        try:
            yield workbook
        finally:
            workbook.close()


def _check_archive(path: StrPath, limits: ReadLimits) -> None:
    """A ZIP must be an XLSX within the uncompressed-size limit (from its directory alone)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileUnreadable(f"The file is a damaged ZIP/XLSX archive: {_reason(exc)}.") from exc
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        what = next((w for n, w in _ZIP_KINDS if n in names), None)
        what = what or "a ZIP archive, not an Excel workbook; upload the CSV or XLSX inside it"
        raise FileUnreadable(f"This is {what}.")
    total = sum(entry.file_size for entry in entries)
    if total > limits.max_xlsx_uncompressed_bytes:
        message = (
            f"the workbook unpacks to {total:,} bytes, over the limit of "
            f"{limits.max_xlsx_uncompressed_bytes:,}"
        )
        raise ValidationFailed(
            f"The XLSX file is too large: {message} (CRMFERRY_MAX_XLSX_UNCOMPRESSED_BYTES).",
            [{"field": "file", "message": message}],
        )


def _first_sheet(workbook: Workbook, title: str | None = None) -> ReadOnlyWorksheet:
    """The sheet named `title`, else the first visible worksheet (hidden ones are usually
    lookup tables), else the first worksheet."""
    sheets = [s for s in workbook.worksheets if isinstance(s, ReadOnlyWorksheet)]
    if title is not None:
        sheets = [s for s in sheets if s.title == title]
    visible = [s for s in sheets if s.sheet_state == "visible"]
    if not sheets:
        missing = f"no sheet named '{title}'" if title else "no worksheet"
        raise FileUnreadable(f"The XLSX workbook has {missing}.")
    return (visible or sheets)[0]


def _sheet_records(sheet: ReadOnlyWorksheet) -> Iterator[Record]:
    """Every row of the sheet as text, numbered as Excel numbers them."""
    # Forget the declared dimension: openpyxl would otherwise stop at a wrong one,
    # or pad every row to a huge declared width.
    sheet.reset_dimensions()
    try:
        for number, values in enumerate(sheet.values, start=1):
            yield number, [_cell_text(value) for value in values]
    except Exception as exc:  # a malformed sheet surfaces mid-stream as any parser error
        raise FileUnreadable(f"The XLSX workbook cannot be read: {_reason(exc)}.") from exc


def _cell_text(value: object) -> str:
    """A cell value as the text a CSV export would hold (dates as ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _float_text(value: float) -> str:
    # Excel keeps 15 significant digits: 0.1 + 0.2 shows as 0.3, and so do we.
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
