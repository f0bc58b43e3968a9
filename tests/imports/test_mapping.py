"""Header normalisation, suggested mappings (exports of common tools map themselves)
and the checks a mapping passes before a job is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmferry.errors import ValidationFailed
from crmferry.imports.mapping import (
    _core,
    _spellings,
    normalise_header,
    suggest_mapping,
    validate_mapping,
)
from crmferry.imports.reading import sniff
from crmferry.records import BIDS, CONTACTS, DATA_TYPES, INVENTORY, DataType

FILES = Path(__file__).parent / "files"


@pytest.mark.parametrize(
    ("header", "normalised"),
    [
        ("E-mail 1 - Value", "e mail 1 value"),
        ("  Business   Country/Region ", "business country region"),
        ("Item #", "item #"),
        ("Item#", "item #"),
        ("Société_Name", "societe name"),
        ("Customer's E.Mail", "customers e mail"),
        ("ZIP", "zip"),
        ("first_name", "first name"),
        ("Straße", "strasse"),
    ],
)
def test_normalise_header(header: str, normalised: str) -> None:
    assert normalise_header(header) == normalised


@pytest.mark.parametrize(
    ("data_type", "header", "field"),
    [
        (CONTACTS, "E-mail Address", "email"),
        (CONTACTS, "Email", "email"),
        (CONTACTS, "E-mail 1 - Value", "email"),
        (CONTACTS, "Given Name", "first_name"),
        (CONTACTS, "First Name", "first_name"),
        (CONTACTS, "Family Name", "last_name"),
        (CONTACTS, "Last Name", "last_name"),
        (CONTACTS, "Organization 1 - Name", "company"),
        (CONTACTS, "Company", "company"),
        (CONTACTS, "Province", "state"),
        (CONTACTS, "ZIP", "postal_code"),
        (CONTACTS, "Business Phone", "phone"),
        (INVENTORY, "Qty", "quantity"),
        (INVENTORY, "Item #", "sku"),
        (INVENTORY, "SKU", "sku"),
        (INVENTORY, "Unit Price", "unit_price"),
        (BIDS, "Quote #", "bid_number"),
        (BIDS, "Expiry Date", "valid_until"),
    ],
)
def test_common_headers_map_themselves(data_type: DataType, header: str, field: str) -> None:
    assert suggest_mapping(data_type, [header]) == {header: field}


def test_outlook_export_maps_itself() -> None:
    headers = list(sniff(FILES / "outlook_contacts.csv").headers)
    assert suggest_mapping(CONTACTS, headers) == {
        "First Name": "first_name",
        "Middle Name": None,
        "Last Name": "last_name",
        "Title": "title",
        "Company": "company",
        "E-mail Address": "email",
        "Business Phone": "phone",
        "Mobile Phone": None,  # phone is taken by the first phone column
        "Home Phone": None,
        "Business Street": "address",
        "Business City": "city",
        "Business State": "state",
        "Business Postal Code": "postal_code",
        "Business Country/Region": "country",
        "Notes": "notes",
    }


def test_google_export_maps_itself() -> None:
    headers = list(sniff(FILES / "google_contacts.csv").headers)
    assert suggest_mapping(CONTACTS, headers) == {
        "Name": "name",
        "Given Name": "first_name",
        "Additional Name": None,
        "Family Name": "last_name",
        "E-mail 1 - Type": None,
        "E-mail 1 - Value": "email",
        "Phone 1 - Type": None,
        "Phone 1 - Value": "phone",
        "Organization 1 - Name": "company",
        "Organization 1 - Title": "title",
        "Address 1 - Street": "address",
        "Address 1 - City": "city",
        "Address 1 - Region": "state",
        "Address 1 - Postal Code": "postal_code",
        "Address 1 - Country": "country",
    }


def test_each_field_once_first_header_wins() -> None:
    assert suggest_mapping(CONTACTS, ["Email", "E-mail Address", "Name"]) == {
        "Email": "email",
        "E-mail Address": None,
        "Name": "name",
    }


def test_fuzzy_pass_only_when_unambiguous() -> None:
    assert suggest_mapping(CONTACTS, ["Work Phone"]) == {"Work Phone": "phone"}
    assert suggest_mapping(CONTACTS, ["Work Phone", "Home Phone"]) == {
        "Work Phone": None,
        "Home Phone": None,
    }
    # an exact match takes the field first; the fuzzy candidate then gets nothing
    assert suggest_mapping(CONTACTS, ["Work Email", "Email"]) == {
        "Work Email": None,
        "Email": "email",
    }
    # words that change the meaning are never dropped
    assert suggest_mapping(CONTACTS, ["E-mail 1 - Type", "Last Modified", "Fax"]) == {
        "E-mail 1 - Type": None,
        "Last Modified": None,
        "Fax": None,
    }


def test_unknown_headers_are_none() -> None:
    assert suggest_mapping(INVENTORY, ["Colour", "Column 3"]) == {"Colour": None, "Column 3": None}


@pytest.mark.parametrize("data_type", list(DATA_TYPES.values()), ids=lambda t: t.name)
def test_no_spelling_belongs_to_two_fields(data_type: DataType) -> None:
    """Otherwise the suggestion for that spelling would depend on field order."""
    for reduce in (str, _core):
        shared = {k: v for k, v in _spellings(data_type, reduce).items() if len(v) > 1}
        assert shared == {}


# ---------------------------------------------------------------- validate_mapping


def problems(
    data_type: DataType, headers: list[str], mapping: dict[str, str | None]
) -> list[dict[str, object]]:
    with pytest.raises(ValidationFailed) as caught:
        validate_mapping(data_type, headers, mapping)
    return caught.value.errors


def test_valid_mapping_drops_ignored_columns_and_canonicalises() -> None:
    headers = ["SKU", "Item", "Qty", "Notes", "Colour"]
    mapping = {"SKU": " SKU ", "Item": "name", "Qty": "quantity", "Notes": None, "Colour": ""}
    assert validate_mapping(INVENTORY, headers, mapping) == {
        "SKU": "sku",
        "Item": "name",
        "Qty": "quantity",
    }


def test_header_not_in_file_suggests_the_close_one() -> None:
    errors = problems(
        INVENTORY, ["SKU", "Name"], {"SKU": "sku", "Name": "name", "Nmae": "description"}
    )
    assert errors == [
        {"field": "mapping.Nmae", "message": "the file has no column 'Nmae'; did you mean 'Name'?"}
    ]


def test_absent_header_mapped_to_nothing_is_ignored() -> None:
    assert validate_mapping(
        INVENTORY, ["SKU", "Name"], {"SKU": "sku", "Name": "name", "Fax": None}
    ) == {
        "SKU": "sku",
        "Name": "name",
    }


def test_unknown_field() -> None:
    errors = problems(
        INVENTORY, ["SKU", "Name", "Colour"], {"SKU": "sku", "Name": "name", "Colour": "colour"}
    )
    assert errors[0]["field"] == "mapping.Colour"
    assert "'colour' is not one of the inventory fields" in str(errors[0]["message"])


def test_field_mapped_twice_is_reported_on_the_later_header() -> None:
    errors = problems(
        CONTACTS, ["Email", "E-mail", "Name"], {"Email": "email", "E-mail": "email", "Name": "name"}
    )
    assert errors == [
        {"field": "mapping.E-mail", "message": "'email' is already mapped from column 'Email'"}
    ]


def test_required_fields_unmapped() -> None:
    errors = problems(BIDS, ["Title"], {"Title": "title"})
    fields = {e["field"] for e in errors}
    messages = " ".join(str(e["message"]) for e in errors)
    assert fields == {"mapping"}
    assert "'bid_number'" in messages and "'amount'" in messages and "'title'" not in messages


def test_contact_name_is_composed_from_first_or_last_name() -> None:
    headers = ["First", "Surname", "Email"]
    assert validate_mapping(CONTACTS, headers, {"Surname": "last_name", "Email": "email"}) == {
        "Surname": "last_name",
        "Email": "email",
    }
    errors = problems(CONTACTS, headers, {"Email": "email"})
    assert errors == [
        {
            "field": "mapping",
            "message": "the required field 'name' (Name) is not mapped: map a column to name "
            "or first_name or last_name",
        }
    ]


def test_every_problem_is_listed_and_summarised() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_mapping(INVENTORY, ["A", "B"], {"A": "nope", "B": "sku", "C": "name"})
    assert len(caught.value.errors) == 3  # unknown field, absent column, name unmapped
    assert caught.value.detail.startswith("The column mapping cannot be used: ")
    assert caught.value.detail.endswith("(and 2 more).")
