"""The one record listing (API and pages): creation order, keyset cursors, word search,
and the indexes each of its queries must use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from crmferry.config import Settings
from crmferry.cursors import encode_cursor
from crmferry.db import Database
from crmferry.records import DATA_TYPES, DataType
from crmferry.records.listing import list_records, page_query
from tests.conftest import Org
from tests.web.test_pages import browser_for

ROWS = 20_000

# ROWS records of each type for one organization, their words as in real data: a few
# hundred common ones (names, companies), and one of each record's own (`u<n>`)
FILL = {
    "contacts": """
        INSERT INTO contacts (organization_id, name, email, company)
        SELECT %(org)s, 'Name' || (g %% 300) || ' U' || g, 'u' || g || '@example.com',
               'Company ' || (g %% 50)
          FROM generate_series(1, %(rows)s) AS g""",
    "inventory": """
        INSERT INTO inventory (organization_id, sku, name, category)
        SELECT %(org)s, 'SKU-U' || g, 'Name' || (g %% 300), 'Category ' || (g %% 50)
          FROM generate_series(1, %(rows)s) AS g""",
    "bids": """
        INSERT INTO bids (organization_id, bid_number, title, amount)
        SELECT %(org)s, 'B-U' || g, 'Name' || (g %% 300) || ' for ' || (g %% 70), 1
          FROM generate_series(1, %(rows)s) AS g""",
    "bid_items": """
        INSERT INTO bid_items (organization_id, bid_number, bid_id, line_number, description)
        SELECT b.organization_id, b.bid_number, b.id, 1, 'Name' || (g %% 300) || ' line'
          FROM generate_series(1, %(rows)s) AS g
          JOIN bids AS b ON b.organization_id = %(org)s AND b.bid_number = 'B-U' || g""",
}


@pytest.fixture(scope="module")
def filled(db: Database) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """An organization with ROWS records of each type, analysed; its records' sort keys."""
    from crmferry.accounts import admin

    with db.owner_connect() as conn:
        org = admin.create_organization(conn, "Big records")
        for statement in FILL.values():
            conn.execute(statement, {"org": org, "rows": ROWS})
        for data_type in DATA_TYPES.values():
            # as autovacuum leaves a table after an import: index statistics, GIN's pending
            # entries merged, the planner's statistics
            conn.execute(f"VACUUM ANALYZE {data_type.table}")
        keys = conn.execute(
            "SELECT created_at, id FROM contacts WHERE organization_id = %s"
            " ORDER BY created_at, id",
            [org],
        ).fetchall()
    yield org, keys
    with db.owner_connect() as conn:
        conn.execute("DELETE FROM organizations WHERE id = %s", [org])


def plan(db: Database, org: Any, data_type: DataType, q: str | None, cursor: str | None) -> str:
    """The plan of the listing's query, as the application role runs it."""
    query, params = page_query(data_type, q, 50, cursor)
    with db.tenant(org) as conn:
        rows = conn.execute(b"EXPLAIN " + query.as_bytes(conn), params).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


def search_plan(db: Database, org: Any, data_type: DataType, kind: str, q: str) -> str:
    """The plan of a statement crmferry_search_records runs (as the owner) for `q`."""
    with db.owner_connect() as conn:
        found = conn.execute(
            "SELECT crmferry_search_statement(%s, %s) AS s", [data_type.table, kind]
        )
        statement = found.fetchone()["s"]  # type: ignore[index]
        conn.execute("SELECT set_config('app.current_organization_id', %s, false)", [str(org)])
        conn.execute(f"PREPARE search AS {statement}")
        arguments = {"found": "NULL, NULL, 51", "address": "NULL, NULL, 51"}.get(kind, "NULL, NULL")
        if kind == "has_address":
            arguments = ""
        explain = sql.SQL("EXPLAIN EXECUTE search({}{})").format(
            sql.Literal(q), sql.SQL(", " + arguments if arguments else "")
        )
        rows = conn.execute(explain).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


