"""Schedules that fail keep nobody in the dark: their tally of failures in a row and last
outcome; mail to their notify addresses when the outcome changes (a first failure, a
recovery); paused after CRMFERRY_SCHEDULE_MAX_FAILURES failures in a row, with a
schedule.paused event for the owner and the admins; enabling again resets the count."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.firing import fire_due_schedules
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.jobs.test_schedules import make_due, schedule_body
from tests.notify.smtp_server import smtp_server
from tests.notify.test_mail import deliver

pytestmark = pytest.mark.usefixtures("test_kind")


def run_once(
    db: Database, settings: Settings, org: Org, schedule_id: str, hour: int, fail: bool
) -> dict[str, Any]:
    """One occurrence of the schedule, run to its end; the schedule afterwards."""
    with db.owner_connect() as conn:
        options = {"fail": "the feed was empty"} if fail else {}
        conn.execute(
            "UPDATE schedules SET options = %s WHERE id = %s", [Jsonb(options), schedule_id]
        )
    make_due(db, schedule_id, f"2020-01-06T{hour:02d}:00:00Z")
    fire_due_schedules(worker_database(settings), settings)
    with db.owner_connect() as conn:
        job = conn.execute(
            "SELECT job_id FROM schedule_occurrences WHERE schedule_id = %s AND fire_at = %s",
            [schedule_id, f"2020-01-06T{hour:02d}:00:00Z"],
        ).fetchone()
        assert job is not None and job["job_id"] is not None
    run_job(db, settings, org.id, job["job_id"])
    with db.owner_connect() as conn:
        row = conn.execute("SELECT * FROM schedules WHERE id = %s", [schedule_id]).fetchone()
    assert row is not None
    return row


def test_failures_in_a_row_pause_the_schedule_and_changes_are_mailed(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    body = schedule_body(cron="0 * * * *", timezone="UTC", notify={"emails": ["ops@example.com"]})
    made = app_client.post("/api/v1/schedules", json=body, headers=org.member.headers)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert schedule["notify"] == {"emails": ["ops@example.com"]}
    with smtp_server() as (inbox, url):
        mail = settings.model_copy(update={"smtp_url": url})
        for hour in range(4):
            row = run_once(db, mail, org, schedule["id"], hour, fail=True)
        assert (row["consecutive_failures"], row["last_outcome"], row["enabled"]) == (
            4,
            "failed",
            True,
        )
        row = run_once(db, mail, org, schedule["id"], 4, fail=False)
        assert (row["consecutive_failures"], row["last_outcome"]) == (0, "completed")
        for hour in range(5, 10):
            row = run_once(db, mail, org, schedule["id"], hour, fail=True)
        assert (row["consecutive_failures"], row["enabled"]) == (5, False)
        assert row["paused_reason"].startswith("Paused after 5 failed runs in a row")
        deliver(db, mail, org)
        subjects = [m["Subject"] for m in inbox.to("ops@example.com")]
        paused = "[CRM Ferry] Schedule “Nightly contacts” paused"
        for who in (org.admin, org.member):  # the admins and the owner, by mail as well
            assert paused in [m["Subject"] for m in inbox.to(who.email)]
        [told] = [m for m in inbox.to(org.admin.email) if m["Subject"] == paused]
        text = told.get_body(preferencelist=("plain",))
        assert text is not None and "Paused after 5 failed runs in a row" in text.get_content()
    assert subjects.count("[CRM Ferry] Export of contacts failed: the feed was empty") == 2
    assert subjects.count("[CRM Ferry] Export of contacts completed: 1 row") == 1
    assert "[CRM Ferry] Schedule “Nightly contacts” paused" in subjects
    assert len(subjects) == 4  # not every failure: the first, the recovery, the next, the pause
    deliver(db, mail, org, job_type="notify_in_app")
    for who in (org.admin, org.member):
        bell = app_client.get("/api/v1/notifications", headers=who.headers).json()
        assert "schedule.paused" in [n["type"] for n in bell["items"]]
    api = app_client.get(f"/api/v1/schedules/{schedule['id']}", headers=org.member.headers).json()
    assert (api["consecutive_failures"], api["last_outcome"], api["enabled"]) == (
        5,
        "failed",
        False,
    )
    again = app_client.patch(
        f"/api/v1/schedules/{schedule['id']}", json={"enabled": True}, headers=org.member.headers
    ).json()
    assert (again["consecutive_failures"], again["paused_reason"], again["enabled"]) == (
        0,
        None,
        True,
    )


def test_a_scheduled_export_that_succeeds_mails_its_recipients_one_that_fails_tells_in_app(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    body = schedule_body(cron="0 * * * *", timezone="UTC", notify={"emails": ["ops@example.com"]})
    schedule = app_client.post("/api/v1/schedules", json=body, headers=org.member.headers).json()
    with smtp_server() as (inbox, url):
        mail = settings.model_copy(update={"smtp_url": url})
        run_once(db, mail, org, schedule["id"], 1, fail=False)
        deliver(db, mail, org)
        [done] = inbox.to("ops@example.com")
        assert done["Subject"] == "[CRM Ferry] Export of contacts completed: 1 row"
        run_once(db, mail, org, schedule["id"], 2, fail=False)  # the same again: no mail
        run_once(db, mail, org, schedule["id"], 3, fail=True)
        deliver(db, mail, org)
        deliver(db, mail, org, job_type="notify_in_app")
        subjects = [m["Subject"] for m in inbox.to("ops@example.com")]
        assert subjects[1:] == ["[CRM Ferry] Export of contacts failed: the feed was empty"]
        assert len(inbox.to(org.member.email)) == 1  # the owner, by the default preference
    bell = app_client.get("/api/v1/notifications", headers=org.member.headers).json()
    assert [n["title"] for n in bell["items"]] == ["Export of contacts failed: the feed was empty"]
