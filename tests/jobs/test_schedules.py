"""Schedules through the API, and the scheduler: each occurrence one job, however many
fire at once; catch-up after downtime; run now."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.firing import fire_due_schedules
from tests.conftest import Org

pytestmark = pytest.mark.usefixtures("test_kind")


URL_SOURCE = {"type": "url", "url": "https://feeds.example/contacts.csv"}


def schedule_body(**more: Any) -> dict[str, Any]:
    export = more.get("job_type", "export") == "export"
    return {
        "name": "Nightly contacts",
        "job_type": "export",
        "data_type": "contacts",
        "options": {"format": "csv"} if export else {},
        "cron": "0 8 * * 1",
        "timezone": "Europe/Paris",
        **more,
    }


def test_create_schedule_returns_next_run_in_the_zone(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/schedules", json=schedule_body(), headers=org.member.headers
    )
    assert response.status_code == 201, response.text
    schedule = response.json()
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    local = next_run.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)
    assert next_run > datetime.now(UTC)
    listed = app_client.get("/api/v1/schedules", headers=org.viewer.headers).json()["items"]
    assert [s["id"] for s in listed] == [schedule["id"]]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"cron": "every monday"}, "cron", "not a cron expression"),
        ({"cron": "99 8 * * 1"}, "cron", "not a valid cron expression"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "Unknown time zone"),
        ({"name": ""}, "name", "name"),
        ({"job_type": "revert"}, "job_type", "must be one of export, import"),
        ({"job_type": "import", "source": {"type": "ftp"}}, "source", '{"type": "url"'),
        ({"job_type": "import"}, "source", "an import schedule needs a source"),
        ({"source": URL_SOURCE}, "source", "an export schedule has no source"),
        (
            {"job_type": "import", "source": {"type": "url", "url": "https://"}},
            "source",
            '"url": "https://..."',
        ),
        (
            {"job_type": "import", "source": URL_SOURCE, "options": {"mode": "merge"}},
            "options.mode",
            "'insert', 'update', 'upsert'",
        ),
        (
            {"job_type": "import", "source": URL_SOURCE, "mapping": {"Mail": "e-mail"}},
            "mapping.Mail",
            "'e-mail' is not one of the contacts fields",
        ),
        (
            {"job_type": "import", "source": URL_SOURCE, "mapping": {"Mail": "email"}},
            "mapping",
            "the required field 'name' (Name) is not mapped",
        ),
    ],
)
def test_bad_schedules_are_422_with_the_field(
    app_client: TestClient, org: Org, change: dict[str, Any], field: str, words: str
) -> None:
    response = app_client.post(
        "/api/v1/schedules", json=schedule_body(**change), headers=org.member.headers
    )
    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == field


def test_patch_pause_delete_and_tenancy(app_client: TestClient, make_org: Any) -> None:
    org, other = make_org("Sched"), make_org("Else")
    made = app_client.post("/api/v1/schedules", json=schedule_body(), headers=org.member.headers)
    url = f"/api/v1/schedules/{made.json()['id']}"
    paused = app_client.patch(url, json={"enabled": False}, headers=org.member.headers).json()
    assert paused["enabled"] is False and paused["next_run_at"] is None
    moved = app_client.patch(
        url,
        json={"enabled": True, "cron": "30 6 * * *", "timezone": "Asia/Tokyo"},
        headers=org.member.headers,
    ).json()
    assert datetime.fromisoformat(moved["next_run_at"]).astimezone(UTC).strftime("%H:%M") == "21:30"
    bad = app_client.patch(url, json={"cron": "nope"}, headers=org.member.headers)
    assert bad.status_code == 422
    assert app_client.get(url, headers=other.member.headers).status_code == 404
    assert app_client.patch(url, json={}, headers=org.viewer.headers).status_code == 403
    assert app_client.delete(url, headers=other.member.headers).status_code == 404
    assert app_client.delete(url, headers=org.member.headers).status_code == 204
    assert app_client.get(url, headers=org.member.headers).status_code == 404


def test_run_now_makes_one_job_even_when_paused(app_client: TestClient, org: Org) -> None:
    made = app_client.post(
        "/api/v1/schedules", json=schedule_body(enabled=False), headers=org.member.headers
    ).json()
    response = app_client.post(f"/api/v1/schedules/{made['id']}/run", headers=org.member.headers)
    assert response.status_code == 201
    job = response.json()
    assert str(job["schedule_id"]) == made["id"] and job["status"] == "pending"
    assert job["created_by"] == str(org.member.user_id)
    assert job["options"] == {"format": "csv"}
    again = app_client.get(f"/api/v1/schedules/{made['id']}", headers=org.member.headers).json()
    assert again["last_job_id"] == job["id"]


def make_due(db: Database, schedule_id: str, when: str) -> None:
    with db.owner_connect() as conn:
        conn.execute("UPDATE schedules SET next_run_at = %s WHERE id = %s", [when, schedule_id])


def occurrence_jobs(db: Database, schedule_id: str) -> list[dict[str, Any]]:
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT j.*, o.fire_at FROM schedule_occurrences o"
            " JOIN scheduled_jobs j ON j.id = o.job_id WHERE o.schedule_id = %s",
            [schedule_id],
        ).fetchall()


def test_many_schedulers_at_once_make_each_occurrence_once(
    app_client: TestClient, org: Org, db: Database, worker_db: Database, settings: Settings
) -> None:
    made = app_client.post(
        "/api/v1/schedules",
        json=schedule_body(cron="0 * * * *", timezone="UTC"),
        headers=org.member.headers,
    ).json()
    make_due(db, made["id"], "2020-01-06T08:00:00Z")
    barrier = threading.Barrier(8)

    def scheduler() -> None:
        barrier.wait()
        fire_due_schedules(worker_db, settings)

    threads = [threading.Thread(target=scheduler) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = occurrence_jobs(db, made["id"])
    assert len(jobs) == 1  # the missed hours since 2020 collapse into one catch-up run
    job = jobs[0]
    assert job["occurrence_at"] == job["fire_at"] == datetime(2020, 1, 6, 8, tzinfo=UTC)
    assert str(job["schedule_id"]) == made["id"] and job["job_type"] == "export"
    after = app_client.get(f"/api/v1/schedules/{made['id']}", headers=org.member.headers).json()
    next_run = datetime.fromisoformat(after["next_run_at"])
    assert next_run > datetime.now(UTC) and next_run.minute == 0
    fire_due_schedules(worker_db, settings)
    assert len(occurrence_jobs(db, made["id"])) == 1


def test_import_schedule_keeps_its_url_source_in_the_job_options(
    app_client: TestClient, org: Org, db: Database, worker_db: Database, settings: Settings
) -> None:
    source = {"type": "url", "url": "https://feeds.example/contacts.csv"}
    made = app_client.post(
        "/api/v1/schedules",
        json=schedule_body(job_type="import", options={"mode": "upsert"}, source=source),
        headers=org.member.headers,
    ).json()
    assert made["source"] == source
    make_due(db, made["id"], "2021-01-01T00:00:00Z")
    fire_due_schedules(worker_db, settings)
    (job,) = occurrence_jobs(db, made["id"])
    assert job["options"]["source"] == source and job["file_name"] == "contacts.csv"


def test_an_import_schedule_cannot_lose_its_source(app_client: TestClient, org: Org) -> None:
    made = app_client.post(
        "/api/v1/schedules",
        json=schedule_body(job_type="import", source=URL_SOURCE, mapping={"Name": "name"}),
        headers=org.member.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["mapping"] == {"Name": "name"}
    url = f"/api/v1/schedules/{made.json()['id']}"
    response = app_client.patch(url, json={"source": None}, headers=org.member.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "source"
    assert app_client.get(url, headers=org.member.headers).json()["source"] == URL_SOURCE
