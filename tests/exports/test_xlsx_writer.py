"""XLSX: typed cells, text that stays text, control characters, a new sheet when one is
full, and bounded memory for a large export."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import psutil
import pytest
from python_calamine import CalamineWorkbook

from crmferry.db import Database
from crmferry.exports import xlsx_writer
from crmferry.records import BIDS, CONTACTS, INVENTORY

from .conftest import BIG, Insert
from .samples import export, read_xlsx


def test_xlsx_cells_are_typed(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    export(
        db,
        filled_org,
        INVENTORY,
        {"format": "xlsx", "fields": ["sku", "quantity", "cost", "description", "created_at"]},
        path,
    )
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.title == "Inventory"
    assert [c.value for c in sheet[1]] == ["sku", "quantity", "cost", "description", "created_at"]
    _, quantity, cost, description, created = sheet[2]
    assert (quantity.value, quantity.data_type) == (3, "n")
    assert (cost.value, cost.data_type, cost.number_format) == (-5, "n", "0.00")
    assert (description.value, description.data_type) == ("'=1+1", "s")
    assert created.value == datetime(2024, 1, 1)  # UTC, naive
    assert created.is_date
    assert (sheet["A3"].value, sheet["A3"].data_type) == ("'-5", "s")
    assert sheet["B3"].value == -7


def test_xlsx_text_that_looks_like_an_error_code_stays_text(
    db: Database, filled_org: UUID, tmp_path: Path
) -> None:
    path = tmp_path / "e.xlsx"
    export(
        db,
        filled_org,
        CONTACTS,
        {
            "format": "xlsx",
            "fields": ["notes"],
            "filters": [{"field": "notes", "op": "eq", "value": "#N/A"}],
        },
        path,
    )
    cell = openpyxl.load_workbook(path).worksheets[0]["A2"]
    assert (cell.value, cell.data_type) == ("#N/A", "s")


def test_xlsx_drops_control_characters_xml_cannot_hold(
    db: Database, new_org: Callable[[], UUID], insert: Insert, tmp_path: Path
) -> None:
    org = new_org()
    insert("contacts", org, [{"name": "bell\x07 and \x1b escape", "notes": "tab\tkept"}])
    path = tmp_path / "x.xlsx"
    export(db, org, CONTACTS, {"format": "xlsx", "fields": ["name", "notes"]}, path)
    assert read_xlsx(path) == [{"name": "bell and  escape", "notes": "tab\tkept"}]


def test_xlsx_starts_a_new_sheet_when_one_is_full(
    db: Database, filled_org: UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_writer, "MAX_XLSX_ROWS", 2)
    path = tmp_path / "s.xlsx"
    export(db, filled_org, CONTACTS, {"format": "xlsx", "fields": ["status"]}, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Contacts", "Contacts (2)"]
    sheets = [[[c.value for c in row] for row in sheet.iter_rows()] for sheet in book.worksheets]
    assert sheets == [[["status"], ["customer"], ["active"]], [["status"], ["lead"]]]


def peak_rss_growth(work: Callable[[], Any]) -> tuple[Any, int]:
    """Run `work` while sampling this process's RSS; return its result and the growth."""
    process = psutil.Process()
    start = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, peak - start


@pytest.mark.slow
def test_big_xlsx_export_memory_is_bounded(db: Database, big_org: UUID, tmp_path: Path) -> None:
    """XLSX by RSS growth (tracemalloc would slow openpyxl several times over)."""
    path = tmp_path / "big.xlsx"
    result, growth = peak_rss_growth(
        lambda: export(db, big_org, CONTACTS, {"format": "xlsx"}, path)
    )
    assert result.record_count == BIG
    print(f"xlsx RSS growth {growth / 1e6:.1f} MB")
    assert growth < 60_000_000, f"RSS grew {growth / 1e6:.1f} MB"
    rows, tail = xlsx_sheet_rows(path)
    assert rows == BIG + 1
    assert tail.endswith(f'<autoFilter ref="A1:P{BIG + 1}"/></worksheet>'.encode())


def xlsx_sheet_rows(path: Path, size: int = 1 << 16) -> tuple[int, bytes]:
    """The `<row>` elements of the first sheet's XML and its last bytes, read as a stream."""
    tail, rows = b"", 0
    with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
        while block := sheet.read(size):
            rows += (tail[-4:] + block).count(b"<row>")
            tail = (tail + block)[-2 * size :]
    return rows, tail


