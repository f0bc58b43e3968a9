"""GET /notifications, mark read, mark all read: each member sees their own only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.notify.dispatch import dispatch_events
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import add_jobs

pytestmark = pytest.mark.usefixtures("test_kind")


def fail_and_tell(db: Database, settings: Settings, org: Org, n: int) -> list[Any]:
    """n failed jobs of the member, each delivered to the bell."""
    ids = add_jobs(db, org, n=n, options={"fail": "broken"})
    for job_id in ids:
        run_job(db, settings, org.id, job_id)
    dispatch_events(worker_database(settings), settings)
    with db.owner_connect() as conn:
        deliveries = conn.execute(
            "SELECT d.id FROM scheduled_jobs d JOIN events e ON e.id = d.event_id"
            " WHERE e.job_id = ANY(%s)",
            [ids],
        ).fetchall()
    for row in deliveries:
        run_job(db, settings, org.id, row["id"])
    return ids


def test_the_list_pages_counts_and_marks_read(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    ids = fail_and_tell(db, settings, org, 3)
    headers = org.member.headers
    first = app_client.get("/api/v1/notifications?limit=2", headers=headers).json()
    assert first["unread_count"] == 3
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = app_client.get(
        f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}", headers=headers
    ).json()
    items = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert {i["job_id"] for i in items} == {str(i) for i in ids}
    assert set(items[0]) >= {"id", "type", "title", "body", "job_id", "created_at", "read_at"}
    read = app_client.post(f"/api/v1/notifications/{items[0]['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"]
    unread = app_client.get("/api/v1/notifications?unread=true", headers=headers).json()
    assert unread["unread_count"] == 2 and len(unread["items"]) == 2
    marked = app_client.post("/api/v1/notifications/read-all", headers=headers).json()
    assert marked == {"marked": 2, "unread_count": 0}


def test_nobody_reads_or_marks_anyone_elses(
    app_client: TestClient, db: Database, settings: Settings, make_org: Any
) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    fail_and_tell(db, settings, mine, 1)
    [note] = app_client.get("/api/v1/notifications", headers=mine.member.headers).json()["items"]
    for who in (mine.admin, theirs.member):
        listed = app_client.get("/api/v1/notifications", headers=who.headers).json()
        assert listed["items"] == [] and listed["unread_count"] == 0
        answer = app_client.post(f"/api/v1/notifications/{note['id']}/read", headers=who.headers)
        assert answer.status_code == 404
    bad = app_client.get("/api/v1/notifications?cursor=nonsense", headers=mine.member.headers)
    assert bad.status_code == 422


def test_notifications_are_row_secured_for_the_application_role(
    db: Database, settings: Settings, make_org: Any
) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    fail_and_tell(db, settings, mine, 1)
    with db.tenant(theirs.id) as conn:
        assert conn.execute("SELECT * FROM notifications").fetchall() == []
        marked = conn.execute("UPDATE notifications SET read_at = now() RETURNING id").fetchall()
        assert marked == []
    with db.tenant(mine.id) as conn:
        [row] = conn.execute("SELECT * FROM notifications").fetchall()
        assert row["user_id"] == mine.member.user_id and row["read_at"] is None
