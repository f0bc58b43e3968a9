"""Broken files are row errors, never silent loss: an unclosed quote, a row wider than
its header, a cell that is only a NUL byte. Each golden file is a HubSpot-laid-out
contacts export with one fault; the rest of the file imports as the error policy says."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.conftest import Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"

MAPPING: dict[str, str | None] = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Phone Number": "phone",
    "Company Name": "company",
    "City": "city",
}


def _run(importer: Importer, org: Org, name: str, **options: Any) -> dict[str, Any]:
    upload = importer.upload(org.member, (FILES / name).read_bytes(), name=name)
    return importer.run(org, importer.create(org, "contacts", upload["id"], MAPPING, **options))


def _emails(importer: Importer, org: Org) -> list[str]:
    rows = importer.rows(org, "SELECT email FROM contacts ORDER BY email")
    return [r["email"] for r in rows]


def _report(job: dict[str, Any]) -> list[dict[str, str]]:
    with Path(job["report_file"]).open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def test_an_unclosed_quote_is_its_rows_error_and_the_rows_after_it_import(
    importer: Importer, org: Org
) -> None:
    job = _run(importer, org, "hubspot_unclosed_quote.csv")
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["failed"] == 1 and job["counts"]["inserted"] == 4
    assert _emails(importer, org) == [
        "ada@example.com",
        "cid@example.com",
        "dee@example.com",
        "eve@example.com",
    ]
    (error,) = _report(job)
    assert error["row_number"] == "3" and error["column"] == "Company Name"
    assert "quote" in error["message"] and "never closed" in error["message"]
    assert "line 3 of the file" in error["message"]
    assert "Row 3" in job["error_message"]
    companies = importer.rows(org, "SELECT company FROM contacts WHERE email = 'dee@example.com'")
    assert companies == [{"company": "Park, Dee & Co"}]


def test_the_upload_names_the_broken_rows_it_previews(importer: Importer, org: Org) -> None:
    name = "hubspot_unclosed_quote.csv"
    upload = importer.upload(org.member, (FILES / name).read_bytes(), name=name)
    (problem,) = upload["read_problems"]
    assert problem["row_number"] == 3 and problem["column"] == "Company Name"
    assert "never closed" in problem["message"]
    name = "hubspot_extra_cells.csv"
    upload = importer.upload(org.member, (FILES / name).read_bytes(), name=name)
    assert [p["row_number"] for p in upload["read_problems"]] == [3]


def test_an_unclosed_quote_reaching_the_end_of_the_file_is_a_row_error(
    importer: Importer, org: Org
) -> None:
    job = _run(importer, org, "hubspot_unclosed_quote_at_end.csv")
    assert job["status"] == "completed", job["error_message"]
    assert _emails(importer, org) == ["ada@example.com", "cid@example.com"]
    (error,) = _report(job)
    assert error["row_number"] == "3" and "quote" in error["message"]


def test_an_unclosed_quote_aborts_the_import_under_the_abort_policy(
    importer: Importer, org: Org
) -> None:
    job = _run(importer, org, "hubspot_unclosed_quote.csv", on_error="abort")
    assert job["status"] == "failed"
    assert _emails(importer, org) == []


def test_a_row_wider_than_the_header_is_an_error_naming_the_extra_cells(
    importer: Importer, org: Org
) -> None:
    job = _run(importer, org, "hubspot_extra_cells.csv")
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["failed"] == 1
    assert _emails(importer, org) == ["ada@example.com", "cid@example.com"]
    (error,) = _report(job)
    assert error["row_number"] == "3"
    assert "8 cells" in error["message"] and "7 columns" in error["message"]
    assert "'Leeds'" in error["message"]


def test_a_cell_that_is_only_a_nul_byte_imports_as_empty(importer: Importer, org: Org) -> None:
    job = _run(importer, org, "hubspot_nul_cell.csv")
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["failed"] == 0 and job["counts"]["inserted"] == 3
    rows = importer.rows(org, "SELECT phone FROM contacts WHERE email = 'bob@example.com'")
    assert rows == [{"phone": None}]