def test_xlsx_header_is_bold_frozen_filtered_and_columns_have_widths(
    db: Database, filled_org: UUID, tmp_path: Path
) -> None:
    path = tmp_path / "h.xlsx"
    fields = ["sku", "quantity", "cost", "description", "created_at", "id"]
    export(db, filled_org, INVENTORY, {"format": "xlsx", "fields": fields}, path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert [(c.value, c.font.b) for c in sheet[1]] == [(f, True) for f in fields]
    assert not any(c.font.b for c in sheet[2])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F3"
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEF"}
    assert widths == {"A": 24, "B": 11, "C": 14, "D": 24, "E": 20, "F": 38}
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert calamine[0] == fields and len(calamine) == 3


def test_xlsx_text_reads_back_as_written_carriage_returns_included(
    db: Database, new_org: Callable[[], UUID], insert: Insert, tmp_path: Path
) -> None:
    """A CR is the workbook escape `_x000D_` (XML would read a raw CR as LF), and text
    that looks like an escape is escaped itself, so both readers give back the text."""
    org = new_org()
    texts = [
        "one\rtwo\r\nthree\nfour",
        "literal _x000D_ and _x0041_ stay",
        "<b>&amp; 'quoted' \"double\"</b>",
        "  padded  ",
        "tab\tkept",
        "x" * 40_000,
    ]
    insert("contacts", org, [{"name": f"n{i}", "notes": t} for i, t in enumerate(texts)])
    path = tmp_path / "cr.xlsx"
    export(db, org, CONTACTS, {"format": "xlsx", "fields": ["notes"]}, path)
    expected = [*texts[:-1], "x" * 32_767]  # Excel's longest cell
    assert [r["notes"] for r in read_xlsx(path)] == expected  # openpyxl and calamine agree
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert [row[0] for row in calamine[1:]] == expected
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    assert b"one_x000D_two_x000D_&#10;three&#10;four" in xml
    assert b"literal _x005F_x000D_ and _x005F_x0041_ stay" in xml


def test_xlsx_numbers_and_dates_are_typed_for_both_readers(
    db: Database, filled_org: UUID, tmp_path: Path
) -> None:
    path = tmp_path / "d.xlsx"
    fields = ["bid_number", "amount", "valid_until", "created_at"]
    export(db, filled_org, BIDS, {"format": "xlsx", "fields": fields}, path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    _, amount, valid, created = sheet[2]
    assert (amount.value, amount.data_type, amount.number_format) == (99999.99, "n", "0.00")
    assert valid.value == datetime(2024, 6, 30) and valid.is_date
    assert valid.number_format == "yyyy-mm-dd"
    assert created.is_date and created.number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["C3"].value is None
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert calamine[1][:3] == ["Q-1", 99999.99, date(2024, 6, 30)]
    assert calamine[1][3] == date(2024, 1, 1)  # calamine: midnight is a date


def test_xlsx_every_sheet_has_its_header_and_filter(
    db: Database, filled_org: UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_writer, "MAX_XLSX_ROWS", 1)
    path = tmp_path / "m.xlsx"
    export(db, filled_org, CONTACTS, {"format": "xlsx", "fields": ["status", "name"]}, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Contacts", "Contacts (2)", "Contacts (3)"]
    for sheet in book.worksheets:
        assert [c.value for c in sheet[1]] == ["status", "name"]
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:B2"
    calamine = CalamineWorkbook.from_path(str(path))
    assert calamine.sheet_names == book.sheetnames
    assert [calamine.get_sheet_by_name(n).to_python()[1][0] for n in book.sheetnames] == [
        "customer",
        "active",
        "lead",
    ]


def test_xlsx_full_sheet_is_not_followed_by_an_empty_one(
    db: Database, filled_org: UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_writer, "MAX_XLSX_ROWS", 3)
    path = tmp_path / "f.xlsx"
    export(db, filled_org, CONTACTS, {"format": "xlsx", "fields": ["status"]}, path)
    assert openpyxl.load_workbook(path).sheetnames == ["Contacts"]
