"""Dispatch: each event becomes exactly one delivery job per channel and key, run by the
engine like any job; a delivery interrupted by a dead worker runs again with the same
event and tells nobody twice."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs import engine
from crmferry.notify.dispatch import dispatch_batch, dispatch_events
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import add_jobs

pytestmark = pytest.mark.usefixtures("test_kind")


def deliveries(db: Database, job_id: Any) -> list[dict[str, Any]]:
    """The delivery jobs of one job's events."""
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT d.* FROM scheduled_jobs AS d JOIN events AS e ON e.id = d.event_id"
            " WHERE e.job_id = %s ORDER BY d.job_type, d.delivery_key",
            [job_id],
        ).fetchall()


def notifications_of(db: Database, user_id: Any) -> list[dict[str, Any]]:
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT * FROM notifications WHERE user_id = %s ORDER BY created_at", [user_id]
        ).fetchall()


def test_a_failure_becomes_one_in_app_delivery_however_often_it_is_dispatched(
    db: Database, settings: Settings, org: Org
) -> None:
    [job_id] = add_jobs(db, org, options={"fail": "the source was empty"})
    run_job(db, settings, org.id, job_id)
    assert dispatch_events(worker_database(settings), settings) >= 1
    with db.owner_connect() as conn:  # as if a second worker saw the events undispatched
        conn.execute("UPDATE events SET dispatched_at = NULL WHERE job_id = %s", [job_id])
    with db.tenant(org.id) as conn:
        assert dispatch_batch(conn, settings) >= 1
    [delivery] = deliveries(db, job_id)
    assert delivery["job_type"] == "notify_in_app"
    assert delivery["options"]["users"] == [str(org.member.user_id)]
    assert delivery["priority"] == 100
    done = run_job(db, settings, org.id, delivery["id"])
    assert done["status"] == "completed", done["error_message"]
    [note] = notifications_of(db, org.member.user_id)
    assert note["type"] == "job.failed"
    assert note["title"] == "Export of contacts failed: the source was empty"
    assert note["job_id"] == job_id


def test_a_completed_job_tells_its_creator_only_when_they_asked_for_all(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    [quiet] = add_jobs(db, org)
    run_job(db, settings, org.id, quiet)
    dispatch_events(worker_database(settings), settings)
    assert deliveries(db, quiet) == []
    answer = app_client.patch("/api/v1/me", json={"notify": "all"}, headers=org.member.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["notify"] == "all"
    [told] = add_jobs(db, org)
    run_job(db, settings, org.id, told)
    dispatch_events(worker_database(settings), settings)
    assert [d["job_type"] for d in deliveries(db, told)] == ["notify_in_app"]


def test_a_delivery_whose_worker_died_runs_again_and_tells_once(
    db: Database, settings: Settings, org: Org
) -> None:
    [job_id] = add_jobs(db, org, options={"fail": "no"})
    run_job(db, settings, org.id, job_id)
    dispatch_events(worker_database(settings), settings)
    [delivery] = deliveries(db, job_id)
    # a first worker claimed it and died: its lease runs out, the sweep gives it back
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'processing', attempts = 1, worker_id = 'dead',"
            " lease_expires_at = now() - interval '1 second' WHERE id = %s",
            [delivery["id"]],
        )
    engine.recover_expired(worker_database(settings))
    with db.owner_connect() as conn:  # past its backoff
        conn.execute(
            "UPDATE scheduled_jobs SET scheduled_time = now() WHERE id = %s", [delivery["id"]]
        )
    done = run_job(db, settings, org.id, delivery["id"])
    assert (done["status"], done["attempts"]) == ("completed", 2)
    assert done["event_id"] == delivery["event_id"]
    # and were it delivered once more (its completion lost), nobody is told twice
    with db.owner_connect() as conn:
        conn.execute("UPDATE scheduled_jobs SET status = 'pending' WHERE id = %s", [delivery["id"]])
    run_job(db, settings, org.id, delivery["id"])
    notes = notifications_of(db, org.member.user_id)
    assert [n["event_id"] for n in notes] == [delivery["event_id"]]


def test_deliveries_are_not_jobs_anyone_lists_or_creates(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    [job_id] = add_jobs(db, org, options={"fail": "no"})
    run_job(db, settings, org.id, job_id)
    dispatch_events(worker_database(settings), settings)
    [delivery] = deliveries(db, job_id)
    listed = app_client.get("/api/v1/jobs?limit=200", headers=org.admin.headers).json()["items"]
    assert str(delivery["id"]) not in {j["id"] for j in listed}
    assert str(job_id) in {j["id"] for j in listed}
    body = {"job_type": "notify_in_app", "data_type": "contacts"}
    refused = app_client.post("/api/v1/jobs", json=body, headers=org.member.headers)
    assert refused.status_code == 422, refused.text


def test_a_backlog_larger_than_a_batch_is_dispatched_in_one_round(
    db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, n=25, at="2099-01-01T00:00:00Z")
    with db.owner_connect() as conn:  # only this test's events are waiting
        conn.execute("UPDATE events SET dispatched_at = now() WHERE dispatched_at IS NULL")
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'failed', completed_at = now() WHERE id = ANY(%s)",
            [ids],
        )
    dispatch_events(worker_database(settings), settings, limit=10)
    with db.owner_connect() as conn:
        left = conn.execute(
            "SELECT count(*) AS n FROM events WHERE job_id = ANY(%s) AND dispatched_at IS NULL",
            [ids],
        ).fetchone()
        made = conn.execute(
            "SELECT count(*) AS n FROM scheduled_jobs d JOIN events e ON e.id = d.event_id"
            " WHERE e.job_id = ANY(%s)",
            [ids],
        ).fetchone()
    assert left is not None and left["n"] == 0
    assert made is not None and made["n"] == 25  # one in-app delivery each
