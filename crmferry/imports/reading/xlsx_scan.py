"""A worksheet's rows and the shared strings read by regular expressions over the XML
text, for the whole read of an import: some ten times faster than building an element
per cell and parsing it with openpyxl (`xlsx_parts` + `WorkSheetParser`), with the same
values.

The scanner handles the XML that spreadsheet programs write: unprefixed elements, cells
whose attributes `r`, `s` and `t` come in that order (others may follow), values in
`<v>`, inline strings in `<is>`. Any row it does not recognise whole (a CDATA section, a
`<v>` it cannot take apart, attributes out of order, a cell the expression did not
match) is parsed by ElementTree and openpyxl's `parse_row`, as every row was before, so
a row is never guessed at; a sheet or table that uses namespace prefixes, or that is
not UTF-8, is not scanned at all (`ScanUnsupported`: the caller reads it the old way).
"""

from __future__ import annotations

import codecs
import re
import zipfile
from array import array
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast
from xml.etree.ElementTree import fromstring

from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.utils.escape import unescape
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS

from crmferry.errors import FileUnreadable
from crmferry.imports.reading.cells import cell_text as plain_cell_text
from crmferry.imports.reading.xlsx_parts import MAX_ROW_CELLS, MAX_ROW_CHARS, SharedStrings

_BLOCK_CHARS = 1024 * 1024
# A row's XML without its end this long is a bomb or a broken sheet: a row holds at
# most MAX_ROW_CHARS characters of text, and its markup less than 64 bytes a cell.
_MAX_ROW_XML = 2 * MAX_ROW_CHARS + 64 * MAX_ROW_CELLS

