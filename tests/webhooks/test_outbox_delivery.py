"""Webhooks as a channel of the outbox: a job's event reaches the endpoints subscribed
to it through the dispatch; an endpoint disabled tells the admins in the app; and a
worker killed in the middle of a delivery loses no event."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient
from standardwebhooks import Webhook as Verifier

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.notify.dispatch import dispatch_events
from tests.conftest import TEST_SECRET, Org
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import wait_until
from tests.webhooks.conftest import create_hook
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import deliveries, pending_deliveries, run_pending

EXPORT = {"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}}


def test_a_job_event_reaches_the_subscribed_endpoints_only(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    from tests.webhooks.receiver import receiver

    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    with receiver() as other:
        create_hook(app_client, org, other.url, ["job.failed"])
        job = app_client.post("/api/v1/jobs", json=EXPORT, headers=org.member.headers).json()
        run_job(db, settings, org.id, job["id"])
        dispatch_events(worker_database(settings), settings)
        dispatch_events(worker_database(settings), settings)  # again: nothing twice
        assert len(pending_deliveries(db, org)) == 1
        run_pending(db, settings, org)
        assert other.received == []
    [got] = hook_receiver.received
    event = Verifier(hook["secret"]).verify(got.body, got.headers)
    assert event["type"] == "job.completed"
    shown = app_client.get(f"/api/v1/jobs/{job['id']}", headers=org.member.headers).json()
    assert event["data"]["id"] == job["id"] and event["data"]["status"] == "completed"
    assert event["data"]["result_url"] == shown["result_url"]
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT id FROM events WHERE job_id = %s AND type = 'job.completed'", [job["id"]]
        ).fetchone()
    assert row is not None and got.headers["webhook-id"] == str(row["id"])


def test_a_disabled_endpoint_tells_the_admins_in_the_app(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    hook_receiver.replies = [(410, {}, b"")]
    job = app_client.post("/api/v1/jobs", json=EXPORT, headers=org.member.headers).json()
    run_job(db, settings, org.id, job["id"])
    dispatch_events(worker_database(settings), settings)
    run_pending(db, settings, org)  # the 410
    dispatch_events(worker_database(settings), settings)  # webhook.disabled → the admins
    with db.tenant(org.id) as conn:
        [told] = conn.execute(
            "SELECT * FROM scheduled_jobs WHERE job_type = 'notify_admins'"
        ).fetchall()
    run_job(db, settings, org.id, told["id"])
    notes = app_client.get("/api/v1/notifications", headers=org.admin.headers).json()["items"]
    assert [n["type"] for n in notes] == ["webhook.disabled"]
    assert "disabled" in notes[0]["title"] and "410" in notes[0]["body"]
    member_notes = app_client.get("/api/v1/notifications", headers=org.member.headers).json()
    assert all(n["type"] != "webhook.disabled" for n in member_notes["items"])


def _worker(settings: Settings, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_OUTBOUND_ALLOW": "127.0.0.1",
        "CRMFERRY_LEASE_SECONDS": "3",
        "CRMFERRY_POLL_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "crmferry", "worker"], env=env, stdout=log, stderr=log
    )


def test_a_worker_killed_mid_delivery_loses_no_event(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    hook_receiver: Receiver,
    tmp_path: Any,
) -> None:
    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    hook_receiver.stall = [60.0]  # the first delivery hangs: its worker dies meanwhile
    log = (tmp_path / "workers.log").open("ab")
    first = _worker(settings, log)
    second = None
    try:
        job = app_client.post("/api/v1/jobs", json=EXPORT, headers=org.member.headers).json()
        hook_receiver.wait_for(1, timeout=90)
        assert len(hook_receiver.received) == 1, "the first worker never delivered"
        first.kill()  # SIGKILL in the middle of the POST
        first.wait(10)
        assert deliveries(app_client, org, hook) == []  # that attempt never committed
        second = _worker(settings, log)
        wait_until(lambda: len(hook_receiver.received) >= 2, 90, "the second delivery")
        wait_until(lambda: len(deliveries(app_client, org, hook)) == 1, 30, "its log entry")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(40)
        log.close()
    a, b = hook_receiver.received[:2]
    assert a.headers["webhook-id"] == b.headers["webhook-id"]
    for got in (a, b):
        assert Verifier(hook["secret"]).verify(got.body, got.headers)["data"]["id"] == job["id"]
    [attempt] = deliveries(app_client, org, hook)
    assert attempt["status"] == "succeeded" and attempt["event_id"] == a.headers["webhook-id"]


def test_a_large_export_tells_the_admins_in_the_app(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    small = settings.model_copy(update={"export_alert_rows": 1})
    with db.owner_connect() as conn:
        for n in range(2):
            conn.execute(
                "INSERT INTO contacts (organization_id, name, email) VALUES (%s, %s, %s)",
                [org.id, f"C {n}", f"big{n}@example.com"],
            )
    job = app_client.post("/api/v1/jobs", json=EXPORT, headers=org.member.headers).json()
    run_job(db, small, org.id, job["id"])
    dispatch_events(worker_database(settings), settings)
    with db.tenant(org.id) as conn:
        [told] = conn.execute(
            "SELECT * FROM scheduled_jobs WHERE job_type = 'notify_admins'"
        ).fetchall()
    run_job(db, settings, org.id, told["id"])
    notes = app_client.get("/api/v1/notifications", headers=org.admin.headers).json()["items"]
    large = [n for n in notes if n["type"] == "export.large"]
    assert len(large) == 1 and large[0]["job_id"] == job["id"]
    assert "2 contacts" in large[0]["title"]
