"""What every format shares: header cleaning, blank, short and long rows, a replaced
file, and the row and cell limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading import ReadLimits, clean_headers, iter_rows, sniff

from .conftest import rows, write

# ---------------------------------------------------------------- shaping rows


def test_headers_are_cleaned() -> None:
    assert clean_headers([" Email ", "", "email", "Email (2)", "Na\x00me", "", " "]) == [
        "Email",
        "Column 2",
        "email (2)",
        "Email (2) (2)",
        "Name",
    ]


def test_blank_rows_skipped_short_rows_padded_long_rows_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "\n\na,b,c\n1\n\n , ,\n1,2,3,4,,\n1,2,3,,\n")
    info = sniff(path)
    assert info.header_row == 3
    assert info.headers == ("a", "b", "c")
    assert list(iter_rows(path, info)) == [
        (4, ["1", "", ""]),
        (7, ["1", "2", "3", "4"]),
        (8, ["1", "2", "3"]),
    ]


def test_trailing_delimiters_do_not_make_columns(tmp_path: Path) -> None:
    info = sniff(write(tmp_path, "a,b,\n1,2,\n"))
    assert info.headers == ("a", "b")
    assert info.preview == (("1", "2"),)


def test_header_only_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n")
    info = sniff(path)
    assert (info.headers, info.preview, info.row_estimate) == (("a", "b"), (), 0)
    assert list(iter_rows(path, info)) == []


def test_replaced_file_is_detected(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n")
    info = sniff(path)
    path.write_text("x,y\n1,2\n")
    with pytest.raises(FileUnreadable, match="header row"):
        list(iter_rows(path, info))


# ---------------------------------------------------------------- limits


def test_too_many_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "a\n" + "x\n" * 11)
    info = sniff(path)
    limits = ReadLimits(max_rows=10)
    with pytest.raises(ValidationFailed, match="more than 10 data rows"):
        list(iter_rows(path, info, limits))
    with pytest.raises(ValidationFailed, match="more than 10 data rows"):
        sniff(path, limits)  # a small file is counted whole when sniffed
    ok = write(tmp_path, "a\n" + "x\n" * 10, "ok.csv")
    assert len(rows(ok, limits)) == 10


def test_over_long_cell_names_row_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3," + "x" * 101 + "\n")
    info = sniff(path)
    limits = ReadLimits(max_cell_chars=100)
    with pytest.raises(ValidationFailed, match="row 3, column 'b': 101 characters") as caught:
        list(iter_rows(path, info, limits))
    assert caught.value.errors[0]["field"] == "file"
    with pytest.raises(ValidationFailed, match="row 3"):
        sniff(path, limits)  # in the preview: refused at upload already
