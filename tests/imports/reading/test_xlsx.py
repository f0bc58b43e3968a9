"""XLSX workbooks: values as text, sheets, dimensions, damaged archives, the zip-bomb
check, and how each cell value reads."""

from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading import ReadLimits, archive, iter_rows, sniff, xlsx, xlsx_parts

from .conftest import FILES, rows
from .workbooks import sheet_xml, strings_xml, write_workbook


def test_xlsx_values_as_text() -> None:
    """openpyxl writes no cached value for a formula, so "Total" (=C2*D2) reads as ""."""
    info = sniff(FILES / "inventory.xlsx")
    assert (info.format, info.encoding, info.delimiter, info.sheet) == ("xlsx", None, None, "Stock")
    assert info.headers == ("SKU", "Name", "Qty", "Unit Price", "Total", "Received", "Active")
    assert rows(FILES / "inventory.xlsx") == [
        (2, ["A-100", "Bolt", "12", "0.3", "", "2024-03-01", "TRUE"]),
        (3, ["B-200", "Nut", "3", "19.99", "", "2024-03-02 14:30:00", "FALSE"]),
        (5, ["C-300", "Washer", "", "1234567.5", "", "", ""]),
    ]


@pytest.fixture
def unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to parse a workbook fails the test: limits are checked before."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workbook must not be parsed")

    monkeypatch.setattr(xlsx._WorkbookReader, "read", never)


@pytest.mark.usefixtures("unparsed")
def test_zip_bomb_refused_before_parsing() -> None:
    with pytest.raises(ValidationFailed, match=r"unpacks to .* over the limit of 1,000"):
        sniff(FILES / "inventory.xlsx", ReadLimits(max_xlsx_uncompressed_bytes=1_000))


@pytest.mark.usefixtures("unparsed")
def test_a_part_over_its_limit_is_named() -> None:
    with pytest.raises(
        ValidationFailed,
        match=r"its part '[^']+' unpacks to [\d,]+ bytes, "
        r"over the limit of 100 per part \(CRMFERRY_MAX_XLSX_PART_BYTES\)",
    ):
        sniff(FILES / "inventory.xlsx", ReadLimits(max_xlsx_part_bytes=100))


