"""Bid line items: a data type of the description alone (BID_ITEMS and migration 0090),
imported by bid number + line number, linked to their bid and inventory item, with a
line total the database computes, exported and reverted like the others."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.imports.conftest import Importer
from tests.jobrun import run_job
from tests.web.test_pages import browser_for

CONTACTS = "Name,Email\nAda Lovelace,ada@example.com\n"
INVENTORY = "SKU,Name,Price\nA-1,Anvil,10\nB-2,Bolt,0.50\n"
BIDS = "Bid #,Title,Contact email,Amount\nQ-1,Forge,ada@example.com,100\nQ-2,Spares,,5\n"
LINES = """Quote #,Line,Item,Description,Qty,Price,Discount
Q-1,1,A-1,Anvil,2,10,10
Q-1,2,B-2,Bolts,,0.50,
Q-1,3,,Delivery,1,25,
Q-9,1,A-1,no such bid,1,1,
Q-2,1,ZZ-9,no such item,1,1,
Q-2,2,B-2,too much off,1,1,150
"""


def _setup(importer: Importer, org: Org) -> None:
    for data_type, content in (("contacts", CONTACTS), ("inventory", INVENTORY), ("bids", BIDS)):
        job = importer.import_csv(org, data_type, content)
        assert job["status"] == "completed", job["error_message"]


def test_lines_are_imported_by_bid_and_line_number_with_link_errors_as_row_errors(
    importer: Importer, org: Org
) -> None:
    _setup(importer, org)
    upload = importer.upload(org.member, LINES, "quote_lines.csv", data_type="bid_items")
    assert upload["suggested_mapping"] == {
        "Quote #": "bid_number",
        "Line": "line_number",
        "Item": "sku",
        "Description": "description",
        "Qty": "quantity",
        "Price": "unit_price",
        "Discount": "discount_percent",
    }
    job = importer.run(
        org, importer.create(org, "bid_items", upload["id"], upload["suggested_mapping"])
    )
    assert job["status"] == "completed", job["error_message"]
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (3, 3)
    report = job["report_file"].read_text(encoding="utf-8-sig")
    assert "5,Quote #,Q-9,matches no bid of this organization" in report
    assert "6,Item,ZZ-9,matches no inventory item of this organization" in report
    assert "7,Discount,150,must be from 0 to 100" in report
    rows = importer.rows(
        org,
        "SELECT l.line_number, l.quantity::text, l.line_total::text, b.title, i.name AS item"
        "  FROM bid_items AS l JOIN bids AS b ON b.id = l.bid_id"
        "  LEFT JOIN inventory AS i ON i.id = l.inventory_id ORDER BY l.line_number",
    )
    assert rows == [
        {
            "line_number": 1,
            "quantity": "2.00",
            "line_total": "18.00",
            "title": "Forge",
            "item": "Anvil",
        },
        {
            "line_number": 2,
            "quantity": "1.00",
            "line_total": "0.50",
            "title": "Forge",
            "item": "Bolt",
        },
        {
            "line_number": 3,
            "quantity": "1.00",
            "line_total": "25.00",
            "title": "Forge",
            "item": None,
        },
    ]


def test_a_second_file_updates_lines_by_their_composite_key_and_its_revert_restores_them(
    importer: Importer, org: Org
) -> None:
    _setup(importer, org)
    first = importer.import_csv(org, "bid_items", "Quote #,Line,Qty,Price\nQ-1,1,1,10\nQ-1,2,1,4\n")
    assert first["counts"]["inserted"] == 2
    again = importer.import_csv(org, "bid_items", "Quote #,Line,Qty\nQ-1,2,3\nQ-1,1,1\nQ-2,1,7\n")
    assert again["counts"] == {
        "inserted": 1,
        "updated": 1,
        "unchanged": 1,
        "skipped": 0,
        "failed": 0,
    }
    totals = "SELECT bid_number, line_number, line_total::text FROM bid_items ORDER BY 1, 2"
    assert [r["line_total"] for r in importer.rows(org, totals)] == ["10.00", "12.00", None]
    revert = importer.client.post(
        f"/api/v1/jobs/{again['id']}/revert", headers=org.member.headers, json={}
    )
    assert revert.status_code == 201, revert.text
    assert importer.run(org, revert.json()["id"])["status"] == "completed"
    assert importer.rows(org, totals) == [
        {"bid_number": "Q-1", "line_number": 1, "line_total": "10.00"},
        {"bid_number": "Q-1", "line_number": 2, "line_total": "4.00"},
    ]


def _export(
    client: TestClient, db: Database, settings: Settings, org: Org, options: dict[str, Any]
) -> list[dict[str, str]]:
    body = {"job_type": "export", "data_type": "bid_items", "options": options}
    response = client.post("/api/v1/jobs", headers=org.member.headers, json=body)
    assert response.status_code == 201, response.text
    done = run_job(db, settings, org.id, response.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    result = client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers)
    return list(csv.DictReader(io.StringIO(result.content.decode("utf-8-sig"))))


def test_lines_are_exported_with_their_bid_title_item_name_and_total(
    importer: Importer, app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _setup(importer, org)
    importer.import_csv(
        org, "bid_items", "Quote #,Line,SKU,Qty,Price\nQ-1,1,A-1,3,2.5\nQ-2,1,,1,1\n"
    )
    options = {
        "fields": ["bid_number", "line_number", "bid_title", "item_name", "line_total"],
        "filters": [{"field": "line_total", "op": "gte", "value": "5"}],
    }
    assert _export(app_client, db, settings, org, options) == [
        {
            "bid_number": "Q-1",
            "line_number": "1",
            "bid_title": "Forge",
            "item_name": "Anvil",
            "line_total": "7.50",
        }
    ]


def test_lines_are_described_and_listed_on_the_records_pages(
    importer: Importer, app_client: TestClient, settings: Settings, db: Database, org: Org
) -> None:
    types = app_client.get("/api/v1/data-types", headers=org.viewer.headers).json()
    described = next(t for t in types if t["name"] == "bid_items")
    assert described["key_fields"] == ["bid_number", "line_number"]
    assert [k["target"] for k in described["links"]] == ["bids", "inventory"]
    discount = next(f for f in described["fields"] if f["name"] == "discount_percent")
    assert (discount["minimum"], discount["maximum"]) == ("0", "100")
    _setup(importer, org)
    importer.import_csv(org, "bid_items", "Quote #,Line,Description\nQ-1,1,steel anvil\nQ-1,2,\n")
    page = browser_for(settings, db, org, org.viewer).get("/records/bid_items").text
    assert 'href="/records/bid_items"' in page and "2 bid items." in page
    listed = app_client.get("/api/v1/bid_items", headers=org.viewer.headers)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2


def test_reverting_bids_whose_lines_another_import_added_is_a_conflict_unless_forced(
    importer: Importer, org: Org
) -> None:
    bids = importer.import_csv(org, "bids", "Bid #,Title,Amount\nQ-1,Forge,100\n")
    lines = importer.import_csv(org, "bid_items", "Quote #,Line,Qty,Price\nQ-1,1,1,10\n")
    assert lines["counts"]["inserted"] == 1
    url = f"/api/v1/jobs/{bids['id']}/revert"
    refused = importer.client.post(url, headers=org.member.headers, json={})
    assert refused.status_code == 409
    assert "added 1 records that belong to records this import created" in refused.json()["detail"]
    forced = importer.client.post(url, headers=org.member.headers, json={"force": True})
    assert forced.status_code == 201
    assert importer.run(org, forced.json()["id"])["status"] == "completed"
    assert importer.rows(org, "SELECT count(*) AS n FROM bid_items") == [{"n": 0}]


def test_an_incremental_export_of_lines_lists_the_lines_deleted_since(
    importer: Importer, app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    importer.import_csv(org, "bids", "Bid #,Title,Amount\nQ-1,Forge,100\n")
    body = {
        "name": "Nightly lines",
        "job_type": "export",
        "data_type": "bid_items",
        "options": {"format": "jsonl", "changed_since": "last_run"},
        "cron": "0 3 * * *",
        "timezone": "UTC",
    }
    schedule = app_client.post("/api/v1/schedules", headers=org.member.headers, json=body).json()
    lines = importer.import_csv(org, "bid_items", "Quote #,Line,Qty\nQ-1,1,1\nQ-1,2,2\n")

    def run() -> dict[str, Any]:
        fired = app_client.post(
            f"/api/v1/schedules/{schedule['id']}/run", headers=org.member.headers
        )
        done = run_job(db, settings, org.id, fired.json()["id"])
        assert done["status"] == "completed", done["error_message"]
        return done

    assert run()["record_count"] == 2
    revert = app_client.post(f"/api/v1/jobs/{lines['id']}/revert", headers=org.member.headers)
    assert importer.run(org, revert.json()["id"])["status"] == "completed"
    assert run()["counts"]["deleted"] == 2
