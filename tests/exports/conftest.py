"""Export test factories (the database is the shared `db` fixture of tests/conftest.py)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from crmferry.db import Database
from crmferry.errors import JobCancelled

from .samples import BID_ROWS, CONTACT_ROWS, INVENTORY_ROWS

CREATED_BASE = datetime(2024, 1, 1, tzinfo=UTC)
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# the shared fixtures' key: the app role (one per server) gets the same derived password
TEST_SECRET = "test-secret-key-not-for-production-0123456789"


@pytest.fixture
def new_org(db: Database) -> Callable[[], UUID]:
    """Factory: a new, empty organization's id."""

    def make() -> UUID:
        with db.owner_connect() as conn:
            row = conn.execute(
                "INSERT INTO organizations (name) VALUES (%s) RETURNING id",
                [f"Org {secrets.token_hex(3)}"],
            ).fetchone()
        assert row is not None
        return UUID(str(row["id"]))

    return make


def cancel_at_second_chunk(calls: list[int]) -> Callable[[int], None]:
    """A progress callback that records each call in `calls` and cancels at the second."""

    def progress(done: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise JobCancelled("cancel requested")

    return progress


Insert = Callable[[str, UUID, list[dict[str, Any]]], list[UUID]]


@pytest.fixture
def insert(db: Database) -> Insert:
    """Factory: insert records (dicts of column values) into a table for an organization,
    as the owner; return their ids in order. Without `created_at`, rows get increasing
    creation times in list order, so the default sort is the list order."""

    def insert_rows(table: str, org_id: UUID, rows: list[dict[str, Any]]) -> list[UUID]:
        ids = []
        with db.owner_connect() as conn:
            for i, row in enumerate(rows):
                values = {"organization_id": org_id, **row}
                values.setdefault("created_at", _created(i))
                query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, values)),
                    sql.SQL(", ").join(sql.Placeholder() * len(values)),
                )
                found = conn.execute(query, list(values.values())).fetchone()
                assert found is not None
                ids.append(UUID(str(found["id"])))
        return ids

    return insert_rows


def _created(index: int) -> datetime:
    return CREATED_BASE + timedelta(seconds=index)


@pytest.fixture
def filled_org(new_org: Callable[[], UUID], insert: Insert) -> UUID:
    """An organization with the rows above; Q-1 is linked to the first contact."""
    org = new_org()
    contact_ids = insert("contacts", org, CONTACT_ROWS)
    insert("inventory", org, INVENTORY_ROWS)
    insert("bids", org, [{**BID_ROWS[0], "contact_id": contact_ids[0]}, BID_ROWS[1]])
    return org


BIG = 200_000


@pytest.fixture(scope="session")
def big_org(db: Database) -> UUID:
    """An organization with 200k contacts, made in SQL."""
    with db.owner_connect() as conn:
        row = conn.execute(
            "INSERT INTO organizations (name) VALUES ('Big') RETURNING id"
        ).fetchone()
        assert row is not None
        conn.execute(
            """
            INSERT INTO contacts (organization_id, name, first_name, last_name, email, phone,
                                  company, city, notes, created_at)
            SELECT %s, 'Zoë Núñez ' || i, 'Zoë', 'Núñez', 'user' || i || '@example.com',
                   '+1 555 ' || i, 'Acme, Inc.', 'Montréal', E'line one\\nline "two"',
                   timestamptz '2024-01-01' + i * interval '1 second'
            FROM generate_series(1, %s) AS i
            """,
            [row["id"], BIG],
        )
        return UUID(str(row["id"]))
