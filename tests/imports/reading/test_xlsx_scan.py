"""The scanning XLSX reader (`xlsx_scan`) gives exactly what the parsing reader
(ElementTree + openpyxl's cell parsing) gives, on workbooks openpyxl writes, on the
golden files and on hand-written XML of every form the scanner meets; rows it does not
read whole are parsed, sheets it does not read at all fall back whole."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from crmferry.errors import FileUnreadable
from crmferry.imports.reading import DEFAULT_LIMITS, xlsx, xlsx_scan

from .conftest import FILES
from .workbooks import MAIN, sheet_xml, strings_xml, write_workbook


def both(path: Path) -> tuple[list[object], list[object]]:
    """The rows by the scanner and by the parser, of the workbook's first sheet."""
    with xlsx._open_book(path, DEFAULT_LIMITS) as book:
        sheet = xlsx._first_sheet(book)
        scanned = list(xlsx._scanned_records(book, sheet))
        parsed = list(xlsx._parsed_records(book, sheet))
    return scanned, parsed


@pytest.fixture
def parsed_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row numbers the scanner handed to the parser."""
    seen: list[int] = []
    original = xlsx_scan.RowScanner._parsed_row

    def counted(self: xlsx_scan.RowScanner, row_xml: str, number: int) -> list[str]:
        seen.append(number)
        return original(self, row_xml, number)

    monkeypatch.setattr(xlsx_scan.RowScanner, "_parsed_row", counted)
    return seen


def test_golden_workbook_scanned_as_parsed(parsed_rows: list[int]) -> None:
    scanned, parsed = both(FILES / "inventory.xlsx")
    assert scanned == parsed
    assert scanned[1] == (2, ["A-100", "Bolt", "12", "0.3", "", "2024-03-01", "TRUE"])
    assert parsed_rows == []


def test_openpyxl_workbook_of_every_value_scanned_as_parsed(
    tmp_path: Path, parsed_rows: list[int]
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["text", "number", "date", "flag", "rich"])
    rich = CellRichText("plain ", TextBlock(InlineFont(b=True), "bold"), " end")
    sheet.append(["a & b < c > \"d\" 'e'", 0.1 + 0.2, dt.date(2024, 2, 29), True, rich])
    sheet.append(["line\r\nbreak\rCR", 10**15, dt.datetime(2024, 3, 1, 14, 30, 5), False])
    sheet.append(["_x000D_ literal", -0.5, dt.time(7, 45), None, "€ 😀 ü"])
    sheet.append(["00123", 1e20, dt.timedelta(hours=36), "=1+1", Decimal("1234567.891")])
    sheet.cell(row=9, column=7, value="far away")  # blank rows and columns before it
    sheet.cell(row=10, column=1, value="  spaced  ")
    path = tmp_path / "values.xlsx"
    book.save(path)
    scanned, parsed = both(path)
    assert scanned == parsed
    assert [number for number, _ in scanned] == [1, 2, 3, 4, 5, 9, 10]
    assert scanned[1] == (
        2,
        ["a & b < c > \"d\" 'e'", "0.3", "2024-02-29", "TRUE", "plain bold end"],
    )
    assert scanned[2][1][0] == "line\nbreak\nCR"
    assert scanned[5] == (9, ["", "", "", "", "", "", "far away"])
    assert parsed_rows == []


def _hand_written(tmp_path: Path, rows: bytes, strings: bytes = b"") -> Path:
    return write_workbook(tmp_path / "hand.xlsx", sheet_xml([rows]), strings_xml([strings]))


def test_hand_written_forms_scanned_as_parsed(tmp_path: Path, parsed_rows: list[int]) -> None:
    path = _hand_written(
        tmp_path,
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        b'<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        b'<row><c><v>7</v></c><c/><c t="inlineStr"><is><t xml:space="preserve"> x </t></is></c>'
        b'<c t="b"><v>1</v></c></row>'
        b'<row r="4" spans="1:4" ht="20" customHeight="1">'
        b'<c r="A4" t="str"><f>A1&amp;"x"</f><v>line&#13;&#10;two &#x20AC;</v></c>'
        b'<c r="B4" t="e"><v>#N/A</v></c><c r="C4" s="0" t="n" cm="1"><v>1.5E3</v></c>'
        b'<c r="D4" t="inlineStr"><is><r><t>ru</t></r><r><rPr><b/></rPr><t>ns</t></r></is></c></row>'
        b'<row r="3"><c r="A3"><v>9</v></c></row>'  # out of order: left out
        b'<row r="6"/>'
        b'<row r="7"><c r="A7" t="inlineStr"><is/></c><c r="B7" t="inlineStr"></c>'
        b'<c r="C7"><v></v></c><c r="D7" t="s"><v>4</v></c></row>'
        b'<row r="8">\r\n<c r="B8" t="str"><v>raw\r\nCRLF</v></c>\r\n</row>',
        b"<si><t>Name</t></si><si><r><t>E-</t></r><r><t>mail</t></r></si>"
        b'<si><t xml:space="preserve"> Phone </t><rPh sb="0" eb="1"><t>fon</t></rPh></si>'
        b"<si/><si><t>x005F_x000D_ kept &amp; _x000D_</t></si>",
    )
    scanned, parsed = both(path)
    assert scanned == parsed
    assert scanned[0] == (1, ["Name", "E-mail", " Phone ", ""])
    assert scanned[1] == (2, ["7", "", " x ", "TRUE"])
    assert scanned[2] == (4, ["line\r\ntwo €", "#N/A", "1500", "runs"])
    assert [number for number, _ in scanned] == [1, 2, 4, 7, 8]
    assert scanned[4] == (8, ["", "raw\nCRLF"])
    assert parsed_rows == []


def test_rows_it_cannot_read_whole_are_parsed(tmp_path: Path, parsed_rows: list[int]) -> None:
    path = _hand_written(
        tmp_path,
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>2</v></c></row>'
        b'<row r="2"><c t="s" r="B2"><v>0</v></c><c s="0" r="C2"><v>3</v></c></row>'
        b'<row r="3"><c r="A3" t="str"><v><![CDATA[<kept>]]></v></c></row>'
        b'<row r="4"><c r="A4"><v/></c><c r="B4"><v>5</v></c></row>',
        b"<si><t>Name</t></si>",
    )
    scanned, parsed = both(path)
    assert scanned == parsed
    assert scanned[1:] == [(2, ["", "Name", "3"]), (3, ["<kept>"]), (4, ["", "5"])]
    assert parsed_rows == [2, 3]


def test_a_prefixed_sheet_is_read_by_the_parser(tmp_path: Path) -> None:
    sheet = [
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>Name</x:t></x:is>'
        b'</x:c></x:row><x:row r="2"><x:c r="A2"><x:v>4</x:v></x:c></x:row></x:sheetData>'
        b"</x:worksheet>"
    ]
    path = write_workbook(tmp_path / "prefixed.xlsx", sheet, strings_xml([b""]))
    with xlsx._open_book(path, DEFAULT_LIMITS) as book, pytest.raises(xlsx_scan.ScanUnsupported):
        list(xlsx._scanned_records(book, xlsx._first_sheet(book)))
    info = xlsx.sniff_xlsx(path, b"", DEFAULT_LIMITS)
    assert list(xlsx.xlsx_records(path, info, DEFAULT_LIMITS)) == [(1, ["Name"]), (2, ["4"])]


def test_a_broken_cell_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    broken = _hand_written(tmp_path, b'<row r="1"><c r="A1"><v>x1</v></c></row>')
    with pytest.raises(FileUnreadable, match="cannot be read: invalid literal"):
        scanned(broken)
    missing = _hand_written(tmp_path, b'<row r="1"><c r="A1" t="s"><v>5</v></c></row>')
    with pytest.raises(FileUnreadable, match="cannot be read"):
        scanned(missing)


def scanned(path: Path) -> list[object]:
    with xlsx._open_book(path, DEFAULT_LIMITS) as book:
        return list(xlsx._scanned_records(book, xlsx._first_sheet(book)))


def test_many_rows_across_blocks_scanned_as_parsed(tmp_path: Path) -> None:
    """Rows and strings cut at the scanner's 1 MiB blocks arrive whole."""
    count = 30_000
    rows = (
        b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d"><v>%d.25</v></c>'
        b'<c r="C%d" t="inlineStr"><is><t>inline &amp; %d</t></is></c></row>'
        % (i + 1, i + 1, i, i + 1, i, i + 1, i)
        for i in range(count)
    )
    strings = (b"<si><t>string number %d \xc3\xa9</t></si>" % i for i in range(count))
    path = write_workbook(tmp_path / "big.xlsx", sheet_xml(rows), strings_xml(strings))
    scanned, parsed = both(path)
    assert len(scanned) == count
    assert scanned == parsed
    assert scanned[-1] == (
        count,
        [f"string number {count - 1} é", f"{count - 1}.25", f"inline & {count - 1}"],
    )


_cell_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x0b\x0c"), max_size=30
).filter(lambda text: not text.startswith("="))
_cell = st.one_of(
    st.none(),
    _cell_text,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_cell, min_size=1, max_size=6), min_size=1, max_size=8))
def test_any_openpyxl_sheet_scanned_as_parsed(tmp_path: Path, table: list[list[object]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in table:
        sheet.append([_legal(value) for value in row])
    path = tmp_path / "any.xlsx"
    book.save(path)
    scanned, parsed = both(path)
    assert scanned == parsed


def _legal(value: object) -> object:
    """openpyxl refuses other control characters in text."""
    if isinstance(value, str):
        return "".join(c for c in value if c >= " " or c in "\t\n\r")
    return value


def test_main_namespace_marker_is_the_one_the_tests_write() -> None:
    assert MAIN.decode() == xlsx_scan._DEFAULT_NAMESPACE
