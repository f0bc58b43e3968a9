"""Which row is the header: the first as wide as the table below it."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from crmferry.errors import FileUnreadable
from crmferry.imports.reading import ReadChoices, sniff
from tests.imports.reading.conftest import rows, write


def test_the_first_row_stays_the_header_of_a_plain_file(tmp_path: Path) -> None:
    info = sniff(write(tmp_path, "Name,Email\nAda,ada@example.com\nBob,\n"))
    assert info.header_row == 1 and info.headers == ("Name", "Email")


def test_a_trailing_delimiter_on_data_rows_keeps_the_first_row(tmp_path: Path) -> None:
    info = sniff(write(tmp_path, "Name,Email\nAda,ada@example.com,\nBob,bob@example.com,\n"))
    assert info.header_row == 1


def test_a_one_column_file_keeps_its_first_row(tmp_path: Path) -> None:
    info = sniff(write(tmp_path, "Email\nada@example.com\nbob@example.com\n"))
    assert info.header_row == 1 and info.headers == ("Email",)


def test_sparse_rows_below_a_title_still_find_the_header(tmp_path: Path) -> None:
    body = "Export of 3 contacts\n\nName,Email,Phone,City\nAda,,,\nBob,b@x.io,,\nCid,,,Rome\n"
    path = write(tmp_path, body)
    info = sniff(path)
    assert info.header_row == 3
    assert rows(path)[0] == (4, ["Ada", "", "", ""])


def test_a_workbook_title_row_is_not_the_header(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Pipeline report, Q4"])
    sheet.append([])
    sheet.append(["SKU", "Name", "Qty"])
    sheet.append(["A-1", "Bolt", 3])
    sheet.append(["A-2", "Nut", 5])
    book.save(tmp_path / "r.xlsx")
    info = sniff(tmp_path / "r.xlsx")
    assert info.header_row == 3 and info.headers == ("SKU", "Name", "Qty")
    assert rows(tmp_path / "r.xlsx") == [(4, ["A-1", "Bolt", "3"]), (5, ["A-2", "Nut", "5"])]


def test_a_chosen_header_row_is_read_as_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "Title\nName,Email\nAda,a@x.io\n")
    info = sniff(path, choices=ReadChoices(header_row=1))
    assert info.header_row == 1 and info.headers == ("Title",)
    with pytest.raises(FileUnreadable, match="Row 9"):
        sniff(path, choices=ReadChoices(header_row=9))
