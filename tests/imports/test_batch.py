"""Batch imports (`import_batch`): several files in one job and one transaction, run in
the order of their types' links, all or nothing, reverted file by file in reverse."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import Org
from tests.imports.conftest import Importer

CONTACTS = "First name,Last name,E-mail Address\nAda,Lovelace,ada@example.com\nAlan,Turing,alan@example.com\n"
PRODUCTS = "Item #,Product name,Price\nA-1,Anvil,10\nB-2,Bolt,0.5\n"
QUOTES = "Quote #,Title,Contact email,Total\nQ-1,Forge,ada@example.com,100\nQ-2,Spares,alan@example.com,5\n"
LINES = "Quote #,Line,Item,Qty,Price\nQ-1,1,A-1,2,10\nQ-1,2,B-2,4,0.5\nQ-2,1,B-2,10,0.5\n"
TABLES = ("contacts", "inventory", "bids", "bid_items")


def _uploads(importer: Importer, org: Org, files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: importer.upload(org.member, content, name) for name, content in files.items()}


def _batch(
    importer: Importer, org: Org, uploads: dict[str, dict[str, Any]], **options: Any
) -> dict[str, Any]:
    body = {
        "job_type": "import_batch",
        "items": [{"upload_id": u["id"]} for u in uploads.values()],
        "options": options,
    }
    response = importer.client.post("/api/v1/jobs", headers=org.member.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _job(importer: Importer, org: Org, job_id: str) -> dict[str, Any]:
    response = importer.client.get(f"/api/v1/jobs/{job_id}", headers=org.member.headers)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _counts(importer: Importer, org: Org) -> dict[str, int]:
    return {t: importer.rows(org, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}


ALL = {
    "quote_lines.csv": LINES,
    "quotes.csv": QUOTES,
    "products.csv": PRODUCTS,
    "contacts.csv": CONTACTS,
}


def test_a_batch_runs_its_files_in_link_order_so_bids_find_contacts_of_the_same_batch(
    importer: Importer, org: Org
) -> None:
    job = _batch(importer, org, _uploads(importer, org, ALL))
    assert (job["job_type"], job["data_type"], job["status"]) == (
        "import_batch",
        "batch",
        "pending",
    )
    assert [(i["file_name"], i["data_type"]) for i in job["items"]] == [
        ("products.csv", "inventory"),
        ("contacts.csv", "contacts"),
        ("quotes.csv", "bids"),
        ("quote_lines.csv", "bid_items"),
    ]
    done = importer.run(org, job["id"])
    assert done["status"] == "completed", done["error_message"]
    shown = _job(importer, org, job["id"])
    assert [i["counts"]["inserted"] for i in shown["items"]] == [2, 2, 2, 3]
    assert shown["counts"]["inserted"] == 9 and shown["progress"]["done"] == 9
    linked = importer.rows(
        org,
        "SELECT b.bid_number, c.name, sum(l.line_total)::text AS total"
        "  FROM bids b JOIN contacts c ON c.id = b.contact_id JOIN bid_items l ON l.bid_id = b.id"
        " GROUP BY 1, 2 ORDER BY 1",
    )
    assert linked == [
        {"bid_number": "Q-1", "name": "Ada Lovelace", "total": "22.00"},
        {"bid_number": "Q-2", "name": "Alan Turing", "total": "5.00"},
    ]


def test_a_batch_failing_in_its_last_file_leaves_nothing_behind_and_reports_that_file(
    importer: Importer, org: Org
) -> None:
    bad_lines = LINES + "Q-7,1,A-1,1,1\n"
    files = {**ALL, "quote_lines.csv": bad_lines}
    job = _batch(importer, org, _uploads(importer, org, files))
    done = importer.run(org, job["id"])
    assert done["status"] == "failed"
    assert done["error_message"].startswith("Nothing was imported: 1 bad row in quote_lines.csv")
    assert _counts(importer, org) == dict.fromkeys(TABLES, 0)
    shown = _job(importer, org, job["id"])
    last = shown["items"][-1]
    assert (last["data_type"], last["counts"]["failed"], last["counts"]["inserted"]) == (
        "bid_items",
        1,
        0,
    )
    assert [i["error_report_url"] for i in shown["items"][:-1]] == [None, None, None]
    report = importer.client.get(last["error_report_url"], headers=org.member.headers)
    assert report.status_code == 200
    assert "5,Quote #,Q-7,matches no bid of this organization" in report.text


def test_with_on_error_skip_the_good_rows_of_every_file_commit(
    importer: Importer, org: Org
) -> None:
    files = {**ALL, "quote_lines.csv": LINES + "Q-7,1,A-1,1,1\n"}
    job = _batch(importer, org, _uploads(importer, org, files), on_error="skip")
    done = importer.run(org, job["id"])
    assert done["status"] == "completed"
    assert _counts(importer, org) == {"contacts": 2, "inventory": 2, "bids": 2, "bid_items": 3}
    assert "1 bad row in quote_lines.csv (1); they were skipped" in done["error_message"]


def test_a_batch_is_reverted_file_by_file_in_reverse_order(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "contacts", "Name,Email\nAda Old,ada@example.com\n")
    job = _batch(importer, org, _uploads(importer, org, ALL))
    assert importer.run(org, job["id"])["status"] == "completed"
    revert = importer.client.post(
        f"/api/v1/jobs/{job['id']}/revert", headers=org.member.headers, json={}
    )
    assert revert.status_code == 201, revert.text
    reverted = importer.run(org, revert.json()["id"])
    assert reverted["status"] == "completed", reverted["error_message"]
    assert (reverted["counts"]["deleted"], reverted["counts"]["updated"]) == (8, 1)
    assert _counts(importer, org) == {"contacts": 1, "inventory": 0, "bids": 0, "bid_items": 0}
    assert importer.rows(org, "SELECT name FROM contacts") == [{"name": "Ada Old"}]


def test_a_cancelled_batch_keeps_nothing(importer: Importer, org: Org) -> None:
    job = _batch(importer, org, _uploads(importer, org, ALL))
    done = importer.run(org, job["id"], cancel=True)
    assert done["status"] == "cancelled"
    assert _counts(importer, org) == dict.fromkeys(TABLES, 0)


def test_a_dry_run_counts_what_the_batch_would_do_links_included_and_keeps_nothing(
    importer: Importer, org: Org
) -> None:
    job = _batch(importer, org, _uploads(importer, org, ALL), dry_run=True)
    done = importer.run(org, job["id"])
    assert done["status"] == "completed", done["error_message"]
    shown = _job(importer, org, job["id"])
    assert [i["counts"]["inserted"] for i in shown["items"]] == [2, 2, 2, 3]
    assert [i["counts"]["failed"] for i in shown["items"]] == [0, 0, 0, 0]
    assert _counts(importer, org) == dict.fromkeys(TABLES, 0)
    revert = importer.client.post(
        f"/api/v1/jobs/{job['id']}/revert", headers=org.member.headers, json={}
    )
    assert revert.status_code == 409


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"mapping": {"Quote #": "bid_number"}}, "items[0].mapping"),
        ({"data_type": "widgets"}, "items[0].data_type"),
        ({"options": {"dry_run": True}}, "items[0].options.dry_run"),
    ],
)
def test_a_bad_file_of_a_batch_is_a_422_naming_its_item(
    importer: Importer, org: Org, item: dict[str, Any], field: str
) -> None:
    upload = importer.upload(org.member, QUOTES, "quotes.csv")
    body = {"job_type": "import_batch", "items": [{"upload_id": upload["id"], **item}]}
    response = importer.client.post("/api/v1/jobs", headers=org.member.headers, json=body)
    assert response.status_code == 422, response.text
    assert any(e["field"].startswith(field) for e in response.json()["errors"]), response.json()


def test_an_upload_of_another_organization_is_not_found(
    importer: Importer,
    org: Org,
    make_org,  # type: ignore[no-untyped-def]
) -> None:
    other = make_org("Other")
    upload = importer.upload(other.member, QUOTES, "quotes.csv")
    body = {"job_type": "import_batch", "items": [{"upload_id": upload["id"]}]}
    response = importer.client.post("/api/v1/jobs", headers=org.member.headers, json=body)
    assert response.status_code == 404


def test_a_workbook_takes_part_in_a_batch_like_a_csv(
    importer: Importer, org: Org, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in csv.reader(io.StringIO(PRODUCTS)):
        sheet.append(row)
    path = tmp_path / "products.xlsx"
    book.save(path)
    files = {"contacts.csv": CONTACTS, "quotes.csv": QUOTES, "quote_lines.csv": LINES}
    uploads = _uploads(importer, org, files)
    uploads["products.xlsx"] = importer.upload(org.member, path.read_bytes(), "products.xlsx")
    job = _batch(importer, org, uploads)
    assert [i["data_type"] for i in job["items"]] == ["contacts", "inventory", "bids", "bid_items"]
    done = importer.run(org, job["id"])
    assert done["status"] == "completed", done["error_message"]
    assert _counts(importer, org) == {"contacts": 2, "inventory": 2, "bids": 2, "bid_items": 3}
