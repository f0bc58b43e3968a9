"""Members who leave lose everything at once: a schedule whose owner was removed or made
a viewer never runs as them. It is paused with a reason, makes no job, and the admins
are told in the app; whoever edits it becomes its owner."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.firing import fire_due_schedules
from crmferry.notify.dispatch import dispatch_events
from tests.conftest import Org
from tests.jobrun import run_job
from tests.jobs.test_schedules import make_due, occurrence_jobs, schedule_body


def member_schedule(app_client: TestClient, org: Org) -> dict[str, Any]:
    made = app_client.post(
        "/api/v1/schedules",
        json=schedule_body(cron="0 * * * *", timezone="UTC"),
        headers=org.member.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == str(org.member.user_id)
    assert made.json()["owner_name"] == "Member User"
    return made.json()  # type: ignore[no-any-return]


def tell_admins(db: Database, worker_db: Database, settings: Settings, org: Org) -> None:
    dispatch_events(worker_db, settings)
    with db.owner_connect() as conn:
        pending = conn.execute(
            "SELECT id FROM scheduled_jobs WHERE organization_id = %s AND status = 'pending'"
            " AND job_type = 'notify_in_app'",
            [str(org.id)],
        ).fetchall()
    for row in pending:
        run_job(db, settings, org.id, row["id"])


@pytest.mark.parametrize("departure", ["removed", "made a viewer"])
def test_a_departed_owners_schedule_is_paused_makes_no_job_and_admins_are_told(
    app_client: TestClient,
    db: Database,
    worker_db: Database,
    settings: Settings,
    org: Org,
    departure: str,
) -> None:
    schedule = member_schedule(app_client, org)
    url = f"/api/v1/members/{org.member.user_id}"
    if departure == "removed":
        gone = app_client.delete(url, headers=org.admin.headers)
    else:
        gone = app_client.patch(url, json={"role": "viewer"}, headers=org.admin.headers)
    assert gone.status_code in (200, 204), gone.text
    make_due(db, schedule["id"], "2020-01-06T08:00:00Z")
    fire_due_schedules(worker_db, settings)
    assert occurrence_jobs(db, schedule["id"]) == []
    after = app_client.get(f"/api/v1/schedules/{schedule['id']}", headers=org.admin.headers)
    assert after.json()["enabled"] is False
    assert "no longer a member who may create jobs" in after.json()["paused_reason"]
    with db.owner_connect() as conn:
        [event] = conn.execute(
            "SELECT * FROM events WHERE schedule_id = %s", [schedule["id"]]
        ).fetchall()
    assert event["type"] == "schedule.paused"
    assert event["payload"]["enabled"] is False and event["payload"]["id"] == schedule["id"]
    # the payload is the schedule object (its owner's name aside, which RLS may hide)
    assert set(event["payload"]) == set(after.json()) - {"owner_name"}
    tell_admins(db, worker_db, settings, org)
    bell = app_client.get("/api/v1/notifications", headers=org.admin.headers).json()
    assert [n["type"] for n in bell["items"]] == ["schedule.paused"]
    assert bell["items"][0]["title"] == "Schedule “Nightly contacts” paused"
    assert bell["items"][0]["schedule_id"] == schedule["id"]
    if departure == "made a viewer":  # still a member, and the owner: told as well
        told = app_client.get("/api/v1/notifications", headers=org.member.headers).json()
        assert told["unread_count"] == 1


def test_whoever_edits_a_paused_schedule_owns_it_and_it_runs_as_them(
    app_client: TestClient, db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    schedule = member_schedule(app_client, org)
    app_client.delete(f"/api/v1/members/{org.member.user_id}", headers=org.admin.headers)
    refused = app_client.post(f"/api/v1/schedules/{schedule['id']}/run", headers=org.admin.headers)
    assert refused.status_code == 409, refused.text
    make_due(db, schedule["id"], "2020-01-06T08:00:00Z")
    fire_due_schedules(worker_db, settings)
    taken = app_client.patch(
        f"/api/v1/schedules/{schedule['id']}", json={"enabled": True}, headers=org.admin.headers
    ).json()
    assert taken["created_by"] == str(org.admin.user_id)
    assert taken["owner_name"] == "Admin User"
    assert (taken["enabled"], taken["paused_reason"]) == (True, None)
    make_due(db, schedule["id"], "2020-01-06T09:00:00Z")
    fire_due_schedules(worker_db, settings)
    [job] = occurrence_jobs(db, schedule["id"])
    assert job["created_by"] == org.admin.user_id
