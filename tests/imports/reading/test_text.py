"""Text tables: golden files in each encoding, encodings and delimiters told apart,
streaming limits, and hypothesis-generated CSVs that must never raise anything but a
CrmFerryError."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmferry.errors import CrmFerryError, FileUnreadable
from crmferry.imports.reading import ReadLimits, iter_rows, sniff
from crmferry.imports.reading import text as text_reader

from .conftest import FILES, rows, write

CONTACTS = [
    ["Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "London"],
    ["José Núñez", "jose@example.es", "+34 954 000 000", "Sevilla"],
    ["Zoë Müller", "zoe@example.de", "+49 30 000000", "Zürich"],
]


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


def test_bad_bytes_later_in_the_stream_name_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3,4\n")
    info = sniff(path)
    path.write_bytes(b"a,b\n1,2\n3,\xff\n")
    with pytest.raises(FileUnreadable, match="not valid utf-8"):
        list(iter_rows(path, info))


def test_cells_beyond_the_csv_default_limit_are_read(tmp_path: Path) -> None:
    limits = ReadLimits(max_cell_chars=300_000)
    path = write(tmp_path, "a,b\n1," + "x" * 200_000 + "\n")
    assert len(rows(path, limits)[0][1][1]) == 200_000


def test_line_without_break_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_reader, "MAX_LINE_CHARS", 1_000)
    path = write(tmp_path, "a,b\n1,2\n" + "y" * 5_000)
    info = sniff(path)
    with pytest.raises(FileUnreadable, match="Row 3 is longer than 1,000 characters"):
        list(iter_rows(path, info))


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
