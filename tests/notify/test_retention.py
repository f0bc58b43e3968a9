"""Retention of the outbox: the workers prune events and notifications (read or not)
older than CRMFERRY_RETENTION_DAYS, keeping an event while a delivery of it is still
to run; only crmferry_worker may, and never at an age of zero days."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.retention import prune_finished_jobs
from crmferry.notify.dispatch import dispatch_events
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import add_jobs

pytestmark = pytest.mark.usefixtures("test_kind")


def _failed_job_event(db: Database, settings: Settings, org: Org, deliver: bool) -> Any:
    """A failed job's event, dispatched; with `deliver`, its in-app delivery run."""
    [job_id] = add_jobs(db, org, options={"fail": "the source was empty"})
    run_job(db, settings, org.id, job_id)
    dispatch_events(worker_database(settings), settings)
    with db.owner_connect() as conn:
        event = conn.execute("SELECT id FROM events WHERE job_id = %s", [job_id]).fetchone()
        assert event is not None
        [delivery] = conn.execute(
            "SELECT id FROM scheduled_jobs WHERE event_id = %s", [event["id"]]
        ).fetchall()
    if deliver:
        assert run_job(db, settings, org.id, delivery["id"])["status"] == "completed"
    return event["id"]


def _age(db: Database, table: str, ids: list[Any], days: int) -> None:
    with db.owner_connect() as conn:
        column = "event_id" if table == "notifications" else "id"
        conn.execute(
            f"UPDATE {table} SET created_at = now() - make_interval(days => %s)"
            f" WHERE {column} = ANY(%s)",
            [days, ids],
        )


def _present(db: Database, table: str, column: str, ids: list[Any]) -> set[Any]:
    with db.owner_connect() as conn:
        rows = conn.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [ids])
        return {r[column] for r in rows.fetchall()}


def test_old_events_and_notifications_go_an_event_still_being_delivered_stays(
    app_client: TestClient, db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    old = _failed_job_event(db, settings, org, deliver=True)
    undelivered = _failed_job_event(db, settings, org, deliver=False)
    recent = _failed_job_event(db, settings, org, deliver=True)
    read = app_client.post("/api/v1/notifications/read-all", headers=org.member.headers)
    assert read.status_code == 200 and read.json()["marked"] >= 2
    too_old = settings.retention_days + 1
    _age(db, "events", [old, undelivered], too_old)
    _age(db, "notifications", [old, recent], too_old)  # recent: its event is young
    prune_finished_jobs(worker_db, settings)
    events = [old, undelivered, recent]
    assert _present(db, "events", "id", events) == {undelivered, recent}
    assert _present(db, "notifications", "event_id", events) == set()
    # the old event's finished delivery went with it; the pending one and its event stay
    assert _present(db, "scheduled_jobs", "event_id", events) == {undelivered, recent}
    notes = app_client.get("/api/v1/notifications", headers=org.member.headers).json()
    assert {n["job_id"] for n in notes["items"]}.isdisjoint({str(e) for e in events})


def test_events_within_the_window_stay(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    kept = _failed_job_event(db, settings, org, deliver=True)
    _age(db, "events", [kept], settings.retention_days - 1)
    _age(db, "notifications", [kept], settings.retention_days - 1)
    prune_finished_jobs(worker_db, settings)
    assert _present(db, "events", "id", [kept]) == {kept}
    assert _present(db, "notifications", "event_id", [kept]) == {kept}


def test_only_the_workers_prune_events_and_never_at_zero_days(
    db: Database, worker_db: Database, org: Org
) -> None:
    with db.app_connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM crmferry_prune_events(30, 500)")
    with worker_db.app_connect() as conn:
        for days in (0, -1):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least one day"):
                conn.execute("SELECT * FROM crmferry_prune_events(%s, 500)", [days])
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least one row"):
            conn.execute("SELECT * FROM crmferry_prune_events(30, 0)")
