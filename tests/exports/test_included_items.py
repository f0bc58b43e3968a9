"""Exports of bids with their lines (`include: ["items"]`) in each format, and a bid's
amount derived from its lines (`amount_from_items`); workbooks read back with openpyxl
and python-calamine."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.imports.conftest import Importer, importer

__all__ = ["importer"]
from tests.jobrun import run_job

BIDS = "Bid #,Title,Amount\nQ-1,Forge,1\nQ-2,Spares,5\nQ-3,Empty,7\n"
LINES = "Quote #,Line,Description,Qty,Price,Discount\nQ-1,2,Bolts,4,0.5,\nQ-1,1,Anvil,2,10,10\nQ-2,1,=cmd(),1,3,\n"


@pytest.fixture
def quoted(importer: Importer, org: Org) -> Org:
    for data_type, content in (("bids", BIDS), ("bid_items", LINES)):
        job = importer.import_csv(org, data_type, content)
        assert job["status"] == "completed" and job["counts"]["failed"] == 0, job["error_message"]
    return org


def _export(
    client: TestClient, db: Database, settings: Settings, org: Org, options: dict[str, Any]
) -> bytes:
    body = {"job_type": "export", "data_type": "bids", "options": options}
    response = client.post("/api/v1/jobs", headers=org.member.headers, json=body)
    assert response.status_code == 201, response.text
    done = run_job(db, settings, org.id, response.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    return client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers).content


FIELDS = ["bid_number", "title", "amount"]


def test_json_lines_nest_the_lines_as_an_array_in_line_order(
    quoted: Org, app_client: TestClient, db: Database, settings: Settings
) -> None:
    options = {"format": "jsonl", "fields": FIELDS, "include": ["items"]}
    lines = _export(app_client, db, settings, quoted, options).decode().splitlines()
    records = [json.loads(line, parse_float=Decimal) for line in lines]
    assert [r["bid_number"] for r in records] == ["Q-1", "Q-2", "Q-3"]
    first = records[0]["items"]
    assert [(i["line_number"], i["description"], i["line_total"]) for i in first] == [
        (1, "Anvil", Decimal("18.00")),
        (2, "Bolts", Decimal("2.00")),
    ]
    assert "bid_number" not in first[0]  # the bid's own columns say it
    assert records[2]["items"] == []


def test_csv_repeats_the_bid_on_each_line_and_derives_the_amount_from_them(
    quoted: Org, app_client: TestClient, db: Database, settings: Settings
) -> None:
    options = {"fields": FIELDS, "include": ["items"], "amount_from_items": True}
    text = _export(app_client, db, settings, quoted, options).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (r["bid_number"], r["amount"], r["items.line_number"], r["items.description"]) for r in rows
    ] == [
        ("Q-1", "20.00", "1", "Anvil"),
        ("Q-1", "20.00", "2", "Bolts"),
        ("Q-2", "3.00", "1", "'=cmd()"),  # neutralised like every text cell
        ("Q-3", "7.00", "", ""),  # no lines: its stored amount, one row
    ]


def test_xlsx_writes_the_lines_of_the_exported_bids_on_a_second_sheet(
    quoted: Org, app_client: TestClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    options = {
        "format": "xlsx",
        "fields": FIELDS,
        "include": ["items"],
        "filters": [{"field": "bid_number", "op": "in", "value": ["Q-1", "Q-3"]}],
    }
    path = tmp_path / "bids.xlsx"
    path.write_bytes(_export(app_client, db, settings, quoted, options))
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Bids", "Bid items"]
    lines = [list(r) for r in book["Bid items"].iter_rows(values_only=True)]
    assert lines[0][:3] == ["bid_number", "line_number", "sku"]
    assert [(r[0], r[1], r[7]) for r in lines[1:]] == [
        ("Q-1", 1, Decimal("18.00")),
        ("Q-1", 2, Decimal("2.00")),
    ]
    calamine = CalamineWorkbook.from_path(str(path))
    assert calamine.sheet_names == ["Bids", "Bid items"]
    read = calamine.get_sheet_by_name("Bid items").to_python()
    assert [(r[0], r[1], r[7]) for r in read[1:]] == [("Q-1", 1, 18.0), ("Q-1", 2, 2.0)]


def test_what_a_type_cannot_include_or_derive_is_a_422_naming_the_option(
    app_client: TestClient, org: Org
) -> None:
    body = {
        "job_type": "export",
        "data_type": "contacts",
        "options": {"include": ["items"], "amount_from_items": True},
    }
    response = app_client.post("/api/v1/jobs", headers=org.member.headers, json=body)
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"options.include[0]", "options.amount_from_items"}


def test_an_incremental_export_with_lines_carries_a_bid_whose_lines_alone_changed(
    quoted: Org, importer: Importer, app_client: TestClient, db: Database, settings: Settings
) -> None:
    body = {
        "name": "Nightly bids",
        "job_type": "export",
        "data_type": "bids",
        "options": {
            "format": "jsonl",
            "fields": FIELDS,
            "include": ["items"],
            "changed_since": "last_run",
        },
        "cron": "0 3 * * *",
        "timezone": "UTC",
    }
    created = app_client.post("/api/v1/schedules", headers=quoted.member.headers, json=body)
    assert created.status_code == 201, created.text

    def run() -> list[dict[str, Any]]:
        url = f"/api/v1/schedules/{created.json()['id']}/run"
        fired = app_client.post(url, headers=quoted.member.headers)
        done = run_job(db, settings, quoted.id, fired.json()["id"])
        assert done["status"] == "completed", done["error_message"]
        result = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=quoted.member.headers)
        return [json.loads(line) for line in result.text.splitlines() if line]

    assert [r["bid_number"] for r in run()] == ["Q-1", "Q-2", "Q-3"]
    assert run() == []
    importer.import_csv(quoted, "bid_items", "Quote #,Line,Qty\nQ-2,1,5\n")
    changed = run()
    assert [(r["bid_number"], r["items"][0]["quantity"]) for r in changed] == [("Q-2", 5)]
