"""Export options: defaults, fields, filters checked against field types, sort, CSV options."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from crmferry.errors import ValidationFailed
from crmferry.exports.options import (
    ExportOptions,
    Filter,
    SortKey,
    options_to_json,
    parse_export_options,
)
from crmferry.records import BIDS, CONTACTS, INVENTORY, DataType, Field

FLAGS = DataType(
    name="flags",
    label="Flags",
    table="flags",
    fields=(
        Field("code", "Code", key=True),
        Field("active", "Active", "boolean", sql_type="boolean"),
    ),
)


def errors_of(data_type: DataType, raw: dict[str, Any]) -> list[dict[str, object]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_export_options(data_type, raw)
    assert caught.value.status == 422
    return caught.value.errors


def one_filter(data_type: DataType, field: str, op: str, value: Any) -> Filter:
    options = parse_export_options(
        data_type, {"filters": [{"field": field, "op": op, "value": value}]}
    )
    return options.filters[0]


def filter_error(data_type: DataType, field: str, op: str, value: Any) -> dict[str, object]:
    errors = errors_of(data_type, {"filters": [{"field": field, "op": op, "value": value}]})
    assert len(errors) == 1
    return errors[0]


# defaults, format, fields ----------------------------------------------------------------


@pytest.mark.parametrize("data_type", [CONTACTS, INVENTORY, BIDS])
def test_defaults(data_type: DataType) -> None:
    options = parse_export_options(data_type, {})
    assert options == parse_export_options(data_type, None)
    assert options.format == "csv"
    assert options.fields == ("id", *data_type.field_names)  # id first: re-imports match by it
    assert options.filters == ()
    assert options.sort == (SortKey("created_at"), SortKey("id"))
    assert (options.delimiter, options.bom) == (",", True)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl", "XLSX"])
def test_formats(fmt: str) -> None:
    assert parse_export_options(CONTACTS, {"format": fmt}).format == fmt.lower()


def test_unknown_format() -> None:
    assert errors_of(CONTACTS, {"format": "pdf"})[0]["field"] == "options.format"


def test_fields_keep_the_given_order() -> None:
    options = parse_export_options(CONTACTS, {"fields": ["phone", "email", "name"]})
    assert options.fields == ("phone", "email", "name")


def test_metadata_fields_may_be_asked_for() -> None:
    options = parse_export_options(INVENTORY, {"fields": ["id", "sku", "created_at"]})
    assert options.fields == ("id", "sku", "created_at")


def test_bids_may_include_contact_name_but_contacts_may_not() -> None:
    fields = ["bid_number", "contact_email", "contact_name"]
    assert parse_export_options(BIDS, {"fields": fields}).fields == tuple(fields)
    error = errors_of(CONTACTS, {"fields": ["name", "contact_name"]})[0]
    assert error["field"] == "options.fields[1]"
    assert "contact_name" in str(error["message"])


def test_unknown_field_is_named() -> None:
    errors = errors_of(INVENTORY, {"fields": ["sku", "colour"]})
    assert errors == [{"field": "options.fields[1]", "message": errors[0]["message"]}]
    assert "'colour'" in str(errors[0]["message"])


def test_duplicate_field() -> None:
    error = errors_of(CONTACTS, {"fields": ["email", "name", "email"]})[0]
    assert error["field"] == "options.fields[2]"
    assert "twice" in str(error["message"])


@pytest.mark.parametrize("fields", [[], "name", {"a": 1}, [1]])
def test_fields_must_be_a_list_of_names(fields: Any) -> None:
    assert errors_of(CONTACTS, {"fields": fields})[0]["field"] in (
        "options.fields",
        "options.fields[0]",
    )


def test_unknown_option_key() -> None:
    assert errors_of(CONTACTS, {"filter": []})[0]["field"] == "options.filter"


def test_options_must_be_an_object() -> None:
    assert errors_of(CONTACTS, ["csv"])[0]["field"] == "options"  # type: ignore[arg-type]


def test_every_problem_is_reported_at_once() -> None:
    errors = errors_of(
        CONTACTS,
        {
            "format": "doc",
            "fields": ["nope"],
            "filters": [{"field": "status", "op": "eq", "value": "gone"}],
            "sort": "-nope",
            "delimiter": ":",
            "bom": "maybe",
        },
    )
    assert [e["field"] for e in errors] == [
        "options.format",
        "options.fields[0]",
        "options.filters[0].value",
        "options.sort[0]",
        "options.delimiter",
        "options.bom",
    ]


# CSV options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"), [(",", ","), (";", ";"), ("|", "|"), ("\t", "\t"), ("\\t", "\t")]
)
def test_delimiters(given: str, expected: str) -> None:
    assert parse_export_options(CONTACTS, {"delimiter": given}).delimiter == expected
    assert parse_export_options(CONTACTS, {"delimiter": "tab"}).delimiter == "\t"


@pytest.mark.parametrize("delimiter", [":", ",,", "", 44])
def test_bad_delimiter(delimiter: Any) -> None:
    assert errors_of(CONTACTS, {"delimiter": delimiter})[0]["field"] == "options.delimiter"


def test_bom() -> None:
    assert parse_export_options(CONTACTS, {"bom": False}).bom is False
    assert parse_export_options(CONTACTS, {"bom": "false"}).bom is False
    assert errors_of(CONTACTS, {"bom": 1})[0]["field"] == "options.bom"


# sort ----------------------------------------------------------------------------------------


def test_sort_descending_with_id_appended() -> None:
    options = parse_export_options(INVENTORY, {"sort": "-unit_price"})
    assert options.sort == (SortKey("unit_price", True), SortKey("id"))


def test_sort_list_and_comma_string() -> None:
    expected = (SortKey("status"), SortKey("email", True), SortKey("id"))
    assert parse_export_options(CONTACTS, {"sort": ["status", "-email"]}).sort == expected
    assert parse_export_options(CONTACTS, {"sort": "status,-email"}).sort == expected


def test_sort_keeps_an_explicit_id() -> None:
    options = parse_export_options(CONTACTS, {"sort": ["-id", "name"]})
    assert options.sort == (SortKey("id", True), SortKey("name"))


def test_sort_by_contact_name_for_bids() -> None:
    assert parse_export_options(BIDS, {"sort": "contact_name"}).sort[0] == SortKey("contact_name")


@pytest.mark.parametrize(
    ("sort", "where"),
    [("-colour", "options.sort[0]"), (["name", "-name"], "options.sort[1]"), ([], "options.sort")],
)
def test_bad_sort(sort: Any, where: str) -> None:
    assert errors_of(CONTACTS, {"sort": sort})[0]["field"] == where


# filters: values against types ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "field", "value", "expected"),
    [
        (INVENTORY, "quantity", 5, 5),
        (INVENTORY, "quantity", "-12", -12),
        (INVENTORY, "unit_price", "12.50", Decimal("12.50")),
        (INVENTORY, "unit_price", 3, Decimal(3)),
        (INVENTORY, "unit_price", 2.5, Decimal("2.5")),
        (BIDS, "valid_until", "2024-02-29", date(2024, 2, 29)),
        (BIDS, "status", "Accepted", "accepted"),
        (CONTACTS, "email", " Ann@Example.COM ", "ann@example.com"),
        (CONTACTS, "phone", "+1 555 0100", "+1 555 0100"),
        (CONTACTS, "name", "Zoë", "Zoë"),
        (
            CONTACTS,
            "created_at",
            "2024-05-01T09:30:00+02:00",
            datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        (CONTACTS, "created_at", "2024-05-01T09:30:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        (CONTACTS, "created_at", "2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (FLAGS, "active", True, True),
        (FLAGS, "active", "false", False),
        (
            CONTACTS,
            "id",
            "6F9619FF-8B86-D011-B42D-00CF4FC964FF",
            "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
        ),
    ],
)
def test_typed_values(data_type: DataType, field: str, value: Any, expected: Any) -> None:
    flt = one_filter(data_type, field, "eq", value)
    assert flt == Filter(field, "eq", expected)
    assert type(flt.value) is type(expected)


@pytest.mark.parametrize(
    ("data_type", "field", "value"),
    [
        (INVENTORY, "quantity", "five"),
        (INVENTORY, "quantity", 1.5),
        (INVENTORY, "quantity", True),
        (INVENTORY, "quantity", 2**70),
        (INVENTORY, "unit_price", "12,50"),
        (INVENTORY, "unit_price", "NaN"),
        (INVENTORY, "unit_price", [1]),
        (BIDS, "valid_until", "2024-02-30"),
        (BIDS, "valid_until", "31/01/2024"),
        (BIDS, "status", "won"),
        (CONTACTS, "email", "not-an-email"),
        (CONTACTS, "name", 42),
        (CONTACTS, "name", None),
        (CONTACTS, "name", "x" * 10_001),
        (CONTACTS, "created_at", "yesterday"),
        (FLAGS, "active", "yes"),
        (CONTACTS, "id", "42"),
    ],
)
def test_bad_values_name_the_value(data_type: DataType, field: str, value: Any) -> None:
    error = filter_error(data_type, field, "eq", value)
    assert error["field"] == "options.filters[0].value"
    assert error["message"]


def test_error_path_counts_filters() -> None:
    errors = errors_of(
        INVENTORY,
        {
            "filters": [
                {"field": "quantity", "op": "gt", "value": 1},
                {"field": "quantity", "op": "lt", "value": "many"},
            ]
        },
    )
    assert errors[0]["field"] == "options.filters[1].value"
    assert "many" in str(errors[0]["message"])


# filters: operators ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "lte", "gt", "gte"])
def test_comparisons(op: str) -> None:
    assert one_filter(INVENTORY, "quantity", op, "3") == Filter("quantity", op, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["name", "email", "phone"])
def test_contains_on_text_like_fields(field: str) -> None:
    assert one_filter(CONTACTS, field, "contains", "Ex") == Filter(field, "contains", "Ex")


@pytest.mark.parametrize(
    ("data_type", "field"),
    [(INVENTORY, "quantity"), (BIDS, "amount"), (BIDS, "valid_until"), (BIDS, "status")],
)
def test_contains_refused_on_other_types(data_type: DataType, field: str) -> None:
    assert filter_error(data_type, field, "contains", "1")["field"] == "options.filters[0].op"


def test_contains_needs_text() -> None:
    assert filter_error(CONTACTS, "name", "contains", "")["field"] == "options.filters[0].value"


@pytest.mark.parametrize("op", ["lt", "lte", "gt", "gte"])
def test_order_comparisons_refused_on_enum_and_boolean(op: str) -> None:
    assert filter_error(BIDS, "status", op, "sent")["field"] == "options.filters[0].op"
    assert filter_error(FLAGS, "active", op, True)["field"] == "options.filters[0].op"


def test_in_takes_a_non_empty_list_of_typed_values() -> None:
    flt = one_filter(BIDS, "status", "in", ["SENT", "draft"])
    assert flt == Filter("status", "in", ("sent", "draft"))
    assert one_filter(INVENTORY, "quantity", "in", [1, "2"]).value == (1, 2)
    for bad in ([], "sent", None, list(range(1001))):
        assert filter_error(INVENTORY, "quantity", "in", bad)["field"] == "options.filters[0].value"
    assert "'won'" in str(filter_error(BIDS, "status", "in", ["sent", "won"])["message"])


def test_is_null_takes_true_or_false() -> None:
    assert one_filter(CONTACTS, "phone", "is_null", True).value is True
    assert one_filter(CONTACTS, "phone", "is_null", "false").value is False
    for bad in ("yes", 1, None):
        assert (
            filter_error(CONTACTS, "phone", "is_null", bad)["field"] == "options.filters[0].value"
        )


@pytest.mark.parametrize(
    ("item", "where"),
    [
        ({"field": "colour", "op": "eq", "value": "red"}, "options.filters[0].field"),
        ({"field": "name", "op": "like", "value": "a"}, "options.filters[0].op"),
        ({"field": "name", "op": "eq"}, "options.filters[0].value"),
        ({"field": "name", "op": "eq", "value": "a", "extra": 1}, "options.filters[0].extra"),
        ("name eq a", "options.filters[0]"),
        ({"field": "contact_name", "op": "eq", "value": "a"}, "options.filters[0].field"),
    ],
)
def test_malformed_filters(item: Any, where: str) -> None:
    assert errors_of(CONTACTS, {"filters": [item]})[0]["field"] == where


def test_filters_must_be_a_list() -> None:
    assert errors_of(CONTACTS, {"filters": {"field": "name"}})[0]["field"] == "options.filters"


def test_bids_filter_on_contact_name() -> None:
    assert one_filter(BIDS, "contact_name", "contains", "ann").field == "contact_name"


# normalised JSON -----------------------------------------------------------------------------

RICH = {
    "format": "XLSX",
    "fields": ["bid_number", "amount", "valid_until", "contact_name", "created_at"],
    "filters": [
        {"field": "amount", "op": "gte", "value": 10.5},
        {"field": "valid_until", "op": "lt", "value": "2025-01-01"},
        {"field": "status", "op": "in", "value": ["Sent", "draft"]},
        {"field": "created_at", "op": "gt", "value": "2024-05-01T09:30:00+02:00"},
        {"field": "contact_email", "op": "eq", "value": "Ann@Example.com"},
        {"field": "description", "op": "is_null", "value": "true"},
    ],
    "sort": "-amount",
    "delimiter": "tab",
    "bom": False,
}


def test_options_to_json_is_normalised_and_parses_back_the_same() -> None:
    options = parse_export_options(BIDS, RICH)
    stored = json.loads(json.dumps(options_to_json(options)))
    assert stored == {
        "format": "xlsx",
        "fields": ["bid_number", "amount", "valid_until", "contact_name", "created_at"],
        "filters": [
            {"field": "amount", "op": "gte", "value": "10.5"},
            {"field": "valid_until", "op": "lt", "value": "2025-01-01"},
            {"field": "status", "op": "in", "value": ["sent", "draft"]},
            {"field": "created_at", "op": "gt", "value": "2024-05-01T09:30:00+02:00"},
            {"field": "contact_email", "op": "eq", "value": "ann@example.com"},
            {"field": "description", "op": "is_null", "value": True},
        ],
        "sort": ["-amount", "id"],
        "delimiter": "\t",
        "bom": False,
    }
    assert parse_export_options(BIDS, stored) == options


def test_options_are_frozen() -> None:
    options = parse_export_options(CONTACTS, {})
    assert isinstance(options, ExportOptions)
    with pytest.raises(AttributeError):
        options.format = "xlsx"  # type: ignore[misc]


def test_a_currency_filter_is_compared_as_the_stored_upper_case_code() -> None:
    assert one_filter(BIDS, "currency", "eq", "usd").value == "USD"
    assert one_filter(BIDS, "currency", "in", ["eur", "Gbp"]).value == ("EUR", "GBP")
    error = filter_error(BIDS, "currency", "eq", "dollars")
    assert error["field"] == "options.filters[0].value"
    assert "three-letter currency code" in str(error["message"])
