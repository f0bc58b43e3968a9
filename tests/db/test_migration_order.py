"""Migration 0066 (keys by organization) also applies to a database where a later
migration (0095, which references schedules) ran first, and ends with the same keys
as on a new database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from crmferry.config import Settings
from crmferry.db import Database, migrate
from crmferry.db.database import role_passwords
from crmferry.db.urls import with_database

MINE = {65, 66}

KEYS = """
SELECT con.conrelid::regclass::text AS table_name, con.conname, pg_get_constraintdef(con.oid) AS def
  FROM pg_constraint AS con
 WHERE con.conrelid::regclass::text IN ('schedules', 'export_watermarks', 'schedule_occurrences')
   AND con.contype IN ('p', 'u', 'f')
 ORDER BY 1, 2
"""


@pytest.fixture
def fresh_url(server_url: str, db: Database) -> Iterator[str]:
    name = f"crmferry_order_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_the_keys_migration_applies_after_a_later_one_and_gives_the_same_keys(
    fresh_url: str, settings: Settings, db: Database
) -> None:
    with psycopg.connect(fresh_url, autocommit=True) as conn, conn.transaction():
        conn.execute(migrate.CREATE_LEDGER)
        for migration in migrate.available_migrations():
            if migration.version in MINE:
                continue  # a database of the release before: everything else applied
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO crmferry_migrations (version, name) VALUES (%s, %s)",
                [migration.version, migration.name],
            )
        org = conn.execute(
            "INSERT INTO organizations (name) VALUES ('Old') RETURNING id"
        ).fetchone()
        user = conn.execute(
            "INSERT INTO users (email) VALUES ('old@example.com') RETURNING id"
        ).fetchone()
        schedule = conn.execute(
            "INSERT INTO schedules (organization_id, created_by, name, job_type, data_type, cron,"
            " timezone) VALUES (%s, %s, 'Nightly', 'export', 'contacts', '0 2 * * *', 'UTC')"
            " RETURNING id",
            [org[0], user[0]],
        ).fetchone()
        conn.execute(
            "INSERT INTO export_watermarks (schedule_id, organization_id) VALUES (%s, %s)",
            [schedule[0], org[0]],
        )
    applied = migrate.upgrade(fresh_url, role_passwords(settings))
    assert applied == ["0065_source_objects", "0066_keys_by_organization"]
    with psycopg.connect(fresh_url) as conn:
        late = conn.execute(KEYS).fetchall()
        assert conn.execute("SELECT count(*) FROM export_watermarks").fetchone() == (1,)
    with db.owner_connect() as conn:
        in_order = [tuple(r.values()) for r in conn.execute(KEYS).fetchall()]
    assert late == in_order
    assert ("schedules", "schedules_pkey", "PRIMARY KEY (organization_id, id)") in late
