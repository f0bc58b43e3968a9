"""Each tool's contact export imports with the suggestion that looks at its values: the
right fields, owners by their names, stage names through a value map, no row lost."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from crmferry.accounts import admin
from crmferry.config import Settings
from crmferry.db import Database
from tests.cli.test_admin_commands import crmferry
from tests.conftest import Org
from tests.imports.conftest import Importer
from tests.imports.make_tool_exports import OWNERS

FILES = Path(__file__).parent / "files"


@pytest.fixture
def owners(db: Database, org: Org) -> dict[str, str]:
    """The members the exports' owner columns name."""
    with db.owner_connect() as conn:
        for name, email in OWNERS.items():
            admin.create_user(conn, org.id, email, "member", name=name)
    return OWNERS


def upload_of(importer: Importer, org: Org, name: str) -> dict[str, Any]:
    content = (FILES / name).read_bytes()
    return importer.upload(org.member, content, name=name, data_type="contacts")


def import_suggested(importer: Importer, org: Org, name: str) -> dict[str, Any]:
    upload = upload_of(importer, org, name)
    options = upload["suggested_options"]
    job_id = importer.create(org, "contacts", upload["id"], upload["suggested_mapping"], **options)
    job = importer.run(org, job_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["failed"] == 0, job["error_message"]
    return job


def contact(importer: Importer, org: Org, email: str) -> dict[str, Any]:
    rows = importer.rows(org, "SELECT * FROM contacts WHERE email = %s", [email])
    assert len(rows) == 1
    return rows[0]


def test_hubspot_owners_by_name_and_lifecycle_stages_by_value_map(
    importer: Importer, org: Org, owners: dict[str, str]
) -> None:
    upload = upload_of(importer, org, "hubspot_contacts.csv")
    assert upload["suggested_mapping"]["Contact owner"] == "owner_name"
    assert upload["suggested_mapping"]["Lifecycle Stage"] == "status"
    value_map = upload["suggested_options"]["value_maps"]["status"]
    assert value_map["Subscriber"] == "lead" and value_map["Opportunity"] == "prospect"
    assert "member with that name" in upload["mapping_notes"]["Contact owner"]
    assert "HubSpot lifecycle stage" in upload["mapping_notes"]["Lifecycle Stage"]
    job = import_suggested(importer, org, "hubspot_contacts.csv")
    assert job["counts"]["inserted"] == 3
    maria = contact(importer, org, "maria@acme.example")
    assert (maria["owner_email"], maria["status"], maria["state"]) == (
        owners["Jane Smith"],
        "lead",
        "Massachusetts",
    )
    wei = contact(importer, org, "wei@globex.example")
    assert (wei["owner_email"], wei["status"]) == (owners["Raj Patel"], "prospect")
    assert contact(importer, org, "olu@initech.example")["status"] == "customer"


def test_an_owner_column_naming_no_member_stays_unmapped_with_a_note(
    importer: Importer, org: Org
) -> None:
    # no member is called Jane Smith or Raj Patel in this organization
    upload = upload_of(importer, org, "hubspot_contacts.csv")
    assert upload["suggested_mapping"]["Contact owner"] is None
    note = upload["mapping_notes"]["Contact owner"]
    assert "'Jane Smith'" in note and "left unmapped" in note
    job = import_suggested(importer, org, "hubspot_contacts.csv")
    assert job["counts"]["inserted"] == 3  # no row lost for want of an owner


def test_salesforce_report_owners_and_mailing_address(
    importer: Importer, org: Org, owners: dict[str, str]
) -> None:
    import_suggested(importer, org, "salesforce_report_contacts.csv")
    tom = contact(importer, org, "tom@umbrella.example")
    assert (tom["owner_email"], tom["title"], tom["address"], tom["postal_code"]) == (
        owners["Raj Patel"],
        "VP Sales",
        "10 Market St",
        "94105",
    )
    assert contact(importer, org, "ana@initech.example")["postal_code"] == "1100-148"


def test_salesforce_data_loader_extract(importer: Importer, org: Org) -> None:
    upload = upload_of(importer, org, "salesforce_dataloader_contacts.csv")
    assert upload["suggested_mapping"]["Id"] is None  # Salesforce's ids, not ours
    import_suggested(importer, org, "salesforce_dataloader_contacts.csv")
    tom = contact(importer, org, "tom@umbrella.example")
    assert (tom["name"], tom["city"], tom["state"], tom["notes"]) == (
        "Tom Ripley",
        "San Francisco",
        "CA",
        "Met at Dreamforce",
    )


def test_zoho_owner_and_lead_statuses(importer: Importer, org: Org, owners: dict[str, str]) -> None:
    upload = upload_of(importer, org, "zoho_leads.csv")
    assert upload["suggested_mapping"]["Owner"] == "owner_name"
    assert "Zoho lead status" in upload["mapping_notes"]["Lead Status"]
    import_suggested(importer, org, "zoho_leads.csv")
    priya = contact(importer, org, "priya@soylent.example")
    assert (priya["owner_email"], priya["status"]) == (owners["Jane Smith"], "prospect")
    assert contact(importer, org, "lars@hooli.example")["status"] == "lead"


def test_pipedrive_people(importer: Importer, org: Org, owners: dict[str, str]) -> None:
    job = import_suggested(importer, org, "pipedrive_people.csv")
    assert job["counts"]["inserted"] == 2
    sam = contact(importer, org, "sam@stark.example")
    assert (sam["name"], sam["company"], sam["phone"], sam["owner_email"]) == (
        "Sam Okafor",
        "Stark Industries",
        "+44 20 5555 0199",
        owners["Jane Smith"],
    )


def test_outlook_contacts_keep_their_job_title(importer: Importer, org: Org) -> None:
    upload = upload_of(importer, org, "outlook_export.csv")
    assert upload["suggested_mapping"]["Title"] is None
    assert "column 'Job Title' holds the title" in upload["mapping_notes"]["Title"]
    job = import_suggested(importer, org, "outlook_export.csv")
    assert job["counts"]["inserted"] == 3  # also Alan Kay, who has no e-mail
    grace = contact(importer, org, "grace@navy.example")
    assert (grace["title"], grace["name"]) == ("Rear Admiral", "Grace Hopper")


def test_google_contacts_with_notes_for_what_the_values_decided(
    importer: Importer, org: Org
) -> None:
    upload = upload_of(importer, org, "google_contacts_export.csv")
    assert upload["mapping_notes"] == {}  # every suggestion fits its values
    job = import_suggested(importer, org, "google_contacts_export.csv")
    assert job["counts"]["inserted"] == 2  # Hedy Lamarr has only a phone
    assert contact(importer, org, "alan@example.co.uk")["company"] == "University of Manchester"


def test_a_column_whose_values_fit_no_field_is_not_suggested(importer: Importer, org: Org) -> None:
    upload = importer.upload(
        org.member,
        "Name,Email,Phone\nAda,Ada Lovelace,London\nBob,Bob Stone,Paris\n",
        data_type="contacts",
    )
    assert upload["suggested_mapping"] == {"Name": "name", "Email": None, "Phone": None}
    notes = upload["mapping_notes"]
    assert "are not e-mail addresses" in notes["Email"]
    assert "are not phone numbers" in notes["Phone"]


def test_a_few_bad_values_keep_the_field_and_say_so(importer: Importer, org: Org) -> None:
    upload = importer.upload(
        org.member, "Name,Email\nA,a@x.example\nB,b@x.example\nC,c@\n", data_type="contacts"
    )
    assert upload["suggested_mapping"]["Email"] == "email"
    assert "'c@'" in upload["mapping_notes"]["Email"]


def test_value_maps_apply_case_insensitively_and_bad_targets_are_refused(
    importer: Importer, org: Org
) -> None:
    csv = "Name,Email,Stage\nA,a@x.example,subscriber\nB,b@x.example, OPPORTUNITY \n"
    maps = {"status": {"Subscriber": "lead", "Opportunity": "Prospect"}}
    mapping = {"Name": "name", "Email": "email", "Stage": "status"}
    job = importer.import_csv(org, "contacts", csv, mapping, value_maps=maps)
    assert job["counts"] == {**job["counts"], "inserted": 2, "failed": 0}, job["error_message"]
    rows = importer.rows(org, "SELECT email, status FROM contacts ORDER BY email")
    assert [r["status"] for r in rows] == ["lead", "prospect"]
    upload = importer.upload(org.member, csv, data_type="contacts")
    bad = {"status": {"Subscriber": "subscribed"}}
    with pytest.raises(Exception) as caught:
        importer.create(org, "contacts", upload["id"], mapping, value_maps=bad)
    errors = caught.value.errors  # type: ignore[attr-defined]
    assert errors[0]["field"] == "options.value_maps.status.Subscriber"
    assert "is not one of" in errors[0]["message"]


def test_an_owner_name_that_matches_no_member_is_the_rows_error(
    importer: Importer, org: Org, owners: dict[str, str]
) -> None:
    csv = "Name,Owner\nA,Jane Smith\nB,Nobody Here\nC,raj patel\n"
    job = importer.import_csv(org, "contacts", csv, {"Name": "name", "Owner": "owner_name"})
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (2, 1)
    assert "matches no member of this organization by name" in job["error_message"]
    rows = importer.rows(org, "SELECT name, owner_email FROM contacts ORDER BY name")
    assert [r["owner_email"] for r in rows] == [owners["Jane Smith"], owners["Raj Patel"]]


def test_the_import_command_uses_the_suggestion_and_its_value_maps(
    importer: Importer, settings: Settings, org: Org, owners: dict[str, str]
) -> None:
    result = crmferry(
        settings,
        "import",
        str(FILES / "hubspot_contacts.csv"),
        "--type",
        "contacts",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["counts"]["inserted"] == 3 and job["counts"]["failed"] == 0, job["error_message"]
    assert job["options"]["value_maps"]["status"]["Subscriber"] == "lead"
    maria = contact(importer, org, "maria@acme.example")
    assert (maria["status"], maria["owner_email"]) == ("lead", owners["Jane Smith"])
