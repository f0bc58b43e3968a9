"""Records name an existing organization, checked once per statement (migration 0011):
the guarantees of the foreign key it replaced, tested as the owner (no RLS in the way)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from crmferry.accounts import admin
from crmferry.db import Database

NO_SUCH_ORG = uuid.UUID(int=7)


def _records(conn: psycopg.Connection, org_id: uuid.UUID) -> dict[str, int]:  # type: ignore[type-arg]
    row = conn.execute(
        "SELECT (SELECT count(*) FROM contacts WHERE organization_id = %(o)s) AS contacts,"
        " (SELECT count(*) FROM inventory WHERE organization_id = %(o)s) AS inventory,"
        " (SELECT count(*) FROM bids WHERE organization_id = %(o)s) AS bids",
        {"o": org_id},
    ).fetchone()
    assert row is not None
    return dict(row)


def _add_records(conn: psycopg.Connection, org_id: uuid.UUID) -> None:  # type: ignore[type-arg]
    contact = conn.execute(
        "INSERT INTO contacts (organization_id, name, email) VALUES (%s, 'Ann', 'ann@example.com')"
        " RETURNING id",
        [org_id],
    ).fetchone()
    assert contact is not None
    conn.execute(
        "INSERT INTO inventory (organization_id, sku, name) VALUES (%s, 'A-1', 'Bolt')", [org_id]
    )
    conn.execute(
        "INSERT INTO bids (organization_id, bid_number, title, amount, contact_id)"
        " VALUES (%s, 'B-1', 'Roof', 10, %s)",
        [org_id, contact["id"]],
    )


@pytest.mark.parametrize("table", ["contacts", "inventory", "bids"])
def test_a_record_of_an_organization_that_does_not_exist_is_refused(
    db: Database, table: str
) -> None:
    columns = {
        "contacts": ("name", "'Ann'"),
        "inventory": ("sku, name", "'Z-1', 'Bolt'"),
        "bids": ("bid_number, title, amount", "'Z-1', 'Roof', 1"),
    }[table]
    with db.owner_connect() as conn:
        real = admin.create_organization(conn, "Real")
        # one bad row among good ones fails the whole statement
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                f"INSERT INTO {table} (organization_id, {columns[0]})"
                f" SELECT org, {columns[1]} FROM unnest(%s::uuid[]) AS org",
                [[real, NO_SUCH_ORG]],
            )
        assert _records(conn, real)[table] == 0


def test_a_record_cannot_move_to_another_organization(db: Database) -> None:
    with db.owner_connect() as conn:
        first = admin.create_organization(conn, "First")
        second = admin.create_organization(conn, "Second")
        _add_records(conn, first)
        for table in ("contacts", "inventory", "bids"):
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                conn.execute(
                    f"UPDATE {table} SET organization_id = %s WHERE organization_id = %s",
                    [second, first],
                )
        conn.execute("UPDATE contacts SET name = 'Ann B' WHERE organization_id = %s", [first])
        assert _records(conn, first) == {"contacts": 1, "inventory": 1, "bids": 1}


def test_deleting_an_organization_deletes_its_records_only(db: Database) -> None:
    with db.owner_connect() as conn:
        gone = admin.create_organization(conn, "Gone")
        kept = admin.create_organization(conn, "Kept")
        _add_records(conn, gone)
        _add_records(conn, kept)
        conn.execute("DELETE FROM organizations WHERE id = %s", [gone])
        assert _records(conn, gone) == {"contacts": 0, "inventory": 0, "bids": 0}
        assert _records(conn, kept) == {"contacts": 1, "inventory": 1, "bids": 1}


def test_an_organization_stays_until_a_transaction_adding_its_records_ends(
    db: Database,
) -> None:
    """The check locks the organization (FOR KEY SHARE), as a foreign key does: a
    concurrent delete waits, then deletes the records committed meanwhile too."""
    with db.owner_connect() as setup:
        org = admin.create_organization(setup, "Busy")
    with db.owner_connect() as adding, db.owner_connect() as deleting:
        adding.autocommit = False
        adding.execute("INSERT INTO contacts (organization_id, name) VALUES (%s, 'Ann')", [org])
        deleting.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            deleting.execute("DELETE FROM organizations WHERE id = %s", [org])
        adding.commit()
        deleting.execute("DELETE FROM organizations WHERE id = %s", [org])
        assert _records(deleting, org) == {"contacts": 0, "inventory": 0, "bids": 0}
