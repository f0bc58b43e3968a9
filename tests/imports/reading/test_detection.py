"""Formats told from the content, never the name; what cannot be read says what it is."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from crmferry.errors import FileUnreadable
from crmferry.imports.reading import sniff

from .conftest import FILES, write


def test_png_is_unreadable() -> None:
    with pytest.raises(FileUnreadable, match="PNG image"):
        sniff(FILES / "not_text.png")


def test_zip_that_is_not_a_workbook() -> None:
    with pytest.raises(FileUnreadable, match="ZIP archive, not an Excel workbook"):
        sniff(FILES / "not_xlsx.zip")


# ---------------------------------------------------------------- format from content


def test_format_comes_from_content_not_name(tmp_path: Path) -> None:
    csv_named_xlsx = write(tmp_path, "a,b\n1,2\n", "data.xlsx")
    assert sniff(csv_named_xlsx).format == "csv"
    xlsx_named_csv = tmp_path / "data.csv"
    xlsx_named_csv.write_bytes((FILES / "inventory.xlsx").read_bytes())
    assert sniff(xlsx_named_csv).format == "xlsx"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7\n...", "PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "97-2003"),
        (b"\x1f\x8b\x08\x00" + bytes(50), "gzip"),
        (bytes(2000), "control characters"),
        (b"name,email\n" + b"\x00\x01\x02\x03" * 200, "control characters"),
        (b"Name\x00,\x00E\x00\n\x00", "control characters"),  # UTF-16 without a BOM
        (b"\n\n  \n", "no header row"),
        (b"PK\x03\x04garbage", "damaged"),
    ],
)
def test_unusable_content_says_why(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(FileUnreadable, match=message):
        sniff(write(tmp_path, data))


def test_other_office_zips_are_named(tmp_path: Path) -> None:
    path = tmp_path / "letter.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(FileUnreadable, match="Word document"):
        sniff(path)
