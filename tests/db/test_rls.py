"""Tenancy is enforced by PostgreSQL itself: as the application role, with
hand-written SQL, organization A cannot see, change or delete B's rows."""

from __future__ import annotations

import psycopg
import pytest

from crmferry.db import Database
from crmferry.db.urls import APP_ROLE

TENANT_TABLES = [
    "contacts",
    "inventory",
    "bids",
    "memberships",
    "api_tokens",
    "uploads",
    "templates",
    "schedules",
    "scheduled_jobs",
    "import_changes",
    "webhooks",
    "audit_log",
    "organizations",
    "users",
]


def _seed(db: Database, org_id: object, creator: object) -> None:
    with db.owner_connect() as conn:
        conn.execute(
            "INSERT INTO contacts (organization_id, name, email) VALUES (%s, 'B one', 'b@x.test')",
            [org_id],
        )
        conn.execute(
            "INSERT INTO inventory (organization_id, sku, name) VALUES (%s, 'B-1', 'Thing')",
            [org_id],
        )
        conn.execute(
            "INSERT INTO bids (organization_id, bid_number, title, amount) VALUES (%s, 'B-1', 'Bid', 10)",
            [org_id],
        )
        conn.execute(
            """INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type, scheduled_time)
               VALUES (%s, %s, 'export', 'contacts', now())""",
            [str(org_id), creator],
        )
        conn.execute(
            "INSERT INTO templates (organization_id, name, job_type, data_type) VALUES (%s, 't', 'export', 'contacts')",
            [org_id],
        )
        conn.execute(
            "INSERT INTO webhooks (organization_id, url, events, secret) VALUES (%s, 'http://127.0.0.1/h', '{job.completed}', 's')",
            [org_id],
        )
        conn.execute(
            "INSERT INTO audit_log (organization_id, action) VALUES (%s, 'token.created')", [org_id]
        )
        conn.execute(
            """INSERT INTO uploads (organization_id, created_by, file_name, size_bytes, sha256,
                                    storage_path, format)
               VALUES (%s, %s, 'b.csv', 1, 'x', 'b.csv', 'csv')""",
            [org_id, creator],
        )
        conn.execute(
            """INSERT INTO schedules (organization_id, created_by, name, job_type, data_type, cron, timezone)
               VALUES (%s, %s, 's', 'export', 'contacts', '0 8 * * *', 'UTC')""",
            [org_id, creator],
        )
        conn.execute(
            """INSERT INTO import_changes (organization_id, job_id, data_type, record_id, action)
               VALUES (%s, gen_random_uuid(), 'contacts', gen_random_uuid(), 'insert')""",
            [org_id],
        )


def _as_org(conn: psycopg.Connection, org_id: object) -> None:  # type: ignore[type-arg]
    conn.execute("SELECT set_config('app.current_organization_id', %s, false)", [str(org_id)])


def test_application_role_cannot_bypass_rls(db: Database) -> None:
    with db.app_connect() as conn:
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        owned = conn.execute(
            "SELECT count(*) AS n FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s",
            [APP_ROLE],
        ).fetchone()
        assert conn.info.parameter_status("is_superuser") == "off"
    assert role == {"rolsuper": False, "rolbypassrls": False}
    assert owned == {"n": 0}


def test_every_tenant_table_forces_rls(db: Database) -> None:
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
            [TENANT_TABLES],
        ).fetchall()
    assert {r["relname"] for r in rows} == set(TENANT_TABLES)
    assert all(r["relrowsecurity"] and r["relforcerowsecurity"] for r in rows), rows


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_other_organization_rows_are_invisible(db: Database, make_org, table: str) -> None:  # type: ignore[no-untyped-def]
    a, b = make_org("A"), make_org("B")
    _seed(db, b.id, b.admin.user_id)
    with db.owner_connect() as conn:
        assert conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] > 0  # type: ignore[index]
    with db.app_connect() as conn:
        _as_org(conn, a.id)
        b_col = "id" if table == "organizations" else "organization_id"
        if table == "users":
            seen = conn.execute(
                "SELECT count(*) AS n FROM users WHERE id = %s", [b.admin.user_id]
            ).fetchone()
        else:
            seen = conn.execute(
                f"SELECT count(*) AS n FROM {table} WHERE {b_col}::text = %s", [str(b.id)]
            ).fetchone()
        assert seen == {"n": 0}


@pytest.mark.parametrize(
    "table", ["contacts", "inventory", "bids", "scheduled_jobs", "templates", "webhooks"]
)
def test_other_organization_rows_cannot_be_changed_or_deleted(
    db: Database, make_org, table: str
) -> None:  # type: ignore[no-untyped-def]
    a, b = make_org("A"), make_org("B")
    _seed(db, b.id, b.admin.user_id)
    with db.app_connect() as conn:
        _as_org(conn, a.id)
        updated = conn.execute(
            f"UPDATE {table} SET created_at = now() WHERE organization_id::text = %s", [str(b.id)]
        ).rowcount
        deleted = conn.execute(
            f"DELETE FROM {table} WHERE organization_id::text = %s", [str(b.id)]
        ).rowcount
    assert (updated, deleted) == (0, 0)
    with db.owner_connect() as conn:
        left = conn.execute(
            f"SELECT count(*) AS n FROM {table} WHERE organization_id::text = %s", [str(b.id)]
        ).fetchone()
    assert left is not None and left["n"] >= 1


def test_rows_cannot_be_written_into_another_organization(db: Database, make_org) -> None:  # type: ignore[no-untyped-def]
    a, b = make_org("A"), make_org("B")
    with db.app_connect() as conn:
        _as_org(conn, a.id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO contacts (organization_id, name) VALUES (%s, 'sneaky')", [b.id]
            )


def test_without_an_organization_nothing_is_visible(db: Database, make_org) -> None:  # type: ignore[no-untyped-def]
    b = make_org("B")
    _seed(db, b.id, b.admin.user_id)
    with db.app_connect() as conn:
        for table in TENANT_TABLES:
            assert conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone() == {"n": 0}, table


def test_own_rows_are_visible_in_own_transaction(db: Database, make_org) -> None:  # type: ignore[no-untyped-def]
    a = make_org("A")
    _seed(db, a.id, a.admin.user_id)
    with db.tenant(a.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": 1}
    # the setting is transaction-local: a pooled connection forgets it
    with db.anonymous() as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": 0}


def test_login_attempts_are_not_readable_by_the_application(db: Database) -> None:
    with db.app_connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM login_attempts")
