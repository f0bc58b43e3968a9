"""XLSX workbooks: values as text, sheets, dimensions, damaged archives, the zip-bomb
check, and how each cell value reads."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading import ReadLimits, iter_rows, sniff, xlsx

from .conftest import FILES, rows


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


def test_zip_bomb_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workbook must not be parsed")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(ValidationFailed, match=r"unpacks to .* over the limit of 1,000"):
        sniff(FILES / "inventory.xlsx", ReadLimits(max_xlsx_uncompressed_bytes=1_000))


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
