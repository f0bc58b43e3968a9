"""Excel 97-2003 (.xls) and OpenDocument (.ods) workbooks import like XLSX: the first
visible sheet by default (a hidden lookup sheet comes first in these golden files), the
sheets listed, another chosen on the upload or in the options; identifiers with leading
zeros, dates and decimals as the workbook holds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"
WORKBOOKS = ["legacy_contacts.xls", "legacy_contacts.ods"]
MAPPING = {
    "Contact ID": "notes",
    "First Name": "first_name",
    "Last Name": "last_name",
    "E-mail": "email",
    "Zip": "postal_code",
}


def _upload(importer: Importer, org: Org, name: str, **fields: str) -> dict[str, Any]:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": (name, (FILES / name).read_bytes())},
        data={"data_type": "contacts", **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", WORKBOOKS)
def test_a_legacy_workbook_lists_its_sheets_and_reads_the_first_visible(
    importer: Importer, org: Org, name: str
) -> None:
    upload = _upload(importer, org, name)
    assert upload["format"] == name.rsplit(".", 1)[1]
    assert upload["sheets"] == [
        {"name": "Lookups", "hidden": True},
        {"name": "Contacts", "hidden": False},
        {"name": "Notes", "hidden": False},
    ]
    assert upload["sheet"] == "Contacts" and upload["header_row"] == 1
    assert upload["preview"][0] == [
        "00042",
        "Ada",
        "Lovelace",
        "ada@example.com",
        "02134",
        "2026-03-01",
        "1234.5",
    ]
    assert upload["preview"][1][-1] == "0.1" and upload["preview"][2][-1] == "99"


@pytest.mark.parametrize("name", WORKBOOKS)
def test_a_legacy_workbook_imports_keeping_leading_zeros(
    importer: Importer, org: Org, name: str
) -> None:
    upload = _upload(importer, org, name)
    job = importer.run(org, importer.create(org, "contacts", upload["id"], MAPPING))
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 3 and job["counts"]["failed"] == 0
    rows = importer.rows(
        org, "SELECT notes, postal_code FROM contacts WHERE email = 'bob@example.com'"
    )
    assert rows == [{"notes": "00043", "postal_code": "00501"}]


def test_the_sheet_is_chosen_on_the_upload(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "legacy_contacts.ods", sheet="Lookups")
    assert upload["sheet"] == "Lookups" and upload["headers"] == ["Status"]


def test_an_unknown_sheet_is_refused_naming_the_sheets(importer: Importer, org: Org) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("c.xls", (FILES / "legacy_contacts.xls").read_bytes())},
        data={"sheet": "Deals"},
    )
    assert response.status_code in (415, 422)
    assert "'Deals'" in response.json()["detail"] and "'Notes'" in response.json()["detail"]


def test_the_import_options_choose_another_sheet(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "legacy_contacts.xls", sheet="Notes")
    assert upload["headers"] == ["Note", "Author"]
    job_id = importer.create(org, "contacts", upload["id"], MAPPING, sheet="Contacts")
    job = importer.run(org, job_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 3
