"""Legacy workbooks read by calamine number rows and place columns as the spreadsheet does."""

from __future__ import annotations

from pathlib import Path

import xlwt  # type: ignore[import-untyped]

from crmferry.imports.reading import sniff
from tests.imports.reading.conftest import rows


def test_leading_blank_rows_and_columns_keep_their_places(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Contacts")
    sheet.write(2, 1, "Email")
    sheet.write(2, 2, "Zip")
    sheet.write(3, 1, "a@example.com")
    sheet.write(3, 2, "02134")
    book.save(str(tmp_path / "book.xls"))
    info = sniff(tmp_path / "book.xls")
    assert (info.header_row, info.headers) == (3, ("Column 1", "Email", "Zip"))
    assert rows(tmp_path / "book.xls") == [(4, ["", "a@example.com", "02134"])]
