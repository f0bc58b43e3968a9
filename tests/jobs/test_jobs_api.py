"""POST/GET /jobs and the job actions, through the API (in-process, real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.db import Database
from tests.conftest import Org
from tests.jobs.conftest import add_jobs
from tests.stored import download, put_stored, stored_keys

pytestmark = pytest.mark.usefixtures("test_kind")


def post_job(client: TestClient, org: Org, **body: Any) -> Any:
    payload = {"job_type": "export", "data_type": "contacts", "options": {}, **body}
    return client.post("/api/v1/jobs", json=payload, headers=org.member.headers)


def set_status(db: Database, job_id: Any, status: str) -> None:
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = %s, worker_id = 'test', attempts = 1,"
            " completed_at = CASE WHEN %s IN ('completed', 'failed', 'cancelled') THEN now() END"
            " WHERE id = %s",
            [status, status, job_id],
        )


def test_create_job_now_returns_the_job_object(app_client: TestClient, org: Org) -> None:
    response = post_job(app_client, org, priority=5, notify={"emails": ["a@example.com"]})
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "pending"
    assert job["creator_name"] == "Member User"
    assert job["created_by"] == str(org.member.user_id)
    assert job["organization_id"] == str(org.id)
    assert job["priority"] == 5
    assert job["progress"] == {"done": 0, "total": None}
    assert job["counts"] == {"inserted": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    assert job["result_url"] is None and job["error_report_url"] is None
    assert job["cancel_requested"] is False and job["schedule_id"] is None
    assert job["scheduled_time"].endswith("+00:00")
    when = datetime.fromisoformat(job["scheduled_time"])
    assert abs((when - datetime.now(UTC)).total_seconds()) < 60
    assert app_client.get(f"/api/v1/jobs/{job['id']}", headers=org.viewer.headers).json() == job


def test_viewer_may_not_create_jobs(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/jobs",
        json={"job_type": "export", "data_type": "contacts"},
        headers=org.viewer.headers,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"job_type": "launch"}, "job_type", "job_type must be one of"),
        ({"data_type": "planets"}, "data_type", "data_type must be one of"),
        ({"priority": "high"}, "priority", "valid integer"),
        ({"notify": {"emails": "x"}}, "notify.emails", "valid list"),
        ({"scheduled_time": "tomorrow"}, "scheduled_time", "is not a date and time"),
        ({"scheduled_time": "2030-01-01T09:00"}, "scheduled_time", "has no UTC offset"),
        (
            {"scheduled_time": "2030-01-01T09:00", "timezone": "Mars/Olympus"},
            "scheduled_time",
            "Unknown time zone 'Mars/Olympus'",
        ),
        (
            {"scheduled_time": "2030-03-31T02:30", "timezone": "Europe/Paris"},
            "scheduled_time",
            "does not exist in Europe/Paris",
        ),
        (
            {"scheduled_time": "2030-10-27T02:30", "timezone": "Europe/Paris"},
            "scheduled_time",
            "ambiguous in Europe/Paris",
        ),
    ],
)
def test_bad_job_requests_are_422_naming_the_field(
    app_client: TestClient, org: Org, body: dict[str, Any], field: str, words: str
) -> None:
    response = post_job(app_client, org, **body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert words in problem["detail"]
    assert problem["errors"][0]["field"] in (field, "timezone")


def test_too_early_time_names_the_earliest_allowed(app_client: TestClient, org: Org) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    response = post_job(app_client, org, scheduled_time=soon)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "at least 300 seconds" in detail
    earliest = datetime.fromisoformat(detail.rsplit("is ", 1)[1].rstrip("."))
    assert timedelta(seconds=290) < earliest - datetime.now(UTC) < timedelta(seconds=310)


def test_local_time_in_a_zone_is_stored_in_utc(app_client: TestClient, org: Org) -> None:
    response = post_job(
        app_client, org, scheduled_time="2031-07-01T09:30:00", timezone="Asia/Tokyo"
    )
    assert response.status_code == 201, response.text
    assert response.json()["scheduled_time"] == "2031-07-01T00:30:00+00:00"
    assert response.json()["timezone"] == "Asia/Tokyo"
    offset = post_job(app_client, org, scheduled_time="2031-07-01T09:30:00-04:00")
    assert offset.json()["scheduled_time"] == "2031-07-01T13:30:00+00:00"


def test_list_filters_and_pages_newest_first(
    app_client: TestClient, make_org: Any, db: Database
) -> None:
    org = make_org("Lists")
    ids = [post_job(app_client, org).json()["id"] for _ in range(5)]
    set_status(db, ids[0], "failed")
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = app_client.get(url, headers=org.viewer.headers).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    failed = app_client.get("/api/v1/jobs?status=failed", headers=org.member.headers).json()
    assert [j["id"] for j in failed["items"]] == [ids[0]]
    none = app_client.get("/api/v1/jobs?data_type=bids", headers=org.member.headers).json()
    assert none == {"items": [], "next_cursor": None}
    assert app_client.get("/api/v1/jobs?status=nope", headers=org.member.headers).status_code == 422
    assert app_client.get("/api/v1/jobs?limit=500", headers=org.member.headers).status_code == 422


def test_other_organizations_jobs_are_not_found(app_client: TestClient, make_org: Any) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    job = post_job(app_client, theirs).json()
    for method, suffix in [
        ("GET", ""),
        ("POST", "/cancel"),
        ("DELETE", ""),
        ("POST", "/retry"),
        ("GET", "/result"),
        ("GET", "/errors"),
    ]:
        url = f"/api/v1/jobs/{job['id']}{suffix}"
        assert app_client.request(method, url, headers=mine.member.headers).status_code == 404
    assert app_client.get("/api/v1/jobs/not-a-uuid", headers=mine.member.headers).status_code == 404
    listed = app_client.get("/api/v1/jobs", headers=mine.member.headers).json()["items"]
    assert job["id"] not in [j["id"] for j in listed]


def test_cancel_codes_pending_running_finished(
    app_client: TestClient, org: Org, db: Database
) -> None:
    pending = post_job(app_client, org).json()
    response = app_client.post(f"/api/v1/jobs/{pending['id']}/cancel", headers=org.member.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    running = post_job(app_client, org).json()
    set_status(db, running["id"], "processing")
    response = app_client.post(f"/api/v1/jobs/{running['id']}/cancel", headers=org.member.headers)
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    assert response.json()["status"] == "processing"
    again = app_client.post(f"/api/v1/jobs/{pending['id']}/cancel", headers=org.member.headers)
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]
    viewer = app_client.post(f"/api/v1/jobs/{running['id']}/cancel", headers=org.viewer.headers)
    assert viewer.status_code == 403


@pytest.mark.usefixtures("each_backend")
def test_delete_only_finished_jobs_and_their_files(
    app_client: TestClient, org: Org, db: Database, settings: Any
) -> None:
    job = post_job(app_client, org).json()
    url = f"/api/v1/jobs/{job['id']}"
    assert app_client.delete(url, headers=org.member.headers).status_code == 409
    put_stored(settings, f"jobs/{org.id}/{job['id']}/result.csv", b"x\n")
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET result_path = %s WHERE id = %s",
            [f"jobs/{org.id}/{job['id']}/result.csv", job["id"]],
        )
    set_status(db, job["id"], "completed")
    assert download(app_client, url + "/result", org.member.headers).status_code == 200
    assert app_client.delete(url, headers=org.member.headers).status_code == 204
    assert stored_keys(settings, f"jobs/{org.id}/{job['id']}") == []
    assert app_client.get(url, headers=org.member.headers).status_code == 404


def test_retry_only_failed_or_cancelled(app_client: TestClient, org: Org, db: Database) -> None:
    job = post_job(app_client, org, options={"format": "jsonl"}, priority=3).json()
    url = f"/api/v1/jobs/{job['id']}/retry"
    assert app_client.post(url, headers=org.member.headers).status_code == 409
    set_status(db, job["id"], "failed")
    response = app_client.post(url, headers=org.member.headers)
    assert response.status_code == 201
    again = response.json()
    assert again["id"] != job["id"] and again["retry_of"] == job["id"]
    assert again["status"] == "pending" and again["attempts"] == 0
    assert (again["options"], again["priority"]) == (job["options"], 3)
    set_status(db, job["id"], "completed")
    assert app_client.post(url, headers=org.member.headers).status_code == 409


def test_result_download_is_named_by_data_type_and_time(
    app_client: TestClient, org: Org, db: Database, settings: Any
) -> None:
    (job_id,) = add_jobs(db, org)
    stored = f"jobs/{org.id}/{job_id}/result.csv"
    put_stored(settings, stored, b"name\nAda\n")
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'completed', result_path = %s,"
            " error_report_path = %s, completed_at = '2030-01-02T03:04:05Z' WHERE id = %s",
            [stored, stored, job_id],
        )
    job = app_client.get(f"/api/v1/jobs/{job_id}", headers=org.member.headers).json()
    assert job["result_url"] == f"/api/v1/jobs/{job_id}/result"
    assert job["error_report_url"] == f"/api/v1/jobs/{job_id}/errors"
    response = app_client.get(job["result_url"], headers=org.member.headers)
    assert response.status_code == 200
    assert 'filename="contacts-20300102-030405.csv"' in response.headers["content-disposition"]
    assert response.text == "name\nAda\n"
    errors = app_client.get(job["error_report_url"], headers=org.member.headers)
    assert errors.headers["content-type"].startswith("text/csv")
    (other,) = add_jobs(db, org)
    assert (
        app_client.get(f"/api/v1/jobs/{other}/result", headers=org.member.headers).status_code
        == 404
    )
