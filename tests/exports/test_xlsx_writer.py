"""XLSX: typed cells, text that stays text, control characters, a new sheet when one is
full, and bounded memory for a large export."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import psutil
import pytest

from crmferry.db import Database
from crmferry.exports import xlsx_writer
from crmferry.records import CONTACTS, INVENTORY

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
    assert f'<row r="{BIG + 1}"'.encode() in xlsx_sheet_tail(path)


def xlsx_sheet_tail(path: Path, size: int = 1 << 16) -> bytes:
    """The last bytes of the first sheet's XML, read as a stream."""
    tail = b""
    with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
        while block := sheet.read(size):
            tail = (tail + block)[-2 * size :]
    return tail
