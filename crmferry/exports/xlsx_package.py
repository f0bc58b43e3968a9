"""The XLSX package around the sheet rows PostgreSQL writes (`sheet_xml`): the parts a
workbook needs, each sheet's head (a bold header row, frozen, column widths) and tail
(the autofilter over its rows), zipped as the rows arrive.

`Workbook` is written to a binary file the caller opened; sheets are added in order,
each opened when its first rows arrive (so that an export that fills a sheet exactly
has no empty sheet after it), in groups (the exported records, then each kind of
included records, each group its own title and columns), and the workbook, its styles
and the content types are written last, when the sheets' names and row counts are
known.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from contextlib import suppress
from typing import IO, BinaryIO, cast
from xml.sax.saxutils import escape, quoteattr

from crmferry.exports.query import Column

COMPRESSION_LEVEL = 1  # zlib's fastest: a sheet of text compresses ~6x even so
MAX_WIDTH = 60

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

ROOT_RELS = (
    XML_DECLARATION + f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)

# cellXfs by index: 0 general, 1 date, 2 date-time, 3 decimal (built-in "0.00"), 4 the
# header (bold); sheet_xml's *_STYLE constants name 1-3.
STYLES_XML = (
    XML_DECLARATION + f'<styleSheet xmlns="{MAIN_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
HEADER_STYLE = 4

# Column widths (in characters) by field type; a header longer than its type's width
# widens its column. Data is not looked at: the file is written in one pass.
WIDTHS = {
    "text": 24,
    "email": 30,
    "phone": 18,
    "currency": 10,
    "enum": 14,
    "integer": 10,
    "decimal": 14,
    "boolean": 9,
    "date": 12,
    "datetime": 20,
}
UUID_WIDTH = 38


def column_letter(index: int) -> str:
    """`A` for 0, `Z` for 25, `AA` for 26..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_width(column: Column) -> int:
    base = UUID_WIDTH if column.field.sql_type == "uuid" else WIDTHS.get(column.field.type, 16)
    return min(max(base, len(column.name) + 3), MAX_WIDTH)


class Workbook:
    """An XLSX file being written: `sheet_file()` is where the current sheet's rows go
    (whole `<row>` elements), `rows_written(n)` counts them, `next_sheet()` starts the
    next sheet, `close()` finishes the file. Not closed (an exception), the file is
    left incomplete for the caller to remove (`abandon` closes it quietly)."""

    def __init__(self, out: BinaryIO, title: str, columns: Sequence[Column]) -> None:
        self.archive = zipfile.ZipFile(
            out, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION_LEVEL
        )
        self.title = title  # of the current group of sheets (the records, or included ones)
        self.columns = list(columns)
        self.group_sheets = 0  # sheets of the current group opened so far
        self.sheet_names: list[str] = []
        self.sheet_widths: list[int] = []  # columns of each sheet
        self.sheet_rows: list[int] = []  # records in each sheet opened so far
        self._sheet = _LazySheet(self)

    def sheet_file(self) -> BinaryIO:
        return cast(BinaryIO, self._sheet)

    def rows_written(self, rows: int) -> None:
        self.sheet_rows[-1] += rows

    def next_sheet(self) -> None:
        """End the current sheet; the next rows written start another."""
        self._sheet.finish()
        self._sheet = _LazySheet(self)

    def next_group(self, title: str, columns: Sequence[Column]) -> None:
        """End the current group of sheets; the next rows start a sheet named `title`
        with `columns` (included records, after the exported ones)."""
        self._end_group()
        self.title, self.columns, self.group_sheets = title, list(columns), 0
        self._sheet = _LazySheet(self)

    def _end_group(self) -> None:
        self._sheet.finish()
        if not self.group_sheets:  # no record: one sheet with the header alone
            self._sheet.open()
            self._sheet.finish()

    def close(self) -> None:
        self._end_group()
        names = self.sheet_names
        self.archive.writestr("xl/workbook.xml", self._workbook_xml(names))
        self.archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(names)))
        self.archive.writestr("xl/styles.xml", STYLES_XML)
        self.archive.writestr("_rels/.rels", ROOT_RELS)
        self.archive.writestr("[Content_Types].xml", _content_types(len(names)))
        self.archive.close()

    def abandon(self) -> None:
        """Close what is open without finishing the workbook (its file is to be removed)."""
        with suppress(Exception):
            if self._sheet.part is not None:
                self._sheet.part.close()
        with suppress(Exception):
            self.archive.close()

    def sheet_name(self, number: int) -> str:
        return self.title if number == 1 else f"{self.title} ({number})"

    def open_sheet(self) -> IO[bytes]:
        """The next sheet's part, its head written (the header row included)."""
        self.group_sheets += 1
        self.sheet_names.append(self.sheet_name(self.group_sheets))
        self.sheet_widths.append(len(self.columns))
        self.sheet_rows.append(0)
        name = f"xl/worksheets/sheet{len(self.sheet_rows)}.xml"
        part = self.archive.open(name, "w", force_zip64=True)
        part.write(self._sheet_head().encode())
        return part

    def sheet_tail(self) -> bytes:
        last = f"{column_letter(len(self.columns) - 1)}{self.sheet_rows[-1] + 1}"
        return f'</sheetData><autoFilter ref="A1:{last}"/></worksheet>'.encode()

    def _sheet_head(self) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{column_width(c)}" customWidth="1"/>'
            for i, c in enumerate(self.columns, 1)
        )
        header = "".join(
            f'<c t="inlineStr" s="{HEADER_STYLE}"><is><t>{escape(c.name)}</t></is></c>'
            for c in self.columns
        )
        return (
            XML_DECLARATION + f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            f"<cols>{cols}</cols><sheetData><row>{header}</row>\n"
        )

    def _workbook_xml(self, names: Sequence[str]) -> str:
        sheets = "".join(
            f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
            for n, name in enumerate(names, 1)
        )
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
            + escape(
                f"'{name.replace(chr(39), chr(39) * 2)}'!$A$1:"
                f"${column_letter(width - 1)}${rows + 1}"
            )
            + "</definedName>"
            for n, (name, width, rows) in enumerate(
                zip(names, self.sheet_widths, self.sheet_rows, strict=True)
            )
        )
        return (
            XML_DECLARATION + f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets>"
            f"<definedNames>{filters}</definedNames></workbook>"
        )


class _LazySheet:
    """A file-like sheet whose part is opened by its first write."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        self.part: IO[bytes] | None = None

    def open(self) -> None:
        self.part = self.book.open_sheet()

    def write(self, data: bytes | bytearray) -> int:
        if not data:
            return 0
        if self.part is None:
            self.open()
        assert self.part is not None
        return self.part.write(data)

    def finish(self) -> None:
        if self.part is not None:
            self.part.write(self.book.sheet_tail())
            self.part.close()
            self.part = None


def _workbook_rels(sheets: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{REL_NS}/styles" Target="styles.xml"/>'
    return XML_DECLARATION + f'<Relationships xmlns="{PKG_REL_NS}">{rels}{styles}</Relationships>'


def _content_types(sheets: int) -> str:
    base = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{base}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        XML_DECLARATION
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{base}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{base}.styles+xml"/>'
        f"{overrides}</Types>"
    )