def _with_part(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "book.xlsx"
    with (
        zipfile.ZipFile(FILES / "inventory.xlsx") as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr(name, data)
    return path


def test_a_part_packed_too_tightly_is_refused(tmp_path: Path) -> None:
    path = _with_part(tmp_path, "xl/media/padding.bin", b"\0" * (2 * 1024 * 1024))
    with pytest.raises(
        ValidationFailed,
        match=r"'xl/media/padding.bin' unpacks to 2,097,152 bytes "
        r"from [\d,]+, [\d,]+ times .* over the limit of 100 times",
    ):
        sniff(path)
    assert sniff(path, ReadLimits(max_xlsx_ratio=100_000)).headers[0] == "SKU"


@pytest.mark.usefixtures("unparsed")
def test_the_content_types_part_is_read_whole_and_has_a_small_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(archive, "MAX_WHOLE_PART_BYTES", 100)
    with pytest.raises(
        ValidationFailed,
        match=r"its part '\[Content_Types\].xml' unpacks to [\d,]+ bytes, over the limit "
        r"of 100 for a part read whole\.$",
    ):
        sniff(FILES / "inventory.xlsx")


def test_the_workbook_part_is_read_whole_and_has_a_small_limit(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    padding = b"<!-- " + os.urandom(3 * 1024 * 1024 // 2).hex().encode() + b" -->"
    with (
        zipfile.ZipFile(FILES / "inventory.xlsx") as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data + padding if item.filename == "xl/workbook.xml" else data)
    with pytest.raises(
        ValidationFailed,
        match=r"its part 'xl/workbook.xml' unpacks to [\d,]+ bytes, over the limit",
    ):
        sniff(path)


# ---------------------------------------------------------------- XLSX details


def _save(workbook: openpyxl.Workbook, path: Path) -> Path:
    workbook.save(path)
    return path


def test_xlsx_leading_blank_rows_keep_excel_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["B3"], sheet["C3"] = "Email", "Email"
    sheet["B4"], sheet["C4"] = "a@example.com", "b@example.com"
    path = _save(workbook, tmp_path / "book.xlsx")
    info = sniff(path)
    assert (info.header_row, info.headers) == (3, ("Column 1", "Email", "Email (2)"))
    assert list(iter_rows(path, info)) == [(4, ["", "a@example.com", "b@example.com"])]


def test_xlsx_first_visible_sheet_is_read(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    assert hidden is not None
    hidden.title, hidden.sheet_state = "Lookup", "hidden"
    hidden.append(["code"])
    data = workbook.create_sheet("Data")
    data.append(["sku", "qty"])
    data.append(["A", 1.5])
    path = _save(workbook, tmp_path / "book.xlsx")
    info = sniff(path)
    assert (info.sheet, info.headers) == ("Data", ("sku", "qty"))
    assert rows(path) == [(2, ["A", "1.5"])]


def test_xlsx_wrong_dimension_is_ignored(tmp_path: Path) -> None:
    """Some writers declare "A1" whatever the data: every row is still read."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for i in range(30):
        sheet.append([f"h{i}" if i == 0 else f"v{i}", i])
    source = _save(workbook, tmp_path / "source.xlsx")
    path = tmp_path / "lying.xlsx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1"', data)
            dst.writestr(item, data)
    info = sniff(path)
    assert info.row_estimate == 29
    assert len(rows(path)) == 29


def test_xlsx_without_dimension_counts_row_elements(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Data")
    sheet.append(["sku", "qty"])
    for i in range(50):
        sheet.append([f"S{i}", i])
    path = _save(workbook, tmp_path / "streamed.xlsx")
    with zipfile.ZipFile(path) as archive:
        assert b"<dimension" not in archive.read("xl/worksheets/sheet1.xml")
    info = sniff(path)
    assert (info.row_estimate, len(info.preview)) == (50, 20)
    assert len(rows(path)) == 50


def test_xlsx_damaged_inside(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not-really")
    with pytest.raises(FileUnreadable, match="XLSX workbook cannot be"):
        sniff(path)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "TRUE"),
        (7, "7"),
        (7.0, "7"),
        (0.1 + 0.2, "0.3"),
        (1e20, "1e+20"),
        (dt.datetime(2024, 5, 6), "2024-05-06"),
        (dt.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06 07:08:09"),
        (dt.date(2024, 5, 6), "2024-05-06"),
        (dt.time(7, 8), "07:08:00"),
        ("#DIV/0!", "#DIV/0!"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert xlsx.cell_text(value) == text


def _book(tmp_path: Path, rows: bytes, strings: bytes = b"") -> Path:
    return write_workbook(tmp_path / "book.xlsx", sheet_xml([rows]), strings_xml([strings]))


def test_xlsx_shared_strings_of_the_first_rows_are_read(tmp_path: Path) -> None:
    """Sniffing resolves the strings a chunk of rows uses; reading holds the table."""
    strings = b"".join(b"<si><t>s%d</t></si>" % i for i in range(3000))
    strings += b"<si><r><t>rich </t></r><r><t>text</t></r><rPh><t>phonetic</t></rPh></si>"
    cells = b'<c r="A1" t="s"><v>2999</v></c><c r="B1" t="s"><v>3000</v></c>'
    body = b"".join(
        b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c></row>' % (n, n, 3000 - n) for n in range(2, 80)
    )
    path = _book(tmp_path, b'<row r="1">' + cells + b"</row>" + body, strings)
    info = sniff(path)
    assert info.headers == ("s2999", "rich text")
    assert info.preview[:2] == (("s2998", ""), ("s2997", ""))
    assert rows(path)[-1] == (79, ["s2921", ""])


def test_xlsx_cell_refers_to_a_missing_shared_string(tmp_path: Path) -> None:
    path = _book(tmp_path, b'<row r="1"><c r="A1" t="s"><v>7</v></c></row>', b"<si><t>a</t></si>")
    with pytest.raises(FileUnreadable, match="refers to shared string 7"):
        sniff(path)


def test_xlsx_sniffing_looks_at_the_first_rows_only(tmp_path: Path) -> None:
    blank = b'<row><c t="inlineStr"><is><t> </t></is></c></row>' * xlsx.SNIFF_MAX_ROWS
    path = _book(tmp_path, blank + b'<row><c t="inlineStr"><is><t>late</t></is></c></row>')
    with pytest.raises(FileUnreadable, match="no header row in its first 10,000 rows"):
        sniff(path)


def test_xlsx_row_wider_than_excel_is_refused(tmp_path: Path) -> None:
    wide = b"<row>" + b"<c><v>1</v></c>" * 16_385 + b"</row>"
    path = _book(tmp_path, b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>' + wide)
    with pytest.raises(FileUnreadable, match="more than 16,384 cells or"):
        sniff(path)


def test_xlsx_text_too_long_for_any_cell_is_refused_while_read(tmp_path: Path) -> None:
    """A shared string of 5 MB is refused before the parser holds it whole."""
    huge = b"<si><t>" + os.urandom(5 * 1024 * 1024 // 2).hex().encode() + b"</t></si>"
    path = _book(tmp_path, b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>', huge)
    with pytest.raises(FileUnreadable, match="a text or tag of more than 4,194,304 bytes"):
        sniff(path)


@pytest.mark.parametrize("shared", [True, False], ids=["shared strings", "inline strings"])
def test_xlsx_sniffing_reads_a_bounded_amount_of_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    monkeypatch.setattr(xlsx, "SNIFF_MAX_CHARS", 100)
    if shared:
        cell = b'<c t="s"><v>%d</v></c>'
        strings = b"".join(b"<si><t>%s</t></si>" % (b"x" * 30) for _ in range(5))
    else:
        cell, strings = b'<c t="inlineStr"><is><t>' + b"x" * 30 + b"</t></is></c><!-- %d -->", b""
    path = _book(tmp_path, b"".join(b"<row>" + cell % i + b"</row>" for i in range(5)), strings)
    with pytest.raises(
        ValidationFailed, match="first rows of the sheet hold more than 100 characters"
    ):
        sniff(path)


def test_xlsx_row_with_too_much_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_parts, "MAX_ROW_CHARS", 50)
    cells = b'<c t="inlineStr"><is><t>' + b"y" * 30 + b"</t></is></c>"
    path = _book(
        tmp_path, b'<row><c t="inlineStr"><is><t>a</t></is></c></row><row>' + cells * 2 + b"</row>"
    )
    with pytest.raises(FileUnreadable, match="or 50 characters"):
        sniff(path)