_ROOT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(?:worksheet|sst)\b[^>]*>")
_DEFAULT_NAMESPACE = f'xmlns="{SHEET_MAIN_NS}"'
_PREFIXED_MAIN = re.compile(r'xmlns:[\w.-]+="' + re.escape(SHEET_MAIN_NS) + '"')
_DECLARED_ENCODING = re.compile(r"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']+)""")
_SHEET_DATA = re.compile(r"<sheetData\s*(/?)>")
_ROW_NUMBER = re.compile(r'\sr="([^"]*)"')
# A cell: its column letters, style, type, any other attributes, and its content as
# one of: a plain inline string's text, a plain value, anything else.
_CELL = re.compile(
    r'<c(?: r="([A-Z]{1,3})\d+")?(?: s="(\d+)")?(?: t="([A-Za-z]+)")?'
    r'((?:\s+[\w:.-]+="[^"]*")*)\s*'
    r'(?:/>|>(?:<is><t(?: xml:space="preserve")?>([^<]*)</t></is>|<v>([^<]*)</v>|(.*?))</c>)',
    re.S,
)
_ORDER_ATTRIBUTE = re.compile(r'\s[rst]="')
_VALUE = re.compile(r"<v>([^<]*)</v>|<v\s*/>")  # openpyxl writes <v /> for no value
_INLINE = re.compile(r"<is>(.*?)</is>|<is\s*/>", re.S)
_PHONETIC = re.compile(r"<rPh\b.*?</rPh>|<rPh\b[^>]*/>", re.S)
_TEXT = re.compile(r"<t(?:\s[^>]*)?>([^<]*)</t>|<t(?:\s[^>]*)?/>")
_STRING = re.compile(r"<si>(.*?)</si>|<si\s*/>", re.S)
_ENTITY = re.compile(r"&(?:#(\d+)|#x([0-9A-Fa-f]+)|(lt|gt|amp|quot|apos));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_SIMPLE_TEXTS = ("<t>", '<t xml:space="preserve">')


class ScanUnsupported(Exception):
    """The part is not XML the scanner reads (prefixes, another encoding)."""


# ---------------------------------------------------------------- text


def _entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _NAMED[name]
    return chr(int(decimal) if decimal else int(hexadecimal, 16))


def xml_text(raw: str) -> str:
    """Character data as an XML parser gives it: line ends normalised to LF (before the
    references are replaced, so that `&#13;` stays a CR), references replaced."""
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in raw:
        return _ENTITY.sub(_entity, raw)
    return raw


def _unescaped(text: str) -> str:
    """A text with the workbook's _xHHHH_ escapes undone (`xlsx.cell_text`)."""
    return unescape(text) if "_x" in text else text


def _text(raw: str) -> str:
    """A plain text's characters, its escapes undone."""
    return _unescaped(xml_text(raw))


def _rich_text(body: str) -> str:
    """The text of an <si> or <is>: its <t> and its runs' <t>, without phonetic guides."""
    if body.startswith(_SIMPLE_TEXTS) and body.endswith("</t>") and body.count("<") == 2:
        return xml_text(body[body.index(">") + 1 : -4])
    if "<rPh" in body:
        body = _PHONETIC.sub("", body)
    return "".join(xml_text(found) for found in _TEXT.findall(body))


# ---------------------------------------------------------------- the stream


def _decoded_blocks(stream: Any) -> Iterator[str]:
    """The part's text in blocks; ScanUnsupported for a declared encoding other than
    UTF-8 (or a part that is not UTF-8)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = True
    try:
        while data := stream.read(_BLOCK_CHARS):
            if first:
                first = False
                declared = _DECLARED_ENCODING.match(data[:200].decode("latin-1"))
                if declared and declared.group(1).lower().replace("_", "-") not in (
                    "utf-8",
                    "utf8",
                ):
                    raise ScanUnsupported(declared.group(1))
                text = decoder.decode(data)
                yield text[1:] if text.startswith("\ufeff") else text
                continue
            yield decoder.decode(data)
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # the XML parser refuses such a part too
        raise FileUnreadable(f"The XLSX workbook cannot be read: {exc}.") from exc


def _check_root(start_tag: str | None) -> None:
    """ScanUnsupported unless the part's elements are the main namespace's, unprefixed:
    then every element the scanner matches by name is the one it means."""
    if (
        start_tag is None
        or not start_tag.startswith(("<worksheet", "<sst"))
        or _DEFAULT_NAMESPACE not in start_tag
        or _PREFIXED_MAIN.search(start_tag)
    ):
        raise ScanUnsupported("namespace prefixes")


# ---------------------------------------------------------------- rows

Values = tuple[int, list[str]]


class RowScanner:
    """Reads the rows of one worksheet part as (Excel's row number, its cells as text
    from column A to its last cell), leaving out rows without cells and rows out of
    order, as `xlsx._sheet_values` does."""

    def __init__(
        self,
        strings: SharedStrings,
        dates: set[int],
        durations: set[int],
        epoch: datetime,
        text_of: Callable[[object], str],
    ) -> None:
        self.strings = strings
        self.dates = dates
        self.durations = durations
        self.epoch = epoch
        self.text_of = text_of  # xlsx.cell_text: the workbook's _xHHHH_ escapes undone
        self.root = ""
        self.row_counter = 0
        self.last = 0
        self.columns: dict[str, int] = {}
        self.parser: WorkSheetParser | None = None

    def rows(self, archive: zipfile.ZipFile, member: str) -> Iterator[Values]:
        """Every row of the part. ScanUnsupported before the first row for a part the
        scanner does not read; FileUnreadable for a row past a limit."""
        with archive.open(member) as stream:
            blocks = _decoded_blocks(stream)
            buffer = self._to_sheet_data(blocks)
            if buffer is None:
                return
            for block in blocks:
                buffer += block
                end = buffer.find("</sheetData>")
                cut = end if end >= 0 else buffer.rfind("</row>")
                if end < 0 and cut >= 0:
                    cut += len("</row>")
                if cut > 0:
                    yield from self._scan(buffer[:cut])
                    buffer = buffer[cut:]
                if end >= 0:
                    return
                if len(buffer) > _MAX_ROW_XML:
                    raise _row_too_large()
            end = buffer.find("</sheetData>")
            yield from self._scan(buffer[: end if end >= 0 else len(buffer)])

    def _to_sheet_data(self, blocks: Iterator[str]) -> str | None:
        """The text after <sheetData>, the root's start tag kept; None for an empty
        sheet. ScanUnsupported for prefixed elements."""
        head = ""
        for block in blocks:
            head += block
            found = _SHEET_DATA.search(head)
            if found is None:
                if len(head) > 64 * _BLOCK_CHARS:
                    raise ScanUnsupported("no sheetData early in the part")
                continue
            root = _ROOT.search(head, 0, found.start())
            _check_root(root.group(0) if root else None)
            self.root = root.group(0) if root else ""
            if found.group(1):  # <sheetData/>
                return None
            return head[found.end() :]
        root = _ROOT.search(head)
        _check_root(root.group(0) if root else None)
        return None

    def _scan(self, text: str) -> Iterator[Values]:
        """The rows of `text`, which ends after a row (str.find, some five times faster
        than an expression with a lazy body)."""
        find, pos = text.find, 0
        while (start := find("<row", pos)) >= 0:
            close = find(">", start)
            if close < 0 or text[start + 4] not in " \t\r\n/>":
                if close < 0:
                    return
                pos = start + 4
                continue
            if text[close - 1] == "/":  # <row .../>: no cells
                attributes, body, pos = text[start + 4 : close - 1], "", close + 1
            else:
                end = find("</row>", close)
                if end < 0:
                    raise FileUnreadable("The XLSX workbook cannot be read: a row has no end.")
                attributes, body, pos = text[start + 4 : close], text[close + 1 : end], end + 6
            number = self._row_number(attributes)
            cells = self._cells(body) if body else None
            if cells is None and body:
                cells = self._parsed_row(text[start:pos], number)
            if number > self.last and cells:
                self.last = number
                yield number, cells

    def _row_number(self, attributes: str) -> int:
        found = _ROW_NUMBER.search(attributes)
        if found is None:
            self.row_counter += 1
            return self.row_counter
        raw = found.group(1)
        try:
            self.row_counter = int(raw)
        except ValueError:
            value = float(raw)  # openpyxl's reading of r="2.0"; a ValueError otherwise
            if not value.is_integer():
                raise FileUnreadable(
                    f"The XLSX workbook cannot be read: {raw} is not a valid row number."
                ) from None
            self.row_counter = int(value)
        return self.row_counter

    def _cells(self, body: str) -> list[str] | None:
        """The row's cells as text at their columns' places; None when the row is not
        one the scanner reads whole (then it is parsed)."""
        if "<![CDATA[" in body:
            return None
        found = _CELL.findall(body)
        if len(found) != body.count("<c ") + body.count("<c>") + body.count("<c/"):
            return None  # a cell the expression did not match
        if len(found) > MAX_ROW_CELLS:
            raise _row_too_large()
        columns, values = self.columns, list[str]()
        column = chars = 0
        for letters, style, kind, extra, inline, plain, other in found:
            if extra and _ORDER_ATTRIBUTE.search(extra):
                return None
            if not letters:
                column += 1
            elif letters in columns:
                column = columns[letters]
            else:
                column = self._column(letters)
            if kind == "inlineStr":  # its <v> is ignored, as openpyxl ignores it
                text = _text(inline) if inline or not other else self._inline(other)
            elif plain:
                text = self._typed(style, kind or "n", plain)
            elif other:
                text = self._value(style, kind or "n", other)
            else:
                text = ""
            if text is None:
                return None
            chars += len(text)
            if column == len(values) + 1:
                values.append(text)
            elif column > len(values):
                values.extend([""] * (column - len(values) - 1))
                values.append(text)
            else:  # a column again, or out of order: the later cell is kept
                values[column - 1] = text
        if chars > MAX_ROW_CHARS:
            raise _row_too_large()
        del values[column:]  # a row ends at its last cell's column, as openpyxl's do
        return values

    def _column(self, letters: str) -> int:
        index = column_index_from_string(letters)
        self.columns[letters] = index
        return int(index)

    def _inline(self, content: str) -> str | None:
        """An inline string's text from content other than one plain <is><t>."""
        inline = _INLINE.search(content)
        if inline is None:
            return "" if "<is" not in content else None
        return _unescaped(_rich_text(inline.group(1) or ""))

    def _value(self, style: str, kind: str, content: str) -> str | None:
        """A cell's text from content other than one plain <v> (a formula before it, an
        empty <v />); None for content the scanner does not take apart."""
        values = _VALUE.findall(content)
        if not values:
            return None if "<v" in content else ""
        return self._typed(style, kind, values[0]) if values[0] else ""

    def _typed(self, style: str, kind: str, raw: str) -> str:
        """The text of the value `raw` (as written in the XML) of a cell of this style
        and type, as `xlsx.cell_text` of openpyxl's value."""
        raw = xml_text(raw)
        if kind == "n":
            if raw.isascii() and raw.isdigit() and (raw[0] != "0" or len(raw) == 1) and not style:
                return raw  # str(int(raw)), a common case, without the round trip
            number: int | float = float(raw) if "." in raw or "E" in raw or "e" in raw else int(raw)
            style_id = int(style) if style else 0
            if style_id in self.dates:
                try:
                    return plain_cell_text(
                        from_excel(number, self.epoch, timedelta=style_id in self.durations)
                    )
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return plain_cell_text(number)
        if kind == "s":
            return _unescaped(self.strings[int(raw)])
        if kind == "b":
            return "TRUE" if int(raw) else "FALSE"
        if kind == "d":
            return plain_cell_text(from_ISO8601(raw))  # type: ignore[no-untyped-call]
        return _unescaped(raw)  # str (a formula's text), e (an error), or unknown

    def _parsed_row(self, row_xml: str, number: int) -> list[str]:
        """A row the scanner does not read whole, parsed as before: ElementTree, in the
        root's namespaces, and openpyxl's parse_row."""
        if self.parser is None:
            self.parser = WorkSheetParser(
                b"",  # never read: rows are handed to parse_row
                self.strings,
                data_only=True,
                epoch=self.epoch,
                date_formats=self.dates,
                timedelta_formats=self.durations,
            )
        closed = self.root[:-2] + ">" if self.root.endswith("/>") else self.root
        element = fromstring(f"{closed}<sheetData>{row_xml}</sheetData></worksheet>")
        row = element.find(f"{{{SHEET_MAIN_NS}}}sheetData/{{{SHEET_MAIN_NS}}}row")
        assert row is not None  # the text is one <row> element: it parsed as one
        self.parser.row_counter = number - 1 if "r" not in row.attrib else 0
        _, cells = self.parser.parse_row(cast(Any, row))
        self.parser.row_dimensions.clear()
        if not cells:
            return []
        width = cells[-1]["column"]
        values = [""] * width
        for cell in cells:
            if 1 <= cell["column"] <= width:
                values[cell["column"] - 1] = self.text_of(cell["value"])
        return values


def _row_too_large() -> FileUnreadable:
    return FileUnreadable(
        f"A row of the sheet holds more than {MAX_ROW_CELLS:,} cells or "
        f"{MAX_ROW_CHARS:,} characters, more than a spreadsheet holds."
    )


# ---------------------------------------------------------------- shared strings


def load_shared_strings(archive: zipfile.ZipFile, member: str | None) -> SharedStrings:
    """The whole shared-string table, as `SharedStrings.load` reads it.
    ScanUnsupported for a table in prefixed elements or another encoding."""
    data, ends = bytearray(), array("Q")
    if member is None:
        return SharedStrings.of(data, ends)
    with archive.open(member) as stream:
        buffer = ""
        checked = False
        for block in _decoded_blocks(stream):
            buffer += block
            if not checked:
                root = _ROOT.search(buffer)
                if root is None and len(buffer) < 64 * _BLOCK_CHARS:
                    continue
                _check_root(root.group(0) if root else None)
                checked = True
            cut = buffer.rfind("</si>")
            cut = cut + len("</si>") if cut >= 0 else 0
            _add_strings(buffer[:cut], data, ends)
            buffer = buffer[cut:]
            if len(buffer) > _MAX_ROW_XML:
                raise _row_too_large()
        if not checked:
            root = _ROOT.search(buffer)
            _check_root(root.group(0) if root else None)
        _add_strings(buffer, data, ends)
    return SharedStrings.of(data, ends)


def _add_strings(text: str, data: bytearray, ends: array[int]) -> None:
    for match in _STRING.finditer(text):
        body = match.group(1)
        string = _rich_text(body).replace("x005F_", "") if body else ""
        data += string.encode("utf-8")
        ends.append(len(data))
