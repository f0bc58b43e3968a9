"""The export SELECT: every filter operator on real rows, sort, the bids→contacts join,
identifiers from the description only, values never in the SQL text, tenancy."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from crmferry.db import Database
from crmferry.exports.options import parse_export_options
from crmferry.exports.query import (
    build_export_query,
    build_json_export_query,
    build_split_export_queries,
    splittable,
)
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.records import BIDS, CONTACTS, INVENTORY, DataType

from .conftest import Insert

ITEMS = [
    {
        "sku": "A-1",
        "name": "Anvil",
        "quantity": 0,
        "unit_price": Decimal("10.00"),
        "category": "Tools",
    },
    {
        "sku": "B-2",
        "name": "Bolt 100%_pack",
        "quantity": 5,
        "unit_price": Decimal("0.25"),
        "category": None,
    },
    {"sku": "C-3", "name": "Crate", "quantity": 12, "unit_price": None, "category": "tools"},
    {
        "sku": "D-4",
        "name": "Drill",
        "quantity": -3,
        "unit_price": Decimal("99.99"),
        "category": "Power",
    },
]


@pytest.fixture
def inventory_org(new_org: Callable[[], UUID], insert: Insert) -> UUID:
    org = new_org()
    insert("inventory", org, ITEMS)
    return org


def run(db: Database, org: UUID, data_type: DataType, raw: dict[str, Any]) -> list[dict[str, Any]]:
    options = parse_export_options(data_type, raw)
    query, params = build_export_query(data_type, options)
    with snapshot_transaction(db, org) as conn:
        return conn.execute(query, params).fetchall()


def skus(db: Database, org: UUID, op: str, field: str, value: Any) -> list[str]:
    raw = {"fields": ["sku"], "filters": [{"field": field, "op": op, "value": value}]}
    return [row["sku"] for row in run(db, org, INVENTORY, raw)]


@pytest.mark.parametrize(
    ("op", "field", "value", "expected"),
    [
        ("eq", "quantity", 5, ["B-2"]),
        ("ne", "quantity", 5, ["A-1", "C-3", "D-4"]),
        ("lt", "quantity", 0, ["D-4"]),
        ("lte", "quantity", 0, ["A-1", "D-4"]),
        ("gt", "quantity", 5, ["C-3"]),
        ("gte", "quantity", 5, ["B-2", "C-3"]),
        ("eq", "unit_price", "10", ["A-1"]),
        ("gt", "unit_price", "0.25", ["A-1", "D-4"]),
        ("lte", "unit_price", "0.25", ["B-2"]),
        ("ne", "unit_price", "10.00", ["B-2", "C-3", "D-4"]),  # an empty price is "not 10"
        ("in", "quantity", [0, 12, 77], ["A-1", "C-3"]),
        ("in", "unit_price", ["99.99", "0.25"], ["B-2", "D-4"]),
        ("is_null", "unit_price", True, ["C-3"]),
        ("is_null", "unit_price", False, ["A-1", "B-2", "D-4"]),
        ("contains", "category", "TOOL", ["A-1", "C-3"]),
        ("contains", "name", "%_", ["B-2"]),  # LIKE wildcards are literal
        ("contains", "name", "_", ["B-2"]),
        ("eq", "category", "Tools", ["A-1"]),  # eq on text is exact
        ("lt", "sku", "C", ["A-1", "B-2"]),
        ("in", "category", ["Power", "tools"], ["C-3", "D-4"]),
    ],
)
def test_filter_operators(
    db: Database, inventory_org: UUID, op: str, field: str, value: Any, expected: list[str]
) -> None:
    assert skus(db, inventory_org, op, field, value) == expected


def test_filters_combine_with_and(db: Database, inventory_org: UUID) -> None:
    raw = {
        "fields": ["sku"],
        "filters": [
            {"field": "quantity", "op": "gte", "value": 0},
            {"field": "category", "op": "contains", "value": "tools"},
        ],
    }
    assert [r["sku"] for r in run(db, inventory_org, INVENTORY, raw)] == ["A-1", "C-3"]


def test_filter_by_id_and_created_at(
    db: Database, new_org: Callable[[], UUID], insert: Insert
) -> None:
    org = new_org()
    ids = insert("inventory", org, ITEMS)
    assert skus(db, org, "eq", "id", str(ids[2])) == ["C-3"]
    assert skus(db, org, "in", "id", [str(ids[0]), str(ids[3])]) == ["A-1", "D-4"]
    assert skus(db, org, "contains", "id", str(ids[1])[-12:].upper()) == ["B-2"]
    # the fixture gives rows creation times one second apart from 2024-01-01T00:00:00Z
    assert skus(db, org, "gte", "created_at", "2024-01-01T01:00:02+01:00") == ["C-3", "D-4"]


def test_sort(db: Database, inventory_org: UUID) -> None:
    def order(sort: Any) -> list[str]:
        return [
            r["sku"] for r in run(db, inventory_org, INVENTORY, {"fields": ["sku"], "sort": sort})
        ]

    assert order(None) == ["A-1", "B-2", "C-3", "D-4"]  # creation order
    assert order("-quantity") == ["C-3", "B-2", "A-1", "D-4"]
    assert order("-unit_price") == ["C-3", "D-4", "A-1", "B-2"]  # empty first when descending
    by_id = run(db, inventory_org, INVENTORY, {"fields": ["id", "sku"], "sort": "-id"})
    assert [r["id"] for r in by_id] == sorted((r["id"] for r in by_id), reverse=True)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, True),
        ("created_at,id", True),
        ("-created_at,-id", True),
        ("-created_at", False),  # created_at DESC, id ASC: no single row comparison
        ("id", False),
        ("updated_at", False),
        ("name", False),
        ("created_at,name", False),
    ],
)
def test_splittable_sorts(sort: str | None, expected: bool) -> None:
    assert splittable(parse_export_options(INVENTORY, {"sort": sort})) is expected


@pytest.mark.parametrize("sort", [None, "-created_at,-id"])
@pytest.mark.parametrize("first_rows", [0, 1, 2, 3, 4, 9])
def test_split_queries_are_the_whole_export_in_two(
    db: Database, new_org: Callable[[], UUID], insert: Insert, sort: str | None, first_rows: int
) -> None:
    """Whatever the cut, the first query's rows then the second's are the export's rows;
    two rows share a creation time, so the id decides between them."""
    org = new_org()
    created = [f"2024-01-01T00:00:0{i}Z" for i in (0, 1, 1, 2)]
    insert(
        "inventory",
        org,
        [{**item, "created_at": c} for item, c in zip(ITEMS, created, strict=True)],
    )
    raw = {
        "fields": ["sku"],
        "sort": sort,
        "filters": [{"field": "sku", "op": "ne", "value": "A-1"}],
    }
    options = parse_export_options(INVENTORY, raw)
    whole, whole_params = build_export_query(INVENTORY, options)
    select_list = [sql.SQL("r.sku")]
    first, second = build_split_export_queries(INVENTORY, options, select_list, first_rows)
    with snapshot_transaction(db, org) as conn:
        expected = [r["sku"] for r in conn.execute(whole, whole_params)]
        head = [r["sku"] for r in conn.execute(*first)]
        tail = [r["sku"] for r in conn.execute(*second)]
    assert len(expected) == 3
    assert head == expected[:first_rows] and head + tail == expected


def test_only_a_splittable_sort_is_split() -> None:
    options = parse_export_options(INVENTORY, {"sort": "name"})
    with pytest.raises(ValueError, match="cannot be split"):
        build_split_export_queries(INVENTORY, options, [sql.SQL("r.sku")], 10)


def test_field_order_and_names(db: Database, inventory_org: UUID) -> None:
    rows = run(db, inventory_org, INVENTORY, {"fields": ["unit_price", "sku", "quantity"]})
    assert list(rows[0]) == ["unit_price", "sku", "quantity"]
    assert rows[0] == {"unit_price": Decimal("10.00"), "sku": "A-1", "quantity": 0}


@pytest.fixture
def bids_org(new_org: Callable[[], UUID], insert: Insert) -> UUID:
    org = new_org()
    ann, bob = insert(
        "contacts",
        org,
        [
            {"name": "Ann Archer", "email": "ann@example.com"},
            {"name": "Bob Baker", "email": "Bob@Example.com"},
        ],
    )
    insert(
        "bids",
        org,
        [
            {
                "bid_number": "B1",
                "title": "One",
                "amount": Decimal("100.00"),
                "status": "sent",
                "contact_id": ann,
                "contact_email": "ann@example.com",
                "valid_until": "2024-06-30",
            },
            {
                "bid_number": "B2",
                "title": "Two",
                "amount": Decimal("5.50"),
                "status": "draft",
                "contact_id": bob,
                "contact_email": "Bob@Example.com",
                "valid_until": "2024-07-01",
            },
            {
                "bid_number": "B3",
                "title": "Three",
                "amount": Decimal("-1.00"),
                "status": "accepted",
            },
        ],
    )
    return org


def bid_numbers(db: Database, org: UUID, raw: dict[str, Any]) -> list[str]:
    return [r["bid_number"] for r in run(db, org, BIDS, {"fields": ["bid_number"], **raw})]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"field": "valid_until", "op": "lt", "value": "2024-07-01"}, ["B1"]),
        ({"field": "valid_until", "op": "gte", "value": "2024-06-30"}, ["B1", "B2"]),
        ({"field": "valid_until", "op": "is_null", "value": True}, ["B3"]),
        ({"field": "status", "op": "eq", "value": "SENT"}, ["B1"]),
        ({"field": "status", "op": "ne", "value": "sent"}, ["B2", "B3"]),
        ({"field": "status", "op": "in", "value": ["draft", "accepted"]}, ["B2", "B3"]),
        ({"field": "contact_email", "op": "eq", "value": "BOB@example.COM"}, ["B2"]),
        (
            {"field": "contact_email", "op": "in", "value": ["ann@example.com", "bob@example.com"]},
            ["B1", "B2"],
        ),
        ({"field": "contact_email", "op": "contains", "value": "EXAMPLE"}, ["B1", "B2"]),
        ({"field": "amount", "op": "lt", "value": 0}, ["B3"]),
        ({"field": "contact_name", "op": "contains", "value": "bak"}, ["B2"]),
        ({"field": "contact_name", "op": "is_null", "value": True}, ["B3"]),
    ],
)
def test_bid_filters(
    db: Database, bids_org: UUID, flt: dict[str, Any], expected: list[str]
) -> None:
    assert bid_numbers(db, bids_org, {"filters": [flt]}) == expected


def test_contact_name_is_joined(db: Database, bids_org: UUID) -> None:
    rows = run(
        db, bids_org, BIDS, {"fields": ["bid_number", "contact_name"], "sort": "-contact_name"}
    )
    assert [(r["bid_number"], r["contact_name"]) for r in rows] == [
        ("B3", None),
        ("B2", "Bob Baker"),
        ("B1", "Ann Archer"),
    ]


def test_join_only_when_contact_name_is_used() -> None:
    plain, _ = build_export_query(BIDS, parse_export_options(BIDS, {}))
    joined, _ = build_export_query(BIDS, parse_export_options(BIDS, {"sort": "contact_name"}))
    assert "JOIN" not in plain.as_string()
    assert 'LEFT JOIN "contacts" AS "link_contact"' in joined.as_string()


def test_values_are_parameters_never_sql_text() -> None:
    evil = "x'); DROP TABLE contacts; --"
    options = parse_export_options(
        CONTACTS,
        {
            "filters": [
                {"field": "name", "op": "eq", "value": evil},
                {"field": "notes", "op": "contains", "value": evil},
            ]
        },
    )
    query, params = build_export_query(CONTACTS, options)
    text = query.as_string()
    assert evil not in text
    assert text.count("%s") == 2
    assert params == [evil, "%x'); DROP TABLE contacts; --%"]
    assert '"r"."name" = %s' in text
    assert 'FROM "contacts" AS r' in text
    assert text.endswith('ORDER BY "r"."created_at", "r"."id"')


def test_hostile_values_are_just_values(db: Database, inventory_org: UUID) -> None:
    assert skus(db, inventory_org, "eq", "name", "Anvil' OR '1'='1") == []
    assert skus(db, inventory_org, "contains", "name", "'; DROP TABLE inventory; --") == []
    assert len(skus(db, inventory_org, "is_null", "sku", False)) == 4


def test_json_query_keeps_field_order_and_types(db: Database, inventory_org: UUID) -> None:
    options = parse_export_options(
        INVENTORY, {"fields": ["quantity", "sku", "unit_price"], "sort": "sku"}
    )
    query, params = build_json_export_query(INVENTORY, options)
    with snapshot_transaction(db, inventory_org) as conn:
        rows = [json.loads(r["json"]) for r in conn.execute(query, params)]
    assert list(rows[0]) == ["quantity", "sku", "unit_price"]
    assert rows[2] == {"quantity": 12, "sku": "C-3", "unit_price": None}


def test_tenancy_other_organizations_rows_are_invisible(
    db: Database, inventory_org: UUID, new_org: Callable[[], UUID], insert: Insert
) -> None:
    other = new_org()
    insert("inventory", other, [{"sku": "X-9", "name": "Theirs"}])
    assert skus(db, inventory_org, "is_null", "sku", False) == ["A-1", "B-2", "C-3", "D-4"]
    assert skus(db, other, "is_null", "sku", False) == ["X-9"]


def test_identifiers_come_from_the_description() -> None:
    options = parse_export_options(CONTACTS, {"fields": ["email"]})
    query, _ = build_export_query(CONTACTS, options)
    assert isinstance(query, sql.Composed)
    assert query.as_string().startswith('SELECT "r"."email" AS "email" FROM "contacts" AS r')


@pytest.mark.parametrize("data_type", [CONTACTS, INVENTORY, BIDS], ids=lambda t: t.name)
def test_json_select_list_is_what_row_to_json_writes(
    db: Database, filled_org: UUID, data_type: DataType
) -> None:
    """Byte for byte, for every field of every type (the lines once came from
    row_to_json over a LATERAL row, which a split export cannot take)."""
    fields = [*data_type.field_names, "id", "created_at", "updated_at"]
    fields += [f.name for f in data_type.extra_export_fields]
    options = parse_export_options(data_type, {"fields": fields})
    ours, params = build_json_export_query(data_type, options)
    plain, plain_params = build_export_query(data_type, options)
    reference = sql.SQL("SELECT row_to_json(q)::text AS json FROM ({}) AS q").format(plain)
    with snapshot_transaction(db, filled_org) as conn:
        lines = [r["json"] for r in conn.execute(ours, params)]
        expected = [r["json"] for r in conn.execute(reference, plain_params)]
    assert len(lines) > 1 and lines == expected
