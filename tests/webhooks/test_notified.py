"""The jobs page's "Notified" (GET /jobs/{id}/deliveries) for webhooks: each attempt
shows the endpoint's URL and its real outcome (a 500 is failed, though its job
completed), against a real receiver on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.notify.dispatch import dispatch_events
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.webhooks.conftest import create_hook
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import pending_deliveries, run_pending

EXPORT = {"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}}


def _notified(client: TestClient, org: Org, job_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/jobs/{job_id}/deliveries", headers=org.member.headers)
    assert answer.status_code == 200, answer.text
    return [d for d in answer.json()["items"] if d["channel"] == "webhooks"]


def test_a_webhook_attempt_shows_its_endpoint_and_a_failure_as_failed(
    app_client: TestClient, db: Database, settings: Settings, org: Org, hook_receiver: Receiver
) -> None:
    hook = create_hook(app_client, org, hook_receiver.url, ["job.completed"])
    hook_receiver.replies = [(500, {}, b"down"), (200, {}, b"")]
    job = app_client.post("/api/v1/jobs", json=EXPORT, headers=org.member.headers).json()
    run_job(db, settings, org.id, job["id"])
    dispatch_events(worker_database(settings), settings)
    run_pending(db, settings, org)  # the 500: the next attempt is queued for later
    first, queued = _notified(app_client, org, job["id"])
    assert first["recipient"] == hook["url"] == hook_receiver.url
    assert (first["status"], first["attempts"], first["delivered_at"]) == ("failed", 1, None)
    assert "HTTP 500" in first["error_message"]
    assert (queued["recipient"], queued["status"], queued["attempts"]) == (
        hook_receiver.url,
        "pending",
        2,
    )
    [retry] = pending_deliveries(db, org)
    with db.owner_connect() as conn:  # its time has come
        conn.execute(
            "UPDATE scheduled_jobs SET scheduled_time = now() WHERE id = %s", [retry["id"]]
        )
    run_pending(db, settings, org)
    failed, sent = _notified(app_client, org, job["id"])
    assert failed == first
    assert (sent["recipient"], sent["status"], sent["attempts"]) == (
        hook_receiver.url,
        "completed",
        2,
    )
    assert sent["delivered_at"] is not None
    assert len(hook_receiver.received) == 2
    # an endpoint deleted since: its URL is still shown, from the delivery's name
    deleted = app_client.delete(f"/api/v1/webhooks/{hook['id']}", headers=org.admin.headers)
    assert deleted.status_code == 204
    assert [d["recipient"] for d in _notified(app_client, org, job["id"])] == [
        hook_receiver.url
    ] * 2
