"""Templates: saved import mappings with options, saved export choices; validated on save."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.imports.conftest import Importer

IMPORT_TEMPLATE = {
    "name": "Outlook contacts",
    "job_type": "import",
    "data_type": "contacts",
    "mapping": {"E-mail Address": "email", "First Name": "first_name", "Notes": None},
    "options": {"mode": "update", "on_error": "abort"},
}


def create(client: TestClient, org: Org, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/templates", headers=org.member.headers, json=body)


def test_an_import_template_is_saved_listed_read_and_deleted(
    app_client: TestClient, org: Org
) -> None:
    created = create(app_client, org, IMPORT_TEMPLATE)
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["mapping"] == IMPORT_TEMPLATE["mapping"]
    assert template["options"] == {
        "mode": "update",
        "on_error": "abort",
        "dry_run": False,
        "date_format": "auto",
        "decimal": ".",
        "defaults": {},
        "defaults_on_update": False,
        "blank_cells": "clear",
        "value_maps": {},
    }
    listed = app_client.get("/api/v1/templates", headers=org.viewer.headers).json()["items"]
    assert [t["id"] for t in listed] == [template["id"]]
    url = f"/api/v1/templates/{template['id']}"
    assert app_client.get(url, headers=org.viewer.headers).json() == template
    assert app_client.delete(url, headers=org.viewer.headers).status_code == 403
    assert app_client.delete(url, headers=org.member.headers).status_code == 204
    assert app_client.get(url, headers=org.member.headers).status_code == 404


def test_templates_are_validated_on_save(app_client: TestClient, org: Org) -> None:
    unknown_field = {**IMPORT_TEMPLATE, "mapping": {"Col": "nickname"}}
    assert create(app_client, org, unknown_field).status_code == 422
    twice = {**IMPORT_TEMPLATE, "mapping": {"A": "email", "B": "email"}}
    assert create(app_client, org, twice).status_code == 422
    bad_mode = {**IMPORT_TEMPLATE, "options": {"mode": "merge"}}
    response = create(app_client, org, bad_mode)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "options.mode"
    bad_export = {
        "name": "x",
        "job_type": "export",
        "data_type": "bids",
        "options": {"format": "pdf"},
    }
    assert create(app_client, org, bad_export).status_code == 422


def test_an_export_template_keeps_fields_filters_and_format(
    app_client: TestClient, org: Org
) -> None:
    body = {
        "name": "Open bids",
        "job_type": "export",
        "data_type": "bids",
        "options": {
            "format": "jsonl",
            "fields": ["bid_number", "amount"],
            "filters": [{"field": "status", "op": "eq", "value": "pending"}],
        },
    }
    response = create(app_client, org, body)
    assert response.status_code == 201, response.text
    options = response.json()["options"]
    assert options["format"] == "jsonl" and options["fields"] == ["bid_number", "amount"]
    assert options["filters"][0]["field"] == "status"


def test_a_name_is_used_once_per_job_type(app_client: TestClient, org: Org) -> None:
    assert create(app_client, org, IMPORT_TEMPLATE).status_code == 201
    assert create(app_client, org, IMPORT_TEMPLATE).status_code == 409


def test_templates_of_another_organization_are_not_found(app_client: TestClient, make_org) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    template = create(app_client, theirs, IMPORT_TEMPLATE).json()
    assert (
        app_client.get(
            f"/api/v1/templates/{template['id']}", headers=mine.member.headers
        ).status_code
        == 404
    )
    assert (
        app_client.delete(
            f"/api/v1/templates/{template['id']}", headers=mine.member.headers
        ).status_code
        == 404
    )
    assert app_client.get("/api/v1/templates", headers=mine.member.headers).json()["items"] == []


def test_an_import_job_may_name_a_template_instead_of_a_mapping(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    body = {
        **IMPORT_TEMPLATE,
        "mapping": {"Item": "sku", "Label": "name"},
        "data_type": "inventory",
        "options": {"mode": "upsert"},
    }
    template = create(app_client, org, body).json()
    upload = importer.upload(org.member, "Item,Label\nA-1,Bolt\n")
    job_id = importer.create_from_body(
        org, "import", "inventory", {"upload_id": upload["id"], "template_id": template["id"]}
    )
    job = importer.run(org, job_id)
    assert job["counts"]["inserted"] == 1
    assert importer.rows(org, "SELECT sku, name FROM inventory") == [{"sku": "A-1", "name": "Bolt"}]
