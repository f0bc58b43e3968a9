"""`options.defaults` fill empty cells and unmapped fields; `options.blank_cells` says
whether an empty cell clears an existing record's field or leaves it alone."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.errors import ValidationFailed
from tests.conftest import Org
from tests.imports.conftest import Importer

SEED = "Name,Email,Phone,Status,City\nAda,ada@example.com,555 0100,customer,London\n"


def contact(importer: Importer, org: Org, email: str) -> dict[str, Any]:
    rows = importer.rows(org, "SELECT * FROM contacts WHERE email = %s", [email])
    assert len(rows) == 1
    return rows[0]


def test_defaults_fill_empty_cells_and_unmapped_fields_of_new_records(
    importer: Importer, org: Org
) -> None:
    csv = "Name,Email,Status\nA,a@x.example,\nB,b@x.example,customer\n"
    defaults = {"status": "lead", "owner_email": org.member.email.upper(), "city": "Lyon"}
    job = importer.import_csv(org, "contacts", csv, None, defaults=defaults)
    assert job["counts"]["inserted"] == 2, job["error_message"]
    a, b = contact(importer, org, "a@x.example"), contact(importer, org, "b@x.example")
    assert (a["status"], a["owner_email"], a["city"]) == ("lead", org.member.email, "Lyon")
    assert (b["status"], b["city"]) == ("customer", "Lyon")


@pytest.mark.parametrize("on_update", [False, True])
def test_defaults_touch_existing_records_only_when_asked(
    importer: Importer, org: Org, on_update: bool
) -> None:
    importer.import_csv(org, "contacts", SEED)
    csv = "Name,Email,Status\nAda,ada@example.com,\n"
    options = {"defaults": {"status": "lead", "city": "Lyon"}, "defaults_on_update": on_update}
    job = importer.import_csv(org, "contacts", csv, None, **options)
    assert job["counts"]["updated"] == 1, job["error_message"]
    ada = contact(importer, org, "ada@example.com")
    # without defaults_on_update an empty cell clears as it always did (to the field's
    # own default, `active`), and the unmapped city is left alone
    expected = ("lead", "Lyon") if on_update else ("active", "London")
    assert (ada["status"], ada["city"]) == expected


def test_blank_cells_keep_leaves_existing_values_alone(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "contacts", SEED)
    csv = "Name,Email,Phone,Status,City\n,ada@example.com,,,Paris\nNew,new@example.com,,,\n"
    job = importer.import_csv(org, "contacts", csv, None, blank_cells="keep")
    assert (job["counts"]["updated"], job["counts"]["inserted"]) == (1, 1), job["error_message"]
    ada = contact(importer, org, "ada@example.com")
    assert (ada["name"], ada["phone"], ada["status"], ada["city"]) == (
        "Ada",
        "555 0100",
        "customer",
        "Paris",
    )
    new = contact(importer, org, "new@example.com")
    assert (new["status"], new["phone"]) == ("active", None)  # a new record: defaults as ever


def test_blank_cells_keep_still_requires_a_name_of_new_records(
    importer: Importer, org: Org
) -> None:
    job = importer.import_csv(
        org, "contacts", "Name,Email\n,nobody@example.com\n", None, blank_cells="keep"
    )
    assert job["counts"]["failed"] == 1 and "is required" in job["error_message"]


def test_blank_cells_clear_empties_fields(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "contacts", SEED)
    job = importer.import_csv(org, "contacts", "Name,Email,Phone\nAda,ada@example.com,\n")
    assert job["counts"]["updated"] == 1
    assert contact(importer, org, "ada@example.com")["phone"] is None


def test_keep_with_a_dry_run_counts_what_would_change(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "contacts", SEED)
    csv = "Name,Email,Phone\nAda,ada@example.com,\n"
    job = importer.import_csv(org, "contacts", csv, None, blank_cells="keep", dry_run=True)
    assert (job["counts"]["unchanged"], job["counts"]["updated"]) == (1, 0)


@pytest.mark.parametrize(
    ("defaults", "field", "message"),
    [
        ({"status": "friend"}, "options.defaults.status", "is not one of"),
        ({"phone": "12ab"}, "options.defaults.phone", "is not a valid phone number"),
        ({"owner_email": "stranger@example.com"}, "options.defaults.owner_email", "member"),
        ({"email": "a@example.com"}, "options.defaults.email", "is the key"),
        ({"colour": "red"}, "options.defaults.colour", "is not one of the contacts fields"),
        ({"status": ""}, "options.defaults.status", "must not be empty"),
    ],
)
def test_a_bad_default_is_refused_naming_it(
    importer: Importer, org: Org, defaults: dict[str, str], field: str, message: str
) -> None:
    upload = importer.upload(org.member, "Name\nA\n", data_type="contacts")
    with pytest.raises(ValidationFailed) as caught:
        importer.create(org, "contacts", upload["id"], {"Name": "name"}, defaults=defaults)
    assert caught.value.errors[0]["field"] == field
    assert message in str(caught.value.errors[0]["message"])


def test_defaults_of_decimal_and_date_fields(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "contacts", "Name,Email\nAda,ada@example.com\n")
    csv = "Bid number,Title,Amount\nQ-1,Roof,\n"
    defaults = {"amount": 0, "valid_until": "2026-12-31", "contact_email": "ada@example.com"}
    job = importer.import_csv(org, "bids", csv, None, defaults=defaults)
    assert job["counts"]["inserted"] == 1, job["error_message"]
    bid = importer.rows(org, "SELECT amount::text, valid_until::text, contact_id FROM bids")[0]
    assert (bid["amount"], bid["valid_until"]) == ("0.00", "2026-12-31")
    assert bid["contact_id"] is not None  # the default links the contact like a cell


def test_defaults_and_blank_cells_through_the_api_and_templates(
    app_client: TestClient, importer: Importer, org: Org
) -> None:
    options = {"defaults": {"status": "lead"}, "blank_cells": "keep", "defaults_on_update": True}
    body = {
        "name": "HubSpot",
        "job_type": "import",
        "data_type": "contacts",
        "mapping": {"Name": "name"},
        "options": options,
    }
    created = app_client.post("/api/v1/templates", headers=org.member.headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["options"]["defaults"] == {"status": "lead"}
    assert created.json()["options"]["blank_cells"] == "keep"
    bad = {**body, "options": {"defaults": {"status": "friend"}}}
    refused = app_client.post("/api/v1/templates", headers=org.member.headers, json=bad)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "options.defaults.status"
    upload = importer.upload(org.member, "Name\nA\n", data_type="contacts")
    job = app_client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "import",
            "data_type": "contacts",
            "upload_id": upload["id"],
            "template_id": created.json()["id"],
        },
    )
    assert job.status_code == 201, job.text
    assert job.json()["options"]["defaults"] == {"status": "lead"}


def test_a_required_field_with_a_default_needs_no_column(importer: Importer, org: Org) -> None:
    job = importer.import_csv(
        org,
        "bids",
        "Bid number,Title\nQ-1,Roof\nQ-2,Walls\n",
        {"Bid number": "bid_number", "Title": "title"},
        defaults={"amount": "0"},
    )
    assert job["counts"]["inserted"] == 2, job["error_message"]
    amounts = importer.rows(org, "SELECT amount::text AS amount FROM bids")
    assert amounts == [{"amount": "0.00"}, {"amount": "0.00"}]


def test_blank_name_parts_keep_an_existing_contacts_name(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "contacts", SEED)
    csv = "First name,Last name,Email,City\n,,ada@example.com,Paris\n,,new@example.com,Rome\n"
    job = importer.import_csv(org, "contacts", csv, None, blank_cells="keep")
    assert (job["counts"]["updated"], job["counts"]["failed"]) == (1, 1), job["error_message"]
    ada = contact(importer, org, "ada@example.com")
    assert (ada["name"], ada["city"]) == ("Ada", "Paris")
