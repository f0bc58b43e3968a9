"""A report's footer (Salesforce ends a report export with a blank line, the totals, a
confidentiality line, a copyright) is found after the table, said in the upload answer
as `last_row`, chosen by the user on the upload or in the import's options, and left
out of the import: neither imported nor a row error."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from crmferry.errors import ValidationFailed
from crmferry.imports.options import parse_import_options
from crmferry.imports.reading.rows import find_last_row
from crmferry.imports.reading.xlsx_tail import tail_records
from tests.conftest import Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"
REPORT = "salesforce_report_footer.csv"
MAPPING = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Title": "title",
    "Account Name": "company",
    "Email": "email",
    "Phone": "phone",
    "Mailing City": "city",
}


def _upload(
    importer: Importer, org: Org, name: str, content: bytes | None = None, **fields: str
) -> dict[str, Any]:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": (name, content if content is not None else (FILES / name).read_bytes())},
        data={"data_type": "contacts", **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_upload_answer_says_where_the_table_ends(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, REPORT)
    assert (upload["header_row"], upload["last_row"]) == (4, 7)
    assert [row[0] for row in upload["preview"]] == ["Ada", "Bob", "Grace"]
    assert upload["row_estimate"] == 3
    assert upload["read_problems"] == []
    assert len(upload["read_notes"]) == 1 and "after row 7" in upload["read_notes"][0]


def test_the_job_imports_every_data_row_and_no_footer_row(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, REPORT)
    job = importer.run(org, importer.create(org, "contacts", upload["id"], MAPPING))
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"] == {
        "inserted": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }, job["error_message"]
    assert job["report_file"] is None
    names = importer.rows(org, "SELECT first_name, email FROM contacts ORDER BY first_name")
    assert names == [
        {"first_name": "Ada", "email": "ada@example.com"},
        {"first_name": "Bob", "email": None},
        {"first_name": "Grace", "email": "grace@example.com"},
    ]


def test_the_check_of_the_first_rows_sees_no_footer(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, REPORT)
    response = importer.client.post(
        f"/api/v1/uploads/{upload['id']}/check",
        headers=org.member.headers,
        json={"data_type": "contacts", "mapping": MAPPING},
    )
    assert response.status_code == 200, response.text
    assert response.json()["rows_checked"] == 3 and response.json()["errors"] == []


def test_the_user_chooses_the_last_row_on_the_upload(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, REPORT, last_row="6")
    assert upload["last_row"] == 6 and [r[0] for r in upload["preview"]] == ["Ada", "Bob"]
    job = importer.run(org, importer.create(org, "contacts", upload["id"], MAPPING))
    assert job["counts"]["inserted"] == 2 and job["counts"]["failed"] == 0


def test_the_import_options_choose_another_last_row(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, REPORT)
    job_id = importer.create(org, "contacts", upload["id"], MAPPING, last_row=5)
    job = importer.run(org, job_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["options"]["last_row"] == 5
    assert importer.rows(org, "SELECT first_name FROM contacts") == [{"first_name": "Ada"}]


def test_with_the_last_row_of_the_file_the_footer_is_read_as_rows(
    importer: Importer, org: Org
) -> None:
    """The user's word against detection: every row up to 14 is read, and the footer's
    one-cell rows become contacts named after their text (what the footer would do
    undetected)."""
    upload = _upload(importer, org, REPORT)
    job = importer.run(org, importer.create(org, "contacts", upload["id"], MAPPING, last_row=14))
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (8, 0), job["counts"]
    names = importer.rows(org, "SELECT first_name FROM contacts WHERE email IS NULL")
    assert {"first_name": "Grand Totals (3 records)"} in names


@pytest.mark.parametrize("value", ["zero", "0", "-3", "1.5"])
def test_a_last_row_that_is_no_row_number_is_a_422(
    importer: Importer, org: Org, value: str
) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("r.csv", b"A,B\n1,2\n")},
        data={"last_row": value},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "last_row"


def test_a_last_row_before_the_data_is_a_clear_error(importer: Importer, org: Org) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": (REPORT, (FILES / REPORT).read_bytes())},
        data={"last_row": "3"},
    )
    assert response.status_code in (415, 422)
    assert "Row 3 cannot be the last data row" in response.json()["detail"]


@pytest.mark.parametrize("value", [0, "x", True, 100_000_001])
def test_the_last_row_option_is_checked(value: object) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_import_options({"last_row": value})
    assert raised.value.errors[0]["field"] == "options.last_row"


@pytest.mark.parametrize(
    "name", ["report_title_lines.csv", "salesforce_report_contacts.csv", "utf8_comma.csv"]
)
def test_a_file_without_a_footer_is_read_as_before(importer: Importer, org: Org, name: str) -> None:
    upload = _upload(importer, org, name)
    assert upload["last_row"] is None and upload["read_notes"] == []


def test_a_one_cell_row_right_after_the_data_is_data(importer: Importer, org: Org) -> None:
    content = b"Name,Email\nAda,ada@example.com\nBob,\n\n"
    upload = _upload(importer, org, "people.csv", content)
    assert upload["last_row"] is None and len(upload["preview"]) == 2


def test_a_large_reports_footer_is_found_at_its_end(importer: Importer, org: Org) -> None:
    """Past the 64 KiB sample: the file's last bytes show a footer, so its last records
    are read to number it."""
    rows = [f'"P{i}","Person {i}","p{i}@example.com"' for i in range(1, 3001)]
    footer = ['""', '"Grand Totals (3000 records)"', '""', '"Confidential Information"']
    text = "\r\n".join(['"First Name","Last Name","Email"', *rows, *footer]) + "\r\n"
    assert len(text) > 64 * 1024
    upload = _upload(importer, org, "big_report.csv", text.encode())
    assert upload["last_row"] == 3001
    mapping = {"First Name": "first_name", "Last Name": "last_name", "Email": "email"}
    job = importer.run(org, importer.create(org, "contacts", upload["id"], mapping))
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (3000, 0), job["counts"]


def _records(*rows: list[str]) -> list[tuple[int, list[str]]]:
    return list(enumerate(rows, start=1))


def test_only_a_blank_row_then_one_cell_rows_make_a_footer() -> None:
    header, data = ["A", "B", "C"], ["1", "2", "3"]
    footer = _records(header, data, data, [""], ["Totals"], [""], ["Copyright"], [""])
    assert find_last_row(footer, 1, 3) == 3
    # a row of two cells after the blank one is data: no footer
    assert find_last_row(_records(header, data, [""], ["x", "y", ""], ["Totals"]), 1, 3) is None
    # no blank row before the one-cell rows: they are data
    assert find_last_row(_records(header, data, ["Totals"]), 1, 3) is None
    # a one-column table has no footer; nor has a file that ends in its data
    assert find_last_row(_records(["A"], ["1"], [""], ["x"]), 1, 1) is None
    assert find_last_row(_records(header, data, data), 1, 3) is None
    # more one-cell rows than a footer has are data
    many = _records(header, data, [""], *([["x"]] * 11))
    assert find_last_row(many, 1, 3) is None


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Contacts"
    for row in (["First Name", "E-mail"], ["Ada", "a@example.com"], ["Bob", "b@example.com"]):
        sheet.append(row)
    sheet.append(["Cid", "c@example.com"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["legacy_contacts.xls", "legacy_contacts.ods", "contacts.xlsx"])
def test_a_workbooks_last_row_is_chosen(importer: Importer, org: Org, name: str) -> None:
    """A workbook is read to its last row; a chosen `last_row` leaves out the rows after."""
    content = _xlsx() if name.endswith(".xlsx") else None
    whole = _upload(importer, org, name, content, sheet="Contacts")
    assert whole["last_row"] is None and len(whole["preview"]) == 3
    upload = _upload(importer, org, name, content, sheet="Contacts", last_row="3")
    assert upload["last_row"] == 3 and len(upload["preview"]) == 2
    assert upload["row_estimate"] == 2
    mapping = {"First Name": "first_name", "E-mail": "email"}
    job = importer.run(org, importer.create(org, "contacts", upload["id"], mapping))
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (2, 0), job["counts"]


# ---------------------------------------------------------------- workbooks

HEADER = ["First Name", "Last Name", "Email", "Mailing City"]
PEOPLE = [
    ["Ada", "Lovelace", "ada@example.com", "London"],
    ["Bob", "Stone", "", "Leeds"],
    ["Grace", "Hopper", "grace@example.com", "New York"],
]
# Salesforce's report footer, as a report saved as a workbook ends
FOOTER: list[list[str]] = [
    [],
    ["Grand Totals (3 records)"],
    [],
    ["Confidential Information - Do Not Distribute"],
    ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
]
SHEET_MAPPING = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Mailing City": "city",
}


def _report_xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Report")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _report_xls(rows: list[list[str]]) -> bytes:
    import xlwt  # type: ignore[import-untyped]  # test-only: writes Excel 97-2003

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Report")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _report_ods(rows: list[list[str]]) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet  # test-only: writes ODS
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Report")
    for row in rows:
        line = TableRow()
        for value in row or [""]:
            cell = TableCell(valuetype="string") if value else TableCell()
            if value:
                cell.addElement(P(text=value))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


WRITERS = {"xlsx": _report_xlsx, "xls": _report_xls, "ods": _report_ods}


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_a_workbooks_footer_is_found_and_left_out(importer: Importer, org: Org, fmt: str) -> None:
    content = WRITERS[fmt]([HEADER, *PEOPLE, *FOOTER])
    upload = _upload(importer, org, f"report.{fmt}", content)
    assert upload["format"] == fmt
    assert (upload["header_row"], upload["last_row"]) == (1, 4)
    assert [row[0] for row in upload["preview"]] == ["Ada", "Bob", "Grace"]
    assert upload["row_estimate"] == 3 and upload["read_problems"] == []
    assert len(upload["read_notes"]) == 1 and "after row 4" in upload["read_notes"][0]
    job = importer.run(org, importer.create(org, "contacts", upload["id"], SHEET_MAPPING))
    assert job["status"] == "completed", job["error_message"]
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (3, 0), job["counts"]
    names = importer.rows(org, "SELECT first_name FROM contacts ORDER BY first_name")
    assert names == [{"first_name": "Ada"}, {"first_name": "Bob"}, {"first_name": "Grace"}]


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_a_workbook_without_a_blank_row_before_its_last_rows_has_no_footer(
    importer: Importer, org: Org, fmt: str
) -> None:
    content = WRITERS[fmt]([HEADER, *PEOPLE, ["Dee"], ["Eve"]])
    upload = _upload(importer, org, f"people.{fmt}", content)
    assert upload["last_row"] is None and upload["read_notes"] == []
    assert len(upload["preview"]) == 5


def test_a_chosen_last_row_wins_over_a_workbooks_footer(importer: Importer, org: Org) -> None:
    content = _report_xlsx([HEADER, *PEOPLE, *FOOTER])
    upload = _upload(importer, org, "report.xlsx", content, last_row="2")
    assert upload["last_row"] == 2 and [row[0] for row in upload["preview"]] == ["Ada"]


def test_a_large_sheets_footer_is_found_past_the_rows_sniffing_reads(
    importer: Importer, org: Org
) -> None:
    """Past the first 10,000 rows a sniff reads: the sheet's end is found by inflating
    its XML once, without parsing it."""
    people = [[f"P{i}", f"Person {i}", f"p{i}@example.com", "Leeds"] for i in range(12_000)]
    content = _report_xlsx([HEADER, *people, *FOOTER])
    upload = _upload(importer, org, "big_report.xlsx", content)
    assert upload["last_row"] == 12_001 and upload["row_estimate"] == 12_000
    job = importer.run(org, importer.create(org, "contacts", upload["id"], SHEET_MAPPING))
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (12_000, 0), job["counts"]


def test_the_end_of_a_sheets_xml_tells_blank_and_one_cell_rows() -> None:
    xml = (
        b'<c r="Z9"><v>cut</v></c></row>'  # what is left of a row cut at the start
        b'<x:row r="10"><x:c r="A10" t="s"><x:v>4</x:v></x:c><x:c r="B10"><x:v>2</x:v></x:c>'
        b"</x:row>"
        b'<x:row r="11" spans="1:2"><x:c r="A11" s="3"/><x:c r="B11"><x:v></x:v></x:c></x:row>'
        b'<x:row r="13"><x:c r="A13" t="inlineStr"><x:is><x:t xml:space="preserve">'
        b"Totals</x:t></x:is></x:c></x:row>"
        b'<x:row r="14" s="2" customFormat="1"/>'
        b'<x:row r="15"><x:c r="A15"><x:f>B1</x:f></x:c><x:c r="B15" t="str"><x:f>A1</x:f>'
        b"<x:v>Copyright</x:v></x:c></x:row></x:sheetData>"
    )
    assert tail_records(xml) == [
        (10, ["x", "x"]),
        (11, ["", ""]),
        (13, ["x"]),
        (14, []),
        (15, ["", "x"]),
    ]
    assert find_last_row(tail_records(xml), 1, 2) == 10
    assert tail_records(b"<row><c><v>1</v></c></row>") == []  # no row number: no place
