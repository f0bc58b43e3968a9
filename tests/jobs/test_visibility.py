"""What users and operators see: the SSE stream, /metrics, and retention pruning."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.retention import prune_finished_jobs
from tests.conftest import Org
from tests.jobs.conftest import add_jobs, jobs_of
from tests.stored import put_stored, stored_keys


def test_events_stream_sends_own_organizations_job_changes(
    live_url: str, make_org: Any, db: Database
) -> None:
    mine, theirs = make_org("Watcher"), make_org("Hidden")
    received: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET", live_url + "/api/v1/events", headers=mine.viewer.headers, timeout=20
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "job":
                    received.append(json.loads(line.removeprefix("data: ")))
                    if received[-1]["status"] == "cancelled":
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(15)
    add_jobs(db, theirs, 1)
    (job_id,) = add_jobs(db, mine, 1, at="2099-01-01T00:00:00Z")
    deadline = time.monotonic() + 15
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    with db.tenant(mine.id) as conn:
        conn.execute("UPDATE scheduled_jobs SET status = 'cancelled' WHERE id = %s", [job_id])
    thread.join(15)
    assert [(e["id"], e["status"]) for e in received] == [
        (str(job_id), "pending"),
        (str(job_id), "cancelled"),
    ]
    assert all(e["organization_id"] == str(mine.id) for e in received)


def test_events_need_authentication(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/events").status_code == 401


def test_metrics_expose_jobs_by_status_and_queue_lag(
    app_client: TestClient, org: Org, db: Database
) -> None:
    add_jobs(db, org, 2, at="2000-01-01T00:00:00Z")
    text = app_client.get("/metrics").text
    assert "# TYPE crmferry_jobs gauge" in text
    pending = next(line for line in text.splitlines() if 'crmferry_jobs{status="pending"}' in line)
    assert float(pending.split()[-1]) >= 2
    lag = next(line for line in text.splitlines() if line.startswith("crmferry_queue_lag_seconds"))
    assert float(lag.split()[-1]) > 3600  # due since 2000
    assert "crmferry_job_run_seconds_count" in text
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'cancelled', completed_at = now()"
            " WHERE scheduled_time = '2000-01-01T00:00:00Z' AND status = 'pending'"
        )


@pytest.mark.usefixtures("each_backend")
def test_retention_prunes_old_finished_jobs_and_their_files(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    old, recent, waiting = add_jobs(db, org, 3)
    put_stored(settings, f"jobs/{org.id}/{old}/result.csv", b"x")
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'completed', completed_at = now() - %s::interval,"
            " result_path = %s WHERE id = %s",
            [f"{settings.retention_days + 1} days", f"jobs/{org.id}/{old}/result.csv", old],
        )
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'failed', completed_at = now() - interval '1 day'"
            " WHERE id = %s",
            [recent],
        )
    assert prune_finished_jobs(worker_db, settings, batch=1) >= 1
    assert {r["id"] for r in jobs_of(db, [old, recent, waiting])} == {recent, waiting}
    assert stored_keys(settings, f"jobs/{org.id}/{old}") == []