@pytest.mark.parametrize("type_name", list(DATA_TYPES))
def test_every_listing_query_uses_its_index(
    db: Database, filled: tuple[Any, list[dict[str, Any]]], type_name: str
) -> None:
    org, keys = filled
    data_type = DATA_TYPES[type_name]
    ordered = f"Index Scan using {data_type.table}_org_created_idx"
    first = plan(db, org, data_type, None, None)
    assert ordered in first and "Sort" not in first, first
    middle = keys[ROWS // 2]
    deep = plan(db, org, data_type, None, encode_cursor(middle["created_at"], middle["id"]))
    assert ordered in deep and "Index Cond" in deep and "created_at" in deep, deep
    window = search_plan(db, org, data_type, "window", "u12345")
    assert ordered in window and "Sort" not in window, window
    found = search_plan(db, org, data_type, "found", "u12345")
    assert f"Bitmap Index Scan on {data_type.table}_search_idx" in found, found
    by_id = plan(db, org, data_type, "u12345", None)
    assert f"Index Scan using {data_type.table}_pkey" in by_id, by_id


# the (organization_id, lower(e-mail)) index each type with an e-mail search field has
ADDRESS_INDEXES = {"contacts": "contacts_email_key", "bids": "bids_contact_email_idx"}


@pytest.mark.parametrize("type_name", list(ADDRESS_INDEXES))
def test_a_search_for_one_address_is_an_index_lookup(
    db: Database, filled: tuple[Any, list[dict[str, Any]]], type_name: str
) -> None:
    org, _ = filled
    data_type = DATA_TYPES[type_name]
    index = ADDRESS_INDEXES[type_name]
    for kind in ("has_address", "address"):
        found = search_plan(db, org, data_type, kind, "U12345@Example.com")
        assert f"Index Scan using {index}" in found or f"Index Only Scan using {index}" in found
        assert "Seq Scan" not in found and "search_idx" not in found, found


def test_the_address_search_covers_the_types_with_an_e_mail_search_field(db: Database) -> None:
    with db.owner_connect() as conn:
        rows = conn.execute("SELECT table_name, email_column FROM crmferry_record_tables")
        columns = {r["table_name"]: r["email_column"] for r in rows.fetchall()}
    for data_type in DATA_TYPES.values():
        emails = [f.name for f in data_type.fields if f.type == "email"]
        searched = [name for name in data_type.search_fields if name in emails]
        assert columns[data_type.table] == (searched[0] if searched else None), data_type.name


def test_the_search_indexes_cover_the_descriptions_search_fields(db: Database) -> None:
    with db.owner_connect() as conn:
        indexed = conn.execute("SELECT * FROM crmferry_record_tables").fetchall()
    assert {r["table_name"]: tuple(r["search_columns"]) for r in indexed} == {
        t.table: t.search_fields for t in DATA_TYPES.values()
    }


def test_the_search_function_finds_only_the_current_organizations_records(
    db: Database,
    make_org,  # type: ignore[no-untyped-def]
) -> None:
    """It runs as the owner, who sees every organization: it must state the tenant itself."""
    mine, theirs = make_org("Mine"), make_org("Theirs")
    for org in (mine, theirs):
        _contacts(db, org, [("Zed Quill", None, None)])
    fields = list(DATA_TYPES["contacts"].search_fields)
    search = "SELECT crmferry_search_records('contacts', %s, 'quill', NULL, NULL, 50) AS id"
    with db.owner_connect() as conn:
        assert conn.execute(search, [fields]).fetchall() == []  # no organization: nothing
        conn.execute("SELECT set_config('app.current_organization_id', %s, false)", [str(mine.id)])
        found = [r["id"] for r in conn.execute(search, [fields]).fetchall()]
        own = conn.execute(
            "SELECT id FROM contacts WHERE organization_id = %s AND name = 'Zed Quill'", [mine.id]
        ).fetchall()
        assert found == [r["id"] for r in own] and len(found) == 1
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="covers"):
            conn.execute(
                "SELECT crmferry_search_records('contacts', ARRAY['notes'], 'x', NULL, NULL, 5)"
            )


