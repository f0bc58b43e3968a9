"""The outbox: a job's final status and its event commit together, on every path that
finishes a job; the payload is the API's job object; events stay in their organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs import engine
from crmferry.jobs.model import job_json
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import add_jobs
from tests.notify.conftest import events_of

pytestmark = pytest.mark.usefixtures("test_kind")


def _comparable(value: Any) -> Any:
    """Timestamps compared as instants (SQL and Python may print them differently)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, str) and len(value) >= 25 and value[4] == "-" and "T" in value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def test_a_completed_job_has_one_event_whose_payload_is_the_job_object(
    db: Database, settings: Settings, org: Org
) -> None:
    [job_id] = add_jobs(db, org, options={"result": "a,b\n"})
    done = run_job(db, settings, org.id, job_id)
    assert done["status"] == "completed"
    [event] = events_of(db, job_id)
    assert event["type"] == "job.completed"
    assert event["organization_id"] == org.id
    assert event["dispatched_at"] is None
    assert _comparable(event["payload"]) == _comparable(job_json(done))


def test_a_failed_run_rolls_its_data_back_but_keeps_its_event(
    db: Database, settings: Settings, org: Org
) -> None:
    [job_id] = add_jobs(db, org, options={"fail": "bad rows"})
    assert run_job(db, settings, org.id, job_id)["status"] == "failed"
    [event] = events_of(db, job_id)
    assert event["type"] == "job.failed"
    assert event["payload"]["error_message"] == "bad rows"


def test_a_cancel_through_the_api_writes_job_cancelled(
    app_client: TestClient, db: Database, org: Org
) -> None:
    [job_id] = add_jobs(db, org, at=datetime(2099, 1, 1))
    answer = app_client.post(f"/api/v1/jobs/{job_id}/cancel", headers=org.member.headers)
    assert answer.status_code == 200, answer.text
    assert [e["type"] for e in events_of(db, job_id)] == ["job.cancelled"]


def test_a_status_change_rolled_back_leaves_no_event(db: Database, org: Org) -> None:
    [job_id] = add_jobs(db, org, at=datetime(2099, 1, 1))
    with pytest.raises(RuntimeError), db.tenant(org.id) as conn:
        conn.execute("UPDATE scheduled_jobs SET status = 'cancelled' WHERE id = %s", [job_id])
        assert len(conn.execute("SELECT id FROM events WHERE job_id = %s", [job_id]).fetchall())
        raise RuntimeError("the change does not commit")
    assert events_of(db, job_id) == []


def test_the_sweep_that_gives_up_on_a_job_writes_its_event(
    db: Database, settings: Settings, org: Org
) -> None:
    [job_id] = add_jobs(db, org, max_attempts=1)
    with db.owner_connect() as conn:  # a worker that claimed it and died long ago
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'processing', attempts = 1, worker_id = 'gone',"
            " lease_expires_at = now() - interval '1 minute' WHERE id = %s",
            [job_id],
        )
    engine.recover_expired(worker_database(settings))
    [event] = events_of(db, job_id)
    assert event["type"] == "job.failed"
    assert "Gave up after 1 attempts" in event["payload"]["error_message"]


def test_events_are_seen_by_their_organization_only(
    db: Database, settings: Settings, make_org: Any
) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    [job_id] = add_jobs(db, mine)
    run_job(db, settings, mine.id, job_id)
    with db.tenant(theirs.id) as conn:
        assert conn.execute("SELECT * FROM events WHERE job_id = %s", [job_id]).fetchall() == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO events (organization_id, type, payload) VALUES (%s, 'job.failed', '{}')",
                [mine.id],
            )
    with db.tenant(mine.id) as conn:
        assert len(conn.execute("SELECT * FROM events WHERE job_id = %s", [job_id]).fetchall()) == 1
