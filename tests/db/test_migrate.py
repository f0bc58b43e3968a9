"""The migration runner applies each file once, in order, and is safe to rerun."""

from __future__ import annotations

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


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in migrate.available_migrations()]
    assert versions == list(range(1, len(versions) + 1))


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
