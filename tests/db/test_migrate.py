"""The migration runner applies each file once, in order, and is safe to rerun."""

from __future__ import annotations

import uuid

from crmferry.db import Database, migrate
from crmferry.db.urls import app_role_password
from tests.conftest import TEST_SECRET


def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    assert migrate.upgrade(db.owner_url, app_role_password(TEST_SECRET, None)) == []


def test_every_shipped_migration_is_recorded(db: Database) -> None:
    with db.owner_connect() as conn:
        versions = migrate.applied_versions(conn)
        assert migrate.is_current(conn)
    assert versions == {m.version for m in migrate.available_migrations()}
    assert min(versions) == 1


def test_migrations_have_distinct_increasing_numbers() -> None:
    """Parallel branches take numbers from separate ranges, so gaps are expected."""
    versions = [m.version for m in migrate.available_migrations()]
    assert versions == sorted(set(versions))


def test_seed_columns_of_scheduled_jobs_are_kept(db: Database) -> None:
    seed = {
        "id": "uuid",
        "organization_id": "text",
        "created_by": "uuid",
        "job_type": "text",
        "data_type": "text",
        "scheduled_time": "timestamp with time zone",
        "status": "text",
        "created_at": "timestamp with time zone",
        "completed_at": "timestamp with time zone",
        "error_message": "text",
        "record_count": "integer",
        "file_name": "text",
        "file_data": "jsonb",
        "creator_name": "text",
    }
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'scheduled_jobs'"
        ).fetchall()
        indexes = {
            r["indexname"]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'scheduled_jobs'"
            )
        }
    columns = {r["column_name"]: r["data_type"] for r in rows}
    assert {k: columns.get(k) for k in seed} == seed
    assert {
        "idx_scheduled_jobs_org_id",
        "idx_scheduled_jobs_status",
        "idx_scheduled_jobs_scheduled_time",
        "idx_scheduled_jobs_org_status_time",
    } <= indexes


def test_record_ids_are_time_ordered_version_7_uuids(db: Database) -> None:
    """On every supported server (PostgreSQL 18's uuidv7() or the SQL fallback):
    version 7, RFC 9562 variant, the creation millisecond first, random bits after."""
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT crmferry_new_id() AS id, (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
            " AS ms FROM generate_series(1, 500)"
        ).fetchall()
        defaults = conn.execute(
            "SELECT table_name, column_default FROM information_schema.columns"
            " WHERE column_name = 'id' AND table_name IN ('contacts', 'inventory', 'bids')"
        ).fetchall()
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    stamps = [i.int >> 80 for i in ids]
    assert stamps == sorted(stamps)
    assert all(abs(stamp - row["ms"]) < 1000 for stamp, row in zip(stamps, rows, strict=True))
    assert len({i.int & ((1 << 62) - 1) for i in ids}) == len(ids)
    assert {r["table_name"]: r["column_default"] for r in defaults} == {
        "contacts": "crmferry_new_id()",
        "inventory": "crmferry_new_id()",
        "bids": "crmferry_new_id()",
    }
