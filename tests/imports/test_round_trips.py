"""An export imported back changes nothing: every row unchanged, for every data type and
importable format (CSV, XLSX and JSON Lines), also the contact without an e-mail
(matched by the export's `id`, which a default export writes first and an export naming
its fields may ask for).
"""

from __future__ import annotations

import io
import json
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from crmferry.records import DATA_TYPES
from tests.conftest import Org
from tests.imports.conftest import Importer

CONTACTS = """Name,First name,Last name,Email,Phone,Company,Status,Notes,City
Ada Lovelace,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical,lead,"Wrote the first program, 1843",London
Zoë Müller,Zoë,Müller,zoe@example.de,,Müller & Söhne,customer,,Zürich
No Mail,No,Mail,,555 0100,,inactive,"a contact without an e-mail",
"""
INVENTORY = """SKU,Name,Qty,Unit price,Cost,Category
B-100,Bolt,3,19.99,0.5,Hardware
N-007,Nut,0,0.10,,
W-1,"Washer, flat",12000,1234567.89,1,Hardware
"""
BIDS = """Bid number,Title,Contact email,Amount,Currency,Status,Valid until
Q-1,Roof,ada@example.com,1200.50,EUR,sent,2026-03-31
Q-2,Walls,,99.00,USD,draft,
"""
BID_ITEMS = """Bid number,Line,SKU,Description,Qty,Unit price,Discount
Q-1,1,B-100,Bolts for the roof,10,19.99,5
Q-1,2,,Labour,1,800,
Q-2,1,W-1,,2,0.10,
"""
TYPES = ("contacts", "inventory", "bids", "bid_items")


@pytest.fixture
def filled(importer: Importer, org: Org) -> Org:
    files = (("contacts", CONTACTS), ("inventory", INVENTORY), ("bids", BIDS))
    for data_type, csv in (*files, ("bid_items", BID_ITEMS)):
        job = importer.import_csv(org, data_type, csv)
        assert job["counts"]["failed"] == 0, job["error_message"]
    return org


def export(
    importer: Importer,
    client: TestClient,
    org: Org,
    data_type: str,
    fmt: str,
    fields: list[str] | None = None,
) -> bytes:
    options: dict[str, Any] = {"format": fmt}
    if fields is not None:
        options["fields"] = fields
    body = {"options": options}
    job = importer.run(org, importer.create_from_body(org, "export", data_type, body))
    assert job["status"] == "completed", job["error_message"]
    response = client.get(f"/api/v1/jobs/{job['id']}/result", headers=org.member.headers)
    assert response.status_code == 200
    return response.content


def reimport(importer: Importer, org: Org, data_type: str, name: str, content: bytes) -> Any:
    upload = importer.upload(org.member, content, name=name, data_type=data_type)
    assert upload["suggested_mapping"]["id"] == "id"
    mapping, options = upload["suggested_mapping"], upload["suggested_options"]
    return importer.run(org, importer.create(org, data_type, upload["id"], mapping, **options))


def first_column(content: bytes, fmt: str) -> str:
    if fmt == "csv":
        return content.decode("utf-8-sig").split(",", 1)[0]
    if fmt == "jsonl":
        return next(iter(json.loads(content.splitlines()[0])))
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return str(next(sheet.iter_rows(max_row=1, values_only=True))[0])


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
@pytest.mark.parametrize("data_type", TYPES)
@pytest.mark.parametrize("fields", ["default", "named"])
def test_an_export_imported_back_is_unchanged(
    importer: Importer, app_client: TestClient, filled: Org, data_type: str, fmt: str, fields: str
) -> None:
    """By default (no `fields`) and with `id` and every field named, in CSV, XLSX and JSON
    Lines."""
    before = importer.rows(filled, f"SELECT * FROM {data_type} ORDER BY id")
    assert len(before) >= 2
    named = ["id", *DATA_TYPES[data_type].field_names] if fields == "named" else None
    content = export(importer, app_client, filled, data_type, fmt, named)
    assert first_column(content, fmt) == "id"
    job = reimport(importer, filled, data_type, f"{data_type}.{fmt}", content)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"] == {
        "inserted": 0,
        "updated": 0,
        "unchanged": len(before),
        "skipped": 0,
        "failed": 0,
    }, job["error_message"]
    after = importer.rows(filled, f"SELECT * FROM {data_type} ORDER BY id")
    assert after == before


def test_rows_match_by_id_first_then_by_key(importer: Importer, filled: Org) -> None:
    rows = importer.rows(filled, "SELECT id, email FROM contacts ORDER BY name")
    ids = {r["email"]: str(r["id"]) for r in rows}
    no_mail = ids[None]
    csv = (
        "id,Name,Email\n"
        f"{no_mail},No Mail Renamed,\n"  # by id: the contact without an e-mail
        f"{ids['ada@example.com']},Ada Lovelace,ada@new.example\n"  # by id: a new e-mail
        ",Zoë Müller,zoe@example.de\n"  # no id: by its key
        "00000000-0000-4000-8000-000000000000,Grace,grace@example.com\n"  # an unknown id
    )
    job = importer.import_csv(filled, "contacts", csv)
    assert job["counts"] == {**job["counts"], "inserted": 1, "updated": 2, "unchanged": 1}
    names = importer.rows(filled, "SELECT name, email FROM contacts ORDER BY name")
    assert {"name": "No Mail Renamed", "email": None} in names
    assert {"name": "Ada Lovelace", "email": "ada@new.example"} in names
    assert len(names) == 4


def test_an_id_of_another_organization_matches_nothing(
    importer: Importer, filled: Org, make_org: Any
) -> None:
    other = make_org("Other")
    theirs = importer.import_csv(other, "contacts", "Name\nSecret\n")
    assert theirs["counts"]["inserted"] == 1
    their_id = importer.rows(other, "SELECT id FROM contacts")[0]["id"]
    job = importer.import_csv(filled, "contacts", f"id,Name\n{their_id},Mine\n")
    assert job["counts"]["inserted"] == 1 and job["counts"]["updated"] == 0
    assert importer.rows(other, "SELECT name FROM contacts") == [{"name": "Secret"}]


def test_bad_and_conflicting_ids_are_row_errors(importer: Importer, filled: Org) -> None:
    rows = importer.rows(filled, "SELECT id, email FROM contacts WHERE email IS NOT NULL")
    ada, zoe = sorted(rows, key=lambda r: r["email"])
    csv = (
        "id,Name,Email\n"
        "not-an-id,X,x@example.com\n"
        f"{ada['id']},Ada,{zoe['email']}\n"  # Ada's id with Zoë's e-mail
        f"{ada['id']},Ada,ada@example.com\n"
    )
    mapping = {"id": "id", "Name": "name", "Email": "email"}
    job = importer.import_csv(filled, "contacts", csv, mapping)
    assert (job["counts"]["failed"], job["counts"]["updated"]) == (2, 1), job["counts"]
    report = job["report_file"].read_text()
    assert "is not a record id" in report
    assert "another record has this row's email" in report
