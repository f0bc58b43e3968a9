"""Notification test fixtures: the engine's trivial kind, and reading events."""

from __future__ import annotations

from typing import Any

from crmferry.db import Database
from tests.imports.conftest import importer
from tests.jobs.conftest import quiet_queue, spawn_worker, test_kind

__all__ = ["events_of", "importer", "quiet_queue", "spawn_worker", "test_kind"]


def events_of(db: Database, job_id: Any) -> list[dict[str, Any]]:
    """Every event of one job, oldest first (read as the owner)."""
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT * FROM events WHERE job_id = %s ORDER BY created_at", [job_id]
        ).fetchall()
