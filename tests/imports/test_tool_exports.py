"""The contact exports of the CRMs and address books people leave map themselves.

Each golden file (tests/imports/files/, written by make_tool_exports.py) has its
tool's real header layout. These tests check the header-only suggestion, read from
the data types' synonyms; test_tool_imports.py imports the files with the suggestion
that also looks at the values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crmferry.imports.mapping import suggest_mapping
from crmferry.imports.reading import sniff
from crmferry.records import CONTACTS

FILES = Path(__file__).parent / "files"


def mapped(name: str) -> dict[str, str]:
    headers = list(sniff(FILES / name).headers)
    return {h: f for h, f in suggest_mapping(CONTACTS, headers).items() if f is not None}


def test_outlook_salutation_does_not_take_the_job_title() -> None:
    mapping = mapped("outlook_export.csv")
    assert mapping["Job Title"] == "title"
    assert "Title" not in mapping  # "Dr.", "Ms.": a salutation
    assert mapping["E-mail Address"] == "email" and mapping["Business Phone"] == "phone"


def test_a_lone_title_column_is_still_the_job_title() -> None:
    assert suggest_mapping(CONTACTS, ["Name", "Title"])["Title"] == "title"


def test_pipedrive_person_columns_map_themselves() -> None:
    mapping = mapped("pipedrive_people.csv")
    assert mapping["Person - Name"] == "name"
    assert mapping["Person - Email - Work"] == "email"
    assert mapping["Person - Phone - Work"] == "phone"
    assert mapping["Organization - Name"] == "company"
    assert mapping["Person - First name"] == "first_name"
    assert "Person - Organization" not in mapping and "Person - Label" not in mapping


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "salesforce_dataloader_contacts.csv",
            {
                "MailingStreet": "address",
                "MailingCity": "city",
                "MailingState": "state",
                "MailingPostalCode": "postal_code",
                "MailingCountry": "country",
            },
        ),
        (
            "salesforce_report_contacts.csv",
            {
                "Mailing Street": "address",
                "Mailing City": "city",
                "Mailing State/Province": "state",
                "Mailing Zip/Postal Code": "postal_code",
                "Mailing Country": "country",
            },
        ),
        ("hubspot_contacts.csv", {"State/Region": "state", "Country/Region": "country"}),
        ("zoho_leads.csv", {"Zip Code": "postal_code", "Street": "address"}),
    ],
)
def test_address_columns_map_to_the_address_fields(name: str, expected: dict[str, str]) -> None:
    mapping = mapped(name)
    assert {h: mapping.get(h) for h in expected} == expected


def test_salesforce_ids_are_not_taken_for_record_ids() -> None:
    # "Id" is Salesforce's own id: without a look at its values it is never `id`
    assert "Id" not in mapped("salesforce_dataloader_contacts.csv")


def test_google_contacts_new_layout_maps_itself() -> None:
    mapping = mapped("google_contacts_export.csv")
    assert mapping == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Organization Name": "company",
        "Organization Title": "title",
        "Notes": "notes",
        "E-mail 1 - Value": "email",
        "Phone 1 - Value": "phone",
        "Address 1 - Street": "address",
        "Address 1 - City": "city",
        "Address 1 - Region": "state",
        "Address 1 - Postal Code": "postal_code",
        "Address 1 - Country": "country",
    }


def test_linkedin_connections_header_maps_itself() -> None:
    # the table below LinkedIn's "Notes:" preamble (finding that row is the reader's job)
    header = (FILES / "linkedin_connections_export.csv").read_text().splitlines()[3].split(",")
    assert suggest_mapping(CONTACTS, header) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "URL": None,
        "Email Address": "email",
        "Company": "company",
        "Position": "title",
        "Connected On": None,
    }
