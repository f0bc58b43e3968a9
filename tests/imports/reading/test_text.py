"""Sniffing and streaming uploaded files: golden files, edge cases, limits, and
hypothesis-generated CSVs that must never raise anything but a CrmFerryError."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmferry.errors import CrmFerryError, FileUnreadable, ValidationFailed
from crmferry.imports.reading import (
    DEFAULT_LIMITS,
    ReadLimits,
    clean_headers,
    iter_rows,
    sniff,
    text,
    xlsx,
)

FILES = Path(__file__).parent.parent / "files"

CONTACTS = [
    ["Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "London"],
    ["José Núñez", "jose@example.es", "+34 954 000 000", "Sevilla"],
    ["Zoë Müller", "zoe@example.de", "+49 30 000000", "Zürich"],
]


def rows(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[tuple[int, list[str]]]:
    return list(iter_rows(path, sniff(path, limits), limits))


def write(tmp_path: Path, data: bytes | str, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        ("utf8_comma.csv", "utf-8", ","),
        ("utf16le_bom_tab.txt", "utf-16-le", "\t"),
        ("utf16be_bom.csv", "utf-16-be", ","),
    ],
)
def test_contacts_in_each_unicode_encoding(name: str, encoding: str, delimiter: str) -> None:
    info = sniff(FILES / name)
    assert (info.format, info.encoding, info.delimiter) == ("csv", encoding, delimiter)
    assert info.headers == ("Name", "Email", "Phone", "City")
    got = rows(FILES / name)
    assert got[:3] == [(2, CONTACTS[0]), (3, CONTACTS[1]), (4, CONTACTS[2])]


def test_excel_unicode_text_keeps_cjk() -> None:
    assert rows(FILES / "utf16le_bom_tab.txt")[-1] == (
        5,
        ["李小龍", "lee@example.hk", "+852 0000", "香港"],
    )


def test_utf8_bom_semicolon_with_decimal_commas() -> None:
    info = sniff(FILES / "utf8_bom_semicolon.csv")
    assert (info.encoding, info.delimiter) == ("utf-8-sig", ";")
    assert info.headers == ("SKU", "Name", "Qty", "Unit Price")  # no BOM left on "SKU"
    assert info.preview == (
        ("A-100", "Schraube M4 × 20", "1200", "0,15"),
        ("B-200", "Mutter ÄÖÜ", "800", "0,05"),
    )
    assert info.row_estimate == 2


def test_cp1252_accents_and_euro() -> None:
    info = sniff(FILES / "cp1252_accents.csv")
    assert (info.encoding, info.delimiter) == ("cp1252", ",")
    assert rows(FILES / "cp1252_accents.csv") == [
        (2, ["José", "Müller", "Zürich", "Prix: 5 € – “très bien”"]),
        (3, ["Niño", "Peña", "Málaga", "Señor Façade"]),
        (4, ["Björn", "Ångström", "Göteborg", "Kaffee für 3 €"]),
    ]


def test_pipe_delimited() -> None:
    info = sniff(FILES / "pipe.txt")
    assert info.delimiter == "|"
    assert rows(FILES / "pipe.txt") == [(2, ["P-1", "Widget", "5"]), (3, ["P-2", "Gadget", "7"])]


def test_quoted_fields_and_record_numbers() -> None:
    """Embedded delimiters, doubled quotes and line breaks stay in their cell; a
    multi-line record is one row, so the next one is row 3, not physical line 4."""
    assert rows(FILES / "quoted.csv") == [
        (2, ["Smith, John", 'He said "hello"\r\nthen left', "10"]),
        (3, ["O'Brien; Pat", "a|b\tc", "20"]),
        (4, ["Line\nbreak", "", "30"]),
    ]


def test_outlook_and_google_exports_read_whole() -> None:
    outlook = sniff(FILES / "outlook_contacts.csv")
    assert outlook.headers[:6] == (
        "First Name",
        "Middle Name",
        "Last Name",
        "Title",
        "Company",
        "E-mail Address",
    )
    assert outlook.preview[1][0] == "Émilie"
    google = sniff(FILES / "google_contacts.csv")
    assert "E-mail 1 - Value" in google.headers
    assert rows(FILES / "google_contacts.csv")[0][1][5] == "alan@example.co.uk"


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


# ---------------------------------------------------------------- encodings and delimiters


def test_legacy_byte_far_beyond_the_sample_is_found(tmp_path: Path) -> None:
    """The first accent is past 64 KiB: the whole file is checked, not only the sample."""
    body = "First Name,Last Name\n" + "Joe,Smith\n" * 20_000 + "José,Müller\n"
    path = write(tmp_path, body.encode("cp1252"))
    info = sniff(path)
    assert info.encoding == "cp1252"
    got = list(iter_rows(path, info))
    assert len(got) == 20_001
    assert got[-1] == (20_002, ["José", "Müller"])
    assert abs(info.row_estimate - 20_001) < 500


def test_short_cp1252_file_is_not_guessed_as_a_stranger_code_page(tmp_path: Path) -> None:
    path = write(tmp_path, ("x;y\n" + "é;1\n" * 10).encode("cp1252"))
    assert sniff(path).encoding == "cp1252"


def test_cp1252_undefined_byte_falls_back_to_latin1(tmp_path: Path) -> None:
    path = write(tmp_path, "Name,City\nJosé,Zürich\n".encode("cp1252") + b"X\x81,Y\n")
    info = sniff(path)
    assert info.encoding in {"latin-1", "iso8859-1"}
    assert rows(path)[-1] == (3, ["X\x81", "Y"])


def test_bom_that_lies_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8 + b"a,b\n\xff\xfe,1\n")
    with pytest.raises(FileUnreadable, match="byte-order mark"):
        sniff(path)


@pytest.mark.parametrize(
    ("body", "delimiter"),
    [
        ("a;b;c\n1,5;2,5;3\n4,0;5;6\n", ";"),  # decimal commas do not fool it
        ("Name\tAddress\nJoe\t1 Main St, Springfield\nAl\t2 Side St, Shelbyville\n", "\t"),
        ("email\na@example.com\nb@example.com\n", ","),  # one column
        ("a|b\n1|2\n", "|"),
        ('"a;x",b\n"1;2",3\n', ","),
    ],
)
def test_delimiter_choice(tmp_path: Path, body: str, delimiter: str) -> None:
    assert sniff(write(tmp_path, body)).delimiter == delimiter


def test_row_estimate_for_a_large_file(tmp_path: Path) -> None:
    body = "sku,name,qty\n" + "".join(f"SKU-{i:05},Item {i:05},{i % 10}\n" for i in range(50_000))
    path = write(tmp_path, body)
    info = sniff(path)
    assert len(info.preview) == 20
    assert 45_000 < info.row_estimate < 55_000
    assert sum(1 for _ in iter_rows(path, info)) == 50_000


# ---------------------------------------------------------------- shaping rows


def test_headers_are_cleaned() -> None:
    assert clean_headers([" Email ", "", "email", "Email (2)", "Name", "", " "]) == [
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


def test_bad_bytes_later_in_the_stream_name_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3,4\n")
    info = sniff(path)
    path.write_bytes(b"a,b\n1,2\n3,\xff\n")
    with pytest.raises(FileUnreadable, match="not valid utf-8"):
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


def test_cells_beyond_the_csv_default_limit_are_read(tmp_path: Path) -> None:
    limits = ReadLimits(max_cell_chars=300_000)
    path = write(tmp_path, "a,b\n1," + "x" * 200_000 + "\n")
    assert len(rows(path, limits)[0][1][1]) == 200_000


def test_zip_bomb_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workbook must not be parsed")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(ValidationFailed, match=r"unpacks to .* over the limit of 1,000"):
        sniff(FILES / "inventory.xlsx", ReadLimits(max_xlsx_uncompressed_bytes=1_000))


def test_line_without_break_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "MAX_LINE_CHARS", 1_000)
    path = write(tmp_path, "a,b\n1,2\n" + "y" * 5_000)
    info = sniff(path)
    with pytest.raises(FileUnreadable, match="Row 3 is longer than 1,000 characters"):
        list(iter_rows(path, info))


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


# ---------------------------------------------------------------- hypothesis

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "cp1252"]
cell_text = st.text(
    st.characters(codec="cp1252", exclude_categories=("Cs",)),
    max_size=12,
)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding, errors="replace")


def _render(table: list[list[str]], delimiter: str, quoting: int, newline: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=newline).writerows(
        table
    )
    return buffer.getvalue()


@st.composite
def messy_files(draw: st.DrawFn) -> bytes:
    table = draw(st.lists(st.lists(cell_text, min_size=1, max_size=5), max_size=8))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    data = _encode(_render(table, delimiter, quoting, newline), draw(st.sampled_from(ENCODINGS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=16)) + data[at:]
    if draw(st.booleans()):
        data = draw(st.binary(max_size=200))
    return data


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=messy_files())
def test_any_bytes_read_or_fail_clearly(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data)
    try:
        info = sniff(path)
        for number, cells in iter_rows(path, info):
            assert number > info.header_row
            assert len(cells) >= len(info.headers)
    except CrmFerryError as exc:
        assert exc.detail


clean_cell = st.text(
    st.characters(
        codec="utf-8",
        categories=("L", "N", "Zs", "P", "S"),
        exclude_characters=",;\t|\x85\u2028\u2029",
    ),
    max_size=10,
)


@st.composite
def clean_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str]:
    width = draw(st.integers(2, 5))
    header = draw(
        st.lists(
            st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8),
            min_size=width,
            max_size=width,
            unique_by=str.casefold,
        )
    )
    cell = clean_cell | st.sampled_from(['a "quoted" word', "two\nlines", "x\r\ny"])
    body = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=10))
    return header, body, draw(st.sampled_from([",", ";", "\t", "|"]))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=clean_tables(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_clean_tables_round_trip(
    tmp_path: Path, table: tuple[list[str], list[list[str]], str], encoding: str, quoting: int
) -> None:
    header, body, delimiter = table
    text = _render([header, *body], delimiter, quoting, "\r\n")
    path = write(tmp_path, _encode(text, encoding))
    info = sniff(path)
    assert info.delimiter == delimiter
    assert list(info.headers) == [h.strip() for h in header]
    expected = [(n, r) for n, r in enumerate(body, start=2) if any(c.strip() for c in r)]
    assert list(iter_rows(path, info)) == expected
