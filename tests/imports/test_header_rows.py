"""The header row is found wherever it is (LinkedIn's `Notes:` preamble, a report's
title lines), said in the upload answer, and chosen by the user on the upload or in the
import's options; error report row numbers stay the file's own."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.conftest import Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"

LINKEDIN = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email Address": "email",
    "Company": "company",
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


def test_linkedin_connections_skip_their_notes_preamble(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "linkedin_connections.csv")
    assert upload["header_row"] == 4
    assert upload["headers"][:4] == ["First Name", "Last Name", "URL", "Email Address"]
    assert upload["preview"][0][:2] == ["Ada", "Lovelace"]
    job = importer.run(org, importer.create(org, "contacts", upload["id"], LINKEDIN))
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 3 and job["counts"]["failed"] == 0
    rows = importer.rows(org, "SELECT company FROM contacts WHERE email = 'alan@example.co.uk'")
    assert rows == [{"company": "University of Manchester, Computing Lab"}]


def test_a_reports_title_lines_are_not_the_header(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "report_title_lines.csv")
    assert upload["header_row"] == 4
    assert upload["headers"] == [
        "First Name",
        "Last Name",
        "Title",
        "Account Name",
        "Email",
        "Phone",
        "Mailing City",
    ]


def test_error_rows_keep_the_files_own_numbers(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "linkedin_connections.csv")
    mapping = {"First Name": "first_name", "URL": "email"}  # a URL is no e-mail address
    job = importer.run(org, importer.create(org, "contacts", upload["id"], mapping))
    assert job["status"] == "completed", job["error_message"]
    with Path(job["report_file"]).open(encoding="utf-8-sig", newline="") as file:
        numbers = [r["row_number"] for r in csv.DictReader(file)]
    assert numbers == ["5", "6", "7"]


def test_the_user_chooses_the_header_row_on_the_upload(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "report_title_lines.csv", header_row="1")
    assert upload["header_row"] == 1 and upload["headers"] == ["Contacts by Account"]


def test_the_import_options_choose_another_header_row(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "report_title_lines.csv", header_row="1")
    mapping = {"First Name": "first_name", "Last Name": "last_name", "Email": "email"}
    job = importer.run(org, importer.create(org, "contacts", upload["id"], mapping, header_row=4))
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 2
    assert job["options"]["header_row"] == 4


def test_a_blank_header_row_is_a_clear_422(importer: Importer, org: Org) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("r.csv", (FILES / "linkedin_connections.csv").read_bytes())},
        data={"header_row": "3"},
    )
    assert response.status_code in (415, 422)
    assert "Row 3" in response.json()["detail"]


def test_a_header_row_that_is_no_number_is_a_422(importer: Importer, org: Org) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("r.csv", b"A,B\n1,2\n")},
        data={"header_row": "zero"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header_row"