def test_a_deep_cursor_continues_exactly_after_its_row(
    db: Database, filled: tuple[Any, list[dict[str, Any]]]
) -> None:
    org, keys = filled
    middle = keys[ROWS // 2]
    with db.tenant(org) as conn:
        page = list_records(
            conn, DATA_TYPES["contacts"], None, 3, encode_cursor(middle["created_at"], middle["id"])
        )
    assert [r["id"] for r in page.rows] == [k["id"] for k in keys[ROWS // 2 + 1 : ROWS // 2 + 4]]
    assert page.next_cursor is not None


def _contacts(db: Database, org: Org, rows: list[tuple[str, str | None, str | None]]) -> None:
    """Each contact in a transaction of its own: a later one is created later (records
    created in one transaction share their creation time and follow their ids)."""
    for row in rows:
        with db.tenant(org.id) as conn:
            conn.execute(
                "INSERT INTO contacts (organization_id, name, email, company)"
                " VALUES (%s, %s, %s, %s)",
                [org.id, *row],
            )


def _names(client: TestClient, org: Org, q: str) -> list[str]:
    page = client.get("/api/v1/contacts", headers=org.viewer.headers, params={"q": q})
    assert page.status_code == 200, page.text
    return [c["name"] for c in page.json()["items"]]


def test_q_finds_the_words_that_begin_a_word_of_a_search_field(
    db: Database, app_client: TestClient, org: Org
) -> None:
    _contacts(
        db,
        org,
        [
            ("Ann Lee", "ann.lee@example.com", "Acme-Widgets Ltd"),
            ("Bob O'Brien", "bob@brien.example.org", None),
            ("Carol Leeds", None, "100% Cotton"),
        ],
    )
    assert _names(app_client, org, "lee") == ["Ann Lee", "Carol Leeds"]  # a word's start
    assert _names(app_client, org, "LEE ann") == ["Ann Lee"]  # every word, any order
    assert _names(app_client, org, "ann.lee@exa") == ["Ann Lee"]  # an e-mail is words too
    assert _names(app_client, org, "example") == ["Ann Lee", "Bob O'Brien"]
    assert _names(app_client, org, "widgets") == ["Ann Lee"]  # a hyphenated word's part
    assert _names(app_client, org, "o'brien") == ["Bob O'Brien"]
    assert _names(app_client, org, "100%") == ["Carol Leeds"]
    assert _names(app_client, org, "ee") == []  # not the middle of a word
    assert _names(app_client, org, "notes") == []  # only the search fields
    assert _names(app_client, org, "%") == []  # no word at all matches nothing


def test_q_that_is_an_address_some_contact_has_finds_the_contacts_with_it(
    db: Database, app_client: TestClient, org: Org
) -> None:
    _contacts(
        db,
        org,
        [
            ("Ann Lee", "ann.lee@example.com", None),
            ("Ann Lee Junior", "ann.lee@example.com.au", None),
            ("Lee Ann", None, "Example Com"),
        ],
    )
    # the address one contact has: that contact (by the index), not the words' others
    assert _names(app_client, org, " Ann.Lee@Example.COM ") == ["Ann Lee"]
    assert _names(app_client, org, "ann.lee@example.com.au") == ["Ann Lee Junior"]
    # an address no contact has is words, as before: each begins a word of a search field
    everyone = ["Ann Lee", "Ann Lee Junior", "Lee Ann"]
    assert _names(app_client, org, "ann.lee@example.co") == everyone
    assert _names(app_client, org, "ann.lee@exa") == everyone
    assert _names(app_client, org, "ann.lee@example.com lee") == everyone  # not one address


def test_an_address_search_pages_by_its_cursor(
    db: Database, app_client: TestClient, org: Org
) -> None:
    _contacts(db, org, [(f"Dup {n}", None, None) for n in range(3)])
    with db.tenant(org.id) as conn:  # one address on several records (no key on bids)
        conn.execute(
            "INSERT INTO bids (organization_id, bid_number, title, amount, contact_email)"
            " SELECT %s, 'B-' || g, 'Bid ' || g, 1, 'buyer@example.org'"
            " FROM generate_series(1, 3) AS g",
            [org.id],
        )
        first = list_records(conn, DATA_TYPES["bids"], "buyer@example.org", 2, None)
        rest = list_records(conn, DATA_TYPES["bids"], "buyer@example.org", 2, first.next_cursor)
    assert [r["bid_number"] for r in first.rows + rest.rows] == ["B-1", "B-2", "B-3"]
    assert rest.next_cursor is None


def test_pages_and_api_list_in_creation_order_and_refuse_a_bad_cursor(
    settings: Settings, db: Database, app_client: TestClient, org: Org
) -> None:
    _contacts(db, org, [("First", None, None), ("Second", None, None), ("Third", None, None)])
    assert _names(app_client, org, "") == ["First", "Second", "Third"]
    page = browser_for(settings, db, org, org.viewer).get("/records/contacts").text
    assert page.index("First") < page.index("Second") < page.index("Third")
    bad = browser_for(settings, db, org, org.viewer).get(
        "/records/contacts", params={"cursor": "bm90IGEgY3Vyc29y"}
    )
    assert bad.status_code == 422 and bad.json()["errors"] == [
        {"field": "cursor", "message": "is not valid"}
    ]
