"""The registry of data types: duplicates and descriptions that do not hold together
are refused when they are registered, not discovered by the first import."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crmferry.records import (
    BIDS,
    CONTACTS,
    DATA_TYPES,
    DataType,
    DataTypeAlreadyRegistered,
    DataTypeInvalid,
    DataTypes,
    Field,
    Link,
    Through,
)

WIDGETS = DataType(
    name="widgets",
    label="Widgets",
    table="widgets",
    search_fields=("code",),
    fields=(Field("code", "Code", key=True), Field("size", "Size", "integer")),
)


def fresh() -> DataTypes:
    registry = DataTypes()
    for data_type in DATA_TYPES.values():
        registry.register(data_type)
    return registry


def test_the_built_in_types_are_registered_in_order() -> None:
    assert list(DATA_TYPES) == ["contacts", "inventory", "bids", "bid_items"]


def test_a_name_or_a_table_registered_twice_is_refused() -> None:
    registry = fresh()
    with pytest.raises(DataTypeAlreadyRegistered, match="'contacts'"):
        registry.register(CONTACTS)
    with pytest.raises(DataTypeAlreadyRegistered, match="table 'bids'"):
        registry.register(replace(WIDGETS, table="bids"))
    with pytest.raises(DataTypeAlreadyRegistered):
        registry.register(replace(WIDGETS, name="members"))  # the link target's name
    registry.register(WIDGETS)
    assert registry["widgets"] is WIDGETS


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"fields": (Field("code", "Code"),)}, "no field is marked key"),
        ({"search_fields": ("size",)}, "search field 'size' is not one of its text fields"),
        (
            {"fields": (Field("code", "Code", key=True, composed_from=("first",)),)},
            "code is composed from 'first'",
        ),
        (
            {"links": (Link("owner", ("code",), "teams", ("name",), "no team"),)},
            "points at 'teams', which is not registered",
        ),
        (
            {"links": (Link("contact", ("code",), "contacts", ("name",), "no contact"),)},
            "must match contacts's key ('email',)",
        ),
        (
            {"links": (Link("contact", ("colour",), "contacts", ("email",), "no contact"),)},
            "names 'colour', which is not one of its fields",
        ),
        (
            {"extra_export_fields": (Field("name", "Name", through=Through("contact", "name")),)},
            "export-only field 'name' names no link that keeps an id",
        ),
    ],
)
def test_a_description_that_does_not_hold_together_is_refused(
    change: dict[str, object], problem: str
) -> None:
    registry = fresh()
    with pytest.raises(DataTypeInvalid, match=problem.replace("(", r"\(").replace(")", r"\)")):
        registry.register(replace(WIDGETS, **change))  # type: ignore[arg-type]
    assert "widgets" not in registry


def test_a_type_others_link_to_cannot_be_withdrawn() -> None:
    registry = fresh()
    with pytest.raises(DataTypeInvalid, match="bids link to 'contacts'"):
        registry.unregister("contacts")
    with pytest.raises(DataTypeInvalid, match="bid_items link to 'bids'"):
        registry.unregister("bids")
    registry.unregister("bid_items")
    registry.unregister(BIDS.name)
    registry.unregister(CONTACTS.name)
    assert list(registry) == ["inventory"]


def test_link_targets_are_the_types_keys_and_the_members() -> None:
    registry = fresh()
    contacts = registry.link_target("contacts")
    assert (contacts.table, contacts.key, contacts.key_case_insensitive) == (
        "contacts",
        ("email",),
        True,
    )
    members = registry.link_target("members")
    assert (members.table, members.id_column) == ("organization_members", "user_id")
