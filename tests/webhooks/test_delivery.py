"""Deliveries to a real HTTP receiver on 127.0.0.1, each signature verified by the
official `standardwebhooks` package: success, retries with the same webhook-id,
Retry-After, 410, disabling after failing too long, rotation, replay."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.jobrun import run_job
from tests.webhooks.conftest import create_hook
from tests.webhooks.receiver import Receiver


def send_test(client: TestClient, org: Org, hook: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=org.admin.headers)
    assert response.status_code == 202, response.text
    queued: dict[str, Any] = response.json()
    return queued


def deliveries(client: TestClient, org: Org, hook: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def pending_deliveries(db: Database, org: Org) -> list[dict[str, Any]]:
    with db.tenant(org.id) as conn:
        return conn.execute(
            "SELECT * FROM scheduled_jobs WHERE job_type = 'webhook_delivery'"
            " AND status = 'pending' ORDER BY created_at"
        ).fetchall()


def queue_event(db: Database, settings: Settings, org: Org, event_type: str) -> str:
    """An event written to the outbox, and its deliveries queued (as the dispatch does)."""
    from crmferry.notify.events import write_event
    from crmferry.webhooks.events import deliver_event

    with db.tenant(org.id) as conn:
        event = write_event(conn, event_type, {"id": "job-1", "status": "completed"})
        conn.execute(
            "UPDATE events SET created_at = '2026-01-02T03:04:05+00:00' WHERE id = %s",
            [event["id"]],
        )
        event["created_at"] = datetime.fromisoformat("2026-01-02T03:04:05+00:00")
        deliver_event(conn, settings, event)
    return str(event["id"])


def run_pending(db: Database, settings: Settings, org: Org) -> None:
    for job in pending_deliveries(db, org):
        run_job(db, settings, org.id, job["id"])


def test_a_delivery_is_signed_as_the_standard_says(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    event_id = queue_event(db, settings, org, "job.completed")
    queue_event(db, settings, org, "job.failed")  # not subscribed: nothing queued
    [job] = pending_deliveries(db, org)
    run_pending(db, settings, org)
    with db.owner_connect() as conn:  # a delivery tells nobody of itself (no event loop)
        told = conn.execute("SELECT count(*) AS n FROM events WHERE job_id = %s", [job["id"]])
        assert told.fetchone() == {"n": 0}

    [got] = hook_receiver.received
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == event_id
    assert got.headers["webhook-timestamp"].isdigit()
    payload = Verifier(hook["secret"]).verify(got.body, got.headers)
    assert payload == {
        "type": "job.completed",
        "timestamp": "2026-01-02T03:04:05+00:00",
        "data": {"id": "job-1", "status": "completed"},
    }
    with pytest.raises(WebhookVerificationError):
        Verifier("whsec_" + "QUJD" * 8).verify(got.body, got.headers)
    [attempt] = deliveries(app_client, org, hook)
    assert attempt["status"] == "succeeded" and attempt["attempt"] == 1
    assert attempt["event_id"] == event_id and attempt["response_status"] == 200
    assert attempt["response_excerpt"] == "ok" and attempt["duration_ms"] >= 0


def test_failures_are_retried_with_the_same_webhook_id(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    fast = settings.model_copy(update={"webhook_retry_seconds": "0,0,0"})
    hook = create_hook(app_client, org, hook_receiver.url, ["job.failed"])
    hook_receiver.replies = [(500, {}, b"boom " * 500), (502, {}, b""), (200, {}, b"fine")]
    event_id = queue_event(db, settings, org, "job.failed")
    for _ in range(3):
        run_pending(db, fast, org)

    assert len(hook_receiver.received) == 3
    for got in hook_receiver.received:
        assert got.headers["webhook-id"] == event_id
        Verifier(hook["secret"]).verify(got.body, got.headers)
    assert len({got.body for got in hook_receiver.received}) == 1  # the same body each time
    log = deliveries(app_client, org, hook)
    assert [(d["attempt"], d["status"], d["response_status"]) for d in log] == [
        (3, "succeeded", 200),
        (2, "retrying", 502),
        (1, "retrying", 500),
    ]
    assert len(log[2]["response_excerpt"].encode()) <= 1024
    assert log[1]["next_attempt_at"] is not None and log[0]["next_attempt_at"] is None
    assert pending_deliveries(db, org) == []
    one = app_client.get(f"/api/v1/webhooks/{hook['id']}", headers=org.admin.headers).json()
    assert one["failing_since"] is None  # the success ended the failing streak


def test_attempts_stop_when_the_schedule_ends(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    fast = settings.model_copy(update={"webhook_retry_seconds": "0"})
    hook = create_hook(app_client, org, hook_receiver.url, ["job.failed"])
    hook_receiver.replies = [(500, {}, b"")] * 5
    queue_event(db, settings, org, "job.failed")
    for _ in range(3):
        run_pending(db, fast, org)
    assert len(hook_receiver.received) == 2
    assert [d["status"] for d in deliveries(app_client, org, hook)] == ["failed", "retrying"]


def test_retry_after_is_honoured(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    fast = settings.model_copy(update={"webhook_retry_seconds": "0"})
    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    hook_receiver.replies = [(429, {"Retry-After": "120"}, b"slow down")]
    queue_event(db, settings, org, "job.completed")
    run_pending(db, fast, org)
    [attempt] = deliveries(app_client, org, hook)
    assert attempt["status"] == "retrying" and attempt["response_status"] == 429
    wait = datetime.fromisoformat(attempt["next_attempt_at"]) - datetime.fromisoformat(
        attempt["created_at"]
    )
    assert 119 <= wait.total_seconds() <= 121
    [queued] = pending_deliveries(db, org)
    assert queued["options"]["attempt"] == 2
    assert (
        abs(
            (
                queued["scheduled_time"] - datetime.fromisoformat(attempt["next_attempt_at"])
            ).total_seconds()
        )
        < 1
    )


def test_410_disables_the_endpoint_and_tells_the_others(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    from tests.webhooks.receiver import receiver

    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed", "webhook.disabled"])
    hook_receiver.replies = [(410, {}, b"gone")]
    with receiver() as watcher:
        watching = create_hook(app_client, org, watcher.url, ["webhook.disabled"])
        queue_event(db, settings, org, "job.completed")
        run_pending(db, settings, org)  # the 410
        run_pending(db, settings, org)  # the webhook.disabled event to the other endpoint
        [told] = watcher.received
    event = Verifier(watching["secret"]).verify(told.body, told.headers)
    assert event["type"] == "webhook.disabled"
    assert event["data"]["id"] == hook["id"] and event["data"]["enabled"] is False
    one = app_client.get(f"/api/v1/webhooks/{hook['id']}", headers=org.admin.headers).json()
    assert one["enabled"] is False and "410" in one["disabled_reason"]
    assert len(hook_receiver.received) == 1  # the disabled endpoint is not told about itself
    queue_event(db, settings, org, "job.completed")
    assert pending_deliveries(db, org) == []  # nothing more goes to a disabled endpoint
    enabled = app_client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}, headers=org.admin.headers
    ).json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None


def test_failing_for_too_long_disables(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    strict = settings.model_copy(update={"webhook_disable_after_seconds": 0})
    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    hook_receiver.replies = [(500, {}, b"")]
    queue_event(db, settings, org, "job.completed")
    run_pending(db, strict, org)
    one = app_client.get(f"/api/v1/webhooks/{hook['id']}", headers=org.admin.headers).json()
    assert one["enabled"] is False and "failed for" in one["disabled_reason"]
    assert pending_deliveries(db, org) == []


def test_after_rotation_both_secrets_verify(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    hook = create_hook(app_client, org, hook_receiver.url)
    rotated = app_client.post(
        f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=org.admin.headers
    ).json()
    send_test(app_client, org, hook)
    run_pending(db, settings, org)
    [got] = hook_receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], rotated["secret"]):
        assert Verifier(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    # once the overlap is over, only the new secret signs
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE webhooks SET previous_secret_until = now() - interval '1 second' WHERE id = %s",
            [hook["id"]],
        )
    send_test(app_client, org, hook)
    run_pending(db, settings, org)
    later = hook_receiver.received[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    Verifier(rotated["secret"]).verify(later.body, later.headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(hook["secret"]).verify(later.body, later.headers)


def test_replay_sends_the_same_event_again(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    hook = create_hook(app_client, org, hook_receiver.url)
    event_id = queue_event(db, settings, org, "job.completed")
    run_pending(db, settings, org)
    [first] = deliveries(app_client, org, hook)
    replayed = app_client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{first['id']}/replay",
        headers=org.admin.headers,
    )
    assert replayed.status_code == 202 and replayed.json()["event_id"] == event_id
    run_pending(db, settings, org)
    a, b = hook_receiver.received
    assert a.headers["webhook-id"] == b.headers["webhook-id"] == event_id
    assert json.loads(a.body) == json.loads(b.body)
    newest = deliveries(app_client, org, hook)[0]
    assert newest["replay"] is True and newest["status"] == "succeeded"
    missing = app_client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{hook['id']}/replay",
        headers=org.admin.headers,
    )
    assert missing.status_code == 404


def test_an_unreachable_endpoint_is_a_failed_attempt(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = create_hook(app_client, org, f"http://127.0.0.1:{port}/hook")
    send_test(app_client, org, hook)
    run_pending(db, settings, org)
    [attempt] = deliveries(app_client, org, hook)
    assert attempt["status"] == "failed" and attempt["response_status"] is None
    assert "could not be reached" in attempt["error"]


def test_a_large_export_tells_the_endpoints(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    small = settings.model_copy(update={"export_alert_rows": 2})
    hook = create_hook(app_client, org, hook_receiver.url, ["export.large"])
    with db.owner_connect() as conn:
        for n in range(3):
            conn.execute(
                "INSERT INTO contacts (organization_id, name, email) VALUES (%s, %s, %s)",
                [org.id, f"C {n}", f"c{n}@example.com"],
            )
    body = {"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}}
    under = app_client.post("/api/v1/jobs", json=body, headers=org.member.headers).json()
    run_job(db, settings, org.id, under["id"])  # 3 rows, the default threshold: no event
    assert pending_deliveries(db, org) == []
    job = app_client.post("/api/v1/jobs", json=body, headers=org.member.headers).json()
    assert run_job(db, small, org.id, job["id"])["status"] == "completed"
    run_pending(db, settings, org)
    [got] = hook_receiver.received
    event = Verifier(hook["secret"]).verify(got.body, got.headers)
    assert event["type"] == "export.large"
    assert event["data"]["job_id"] == job["id"] and event["data"]["record_count"] == 3
    assert event["data"]["threshold"] == 2
    assert event["data"]["created_by"] == str(org.member.user_id)


def test_the_guard_is_applied_again_at_each_attempt(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    hook = create_hook(app_client, org, "https://example.com/hook")
    with db.owner_connect() as conn:  # as if its name now resolved to an internal address
        conn.execute("UPDATE webhooks SET url = 'http://10.1.2.3/x' WHERE id = %s", [hook["id"]])
    send_test(app_client, org, hook)
    run_pending(db, settings, org)
    [attempt] = deliveries(app_client, org, hook)
    assert attempt["status"] == "failed" and attempt["response_status"] is None
    assert "refused" in attempt["error"] and "10.1.2.3" in attempt["error"]


def test_the_delivery_log_keeps_the_retention_period(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    hook = create_hook(app_client, org, hook_receiver.url)
    send_test(app_client, org, hook)
    run_pending(db, settings, org)
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET created_at = now() - make_interval(days => %s)"
            " WHERE webhook_id = %s",
            [settings.retention_days + 1, hook["id"]],
        )
    send_test(app_client, org, hook)
    run_pending(db, settings, org)
    assert len(deliveries(app_client, org, hook)) == 1  # the old attempt is gone
