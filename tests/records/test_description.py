"""The built-in data types as their description states them to every layer and, through
GET /data-types, to the browser and API clients."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crmferry.records import BIDS, CONTACTS, INVENTORY, MEMBERS
from crmferry.records.values import coerce_value
from tests.conftest import Org


def test_keys_links_composed_fields_and_defaults() -> None:
    assert (CONTACTS.key_fields, INVENTORY.key_fields, BIDS.key_fields) == (
        ("email",),
        ("sku",),
        ("bid_number",),
    )
    assert CONTACTS.field("name").composed_from == ("first_name", "last_name")
    owner, contact = CONTACTS.link("owner"), BIDS.link("contact")
    assert (owner.target, owner.key, owner.id_column) == (MEMBERS.name, ("email",), None)
    assert (contact.target, contact.key, contact.id_column) == (
        "contacts",
        ("email",),
        "contact_id",
    )
    assert BIDS.field("currency").organization_default == "currency"
    assert BIDS.exportable_fields["contact_name"].through is not None
    assert list(BIDS.exportable_fields)[-3:] == ["id", "created_at", "updated_at"]


def test_the_browser_reads_composed_fields_links_and_keys(app_client: TestClient, org: Org) -> None:
    types = {
        t["name"]: t
        for t in app_client.get("/api/v1/data-types", headers=org.viewer.headers).json()
    }
    assert list(types) == ["contacts", "inventory", "bids", "bid_items"]
    contacts = types["contacts"]
    assert (contacts["key"], contacts["key_fields"], contacts["key_case_insensitive"]) == (
        "email",
        ["email"],
        True,
    )
    name = next(f for f in contacts["fields"] if f["name"] == "name")
    assert name["required"] and name["composed_from"] == ["first_name", "last_name"]
    assert [link["target"] for link in contacts["links"]] == ["members"]
    assert types["bids"]["links"][0]["id_column"] == "contact_id"
    assert types["inventory"]["search_fields"] == ["sku", "name", "category"]


def test_a_currency_is_an_upper_case_three_letter_code() -> None:
    assert coerce_value(BIDS.field("currency"), " eur ") == "EUR"


@pytest.mark.parametrize("bad", ["euro", "E1R", ""])
def test_anything_else_is_no_currency(bad: str) -> None:
    with pytest.raises(ValueError, match="three-letter currency code"):
        coerce_value(BIDS.field("currency"), bad)
