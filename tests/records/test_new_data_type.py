"""A data type added by its description and its table alone (see conftest.py) is
imported, reverted, exported, listed and searched through the normal API and engine."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.records import DataType
from tests.conftest import Member, Org
from tests.imports.conftest import Importer
from tests.jobrun import run_job
from tests.web.test_pages import browser_for

LINES = """Kit,Position,SKU,Qty,Price,Note
K-1,1,A-1,2,3.50,first line
K-1,2,B-2,,10,
K-1,2,A-1,5,1,the same key again
K-2,1,ZZ-9,1,1,no such item
K-2,x,A-1,1,1,
"""


def _job(client: TestClient, member: Member, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", headers=member.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _import(importer: Importer, org: Org, content: str) -> dict[str, Any]:
    upload = importer.upload(org.member, content, "lines.csv", data_type="kit_lines")
    body = {
        "job_type": "import",
        "data_type": "kit_lines",
        "upload_id": upload["id"],
        "mapping": upload["suggested_mapping"],
    }
    job = _job(importer.client, org.member, body)
    return importer.run(org, job["id"])


def _export(
    client: TestClient, db: Database, settings: Settings, org: Org, options: dict[str, Any]
) -> list[dict[str, str]]:
    body = {"job_type": "export", "data_type": "kit_lines", "options": options}
    job = _job(client, org.member, body)
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "completed", done["error_message"]
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=org.member.headers)
    assert result.status_code == 200
    return list(csv.DictReader(io.StringIO(result.content.decode("utf-8-sig"))))


def test_the_browser_and_clients_see_its_description(
    kit_lines: DataType, app_client: TestClient, org: Org
) -> None:
    types = app_client.get("/api/v1/data-types", headers=org.viewer.headers).json()
    described = next(t for t in types if t["name"] == "kit_lines")
    assert described["key_fields"] == ["kit", "position"]
    assert described["links"] == [
        {
            "name": "item",
            "fields": ["sku"],
            "target": "inventory",
            "key": ["sku"],
            "id_column": "inventory_id",
        }
    ]
    computed = [f["name"] for f in described["fields"] if f["computed"]]
    assert computed == ["line_total"]


def test_it_is_imported_by_its_composite_key_linked_and_reverted(
    kit_lines: DataType, importer: Importer, org: Org
) -> None:
    importer.import_csv(org, "inventory", "SKU,Name\nA-1,Anvil\nB-2,Bolt\n")
    job = _import(importer, org, LINES)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"] == {
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 3,
    }
    report = job["report_file"].read_text(encoding="utf-8-sig")
    assert "4,Kit,K-1,repeats row 3 of this file" in report
    assert "5,SKU,ZZ-9,matches no inventory item of this organization" in report
    assert "6,Position,x,is not a whole number" in report
    rows = importer.rows(
        org,
        "SELECT l.kit, l.position, l.quantity, l.line_total::text, i.name AS item"
        "  FROM kit_lines AS l JOIN inventory AS i ON i.id = l.inventory_id ORDER BY position",
    )
    assert rows == [
        {"kit": "K-1", "position": 1, "quantity": 2, "line_total": "7.00", "item": "Anvil"},
        {"kit": "K-1", "position": 2, "quantity": 1, "line_total": "10.00", "item": "Bolt"},
    ]
    again = _import(importer, org, "Kit,Position,Qty\nK-1,2,4\nK-1,1,2\n")
    assert (again["counts"]["updated"], again["counts"]["unchanged"]) == (1, 1)
    assert importer.rows(org, "SELECT line_total::text FROM kit_lines WHERE position = 2") == [
        {"line_total": "40.00"}
    ]
    revert = importer.client.post(
        f"/api/v1/jobs/{again['id']}/revert", headers=org.member.headers, json={}
    )
    assert revert.status_code == 201, revert.text
    assert importer.run(org, revert.json()["id"])["status"] == "completed"
    assert importer.rows(org, "SELECT quantity FROM kit_lines WHERE position = 2") == [
        {"quantity": 1}
    ]


def test_it_is_exported_with_its_link_and_computed_field_and_only_its_organization(
    kit_lines: DataType,
    importer: Importer,
    app_client: TestClient,
    db: Database,
    settings: Settings,
    make_org,  # type: ignore[no-untyped-def]
) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    for org in (mine, theirs):
        importer.import_csv(org, "inventory", "SKU,Name\nA-1,Anvil\n")
    assert _import(importer, mine, "Kit,Position,SKU,Qty,Price\nK-1,1,A-1,3,2.5\n")["status"] == (
        "completed"
    )
    options = {
        "fields": ["kit", "position", "item_name", "line_total"],
        "filters": [{"field": "line_total", "op": "gte", "value": "7"}],
    }
    assert _export(app_client, db, settings, mine, options) == [
        {"kit": "K-1", "position": "1", "item_name": "Anvil", "line_total": "7.50"}
    ]
    assert _export(app_client, db, settings, theirs, options) == []


def test_its_records_page_lists_and_searches_it(
    kit_lines: DataType, importer: Importer, settings: Settings, db: Database, org: Org
) -> None:
    importer.import_csv(org, "inventory", "SKU,Name\nA-1,Anvil\nB-2,Bolt\n")
    _import(importer, org, "Kit,Position,SKU,Note\nK-1,1,A-1,steel anvil\nK-1,2,B-2,\n")
    client = browser_for(settings, db, org, org.viewer)
    page = client.get("/records/kit_lines").text
    assert 'href="/records/kit_lines"' in page and "2 kit lines." in page
    found = client.get("/records/kit_lines", params={"q": "ste"}).text
    assert "1 kit lines matching" in found and "steel anvil" in found
