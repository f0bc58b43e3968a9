"""Incremental exports (`options.changed_since`): a schedule's run carries exactly what
changed since its previous successful run — by snapshot, not by clock — and the
deletions; a time carries what was written since then."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.retention import prune_finished_jobs
from tests.conftest import Org
from tests.jobrun import run_job


def _schedule(client: TestClient, org: Org, fmt: str = "jsonl") -> str:
    response = client.post(
        "/api/v1/schedules",
        headers=org.member.headers,
        json={
            "name": "Nightly changes",
            "job_type": "export",
            "data_type": "contacts",
            "options": {"format": fmt, "changed_since": "last_run", "fields": ["email", "name"]},
            "cron": "0 3 * * *",
            "timezone": "UTC",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _run_schedule(
    client: TestClient, db: Database, settings: Settings, org: Org, schedule_id: str
) -> dict[str, Any]:
    response = client.post(f"/api/v1/schedules/{schedule_id}/run", headers=org.member.headers)
    assert response.status_code == 201, response.text
    done = run_job(db, settings, org.id, response.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    return done


def _lines(client: TestClient, org: Org, job: dict[str, Any]) -> list[dict[str, Any]]:
    body = client.get(f"/api/v1/jobs/{job['id']}/result", headers=org.member.headers)
    assert body.status_code == 200, body.text
    return [json.loads(line) for line in body.text.splitlines() if line]


def _emails(lines: list[dict[str, Any]]) -> list[str]:
    return sorted(line["email"] for line in lines if "deleted" not in line)


def _add(db: Database, org: Org, *emails: str) -> None:
    with db.tenant(org.id) as conn:
        conn.cursor().executemany(
            "INSERT INTO contacts (organization_id, name, email) VALUES (%s, %s, %s)",
            [(org.id, e.split("@")[0], e) for e in emails],
        )


def _import(client: TestClient, db: Database, settings: Settings, org: Org, text: str) -> str:
    upload = client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("changes.csv", text.encode())},
        data={"data_type": "contacts"},
    )
    assert upload.status_code == 201, upload.text
    job = client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "import",
            "data_type": "contacts",
            "upload_id": upload.json()["id"],
            "mapping": {"email": "email", "name": "name"},
            "options": {"mode": "upsert"},
        },
    )
    assert job.status_code == 201, job.text
    done = run_job(db, settings, org.id, job.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    return str(done["id"])


def test_each_run_of_a_schedule_carries_the_changes_since_the_last_one_once(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _add(db, org, "a@example.com", "b@example.com", "c@example.com")
    schedule = _schedule(app_client, org)

    first = _run_schedule(app_client, db, settings, org, schedule)
    assert _emails(_lines(app_client, org, first)) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert first["options"]["watermark"]["since"] is None  # a first run carries everything

    imported = _import(
        app_client, db, settings, org, "email,name\nb@example.com,Bea Changed\nd@example.com,Dee\n"
    )
    second = _run_schedule(app_client, db, settings, org, schedule)
    assert _emails(_lines(app_client, org, second)) == ["b@example.com", "d@example.com"]
    assert second["options"]["watermark"]["since"]["job_id"] == str(first["id"])
    assert (
        second["options"]["watermark"]["since"]["snapshot"]
        == first["options"]["watermark"]["snapshot"]
    )

    third = _run_schedule(app_client, db, settings, org, schedule)
    assert _lines(app_client, org, third) == []
    assert third["record_count"] == 0

    # the revert restores b (a change) and deletes d (a deletion)
    revert = app_client.post(f"/api/v1/jobs/{imported}/revert", headers=org.member.headers)
    assert revert.status_code == 201, revert.text
    assert run_job(db, settings, org.id, revert.json()["id"])["status"] == "completed"
    fourth = _run_schedule(app_client, db, settings, org, schedule)
    lines = _lines(app_client, org, fourth)
    assert [line["name"] for line in lines if "deleted" not in line] == ["b"]
    deleted = [line["deleted"] for line in lines if "deleted" in line]
    assert [d["email"] for d in deleted] == ["d@example.com"] and deleted[0]["id"]
    assert fourth["counts"]["deleted"] == 1

    report = app_client.get(f"/api/v1/jobs/{fourth['id']}/deleted", headers=org.member.headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [(r["id"], r["email"]) for r in rows] == [(deleted[0]["id"], "d@example.com")]
    assert report.text.endswith("\r\n")
    # an export that was no incremental one has no deletions to show
    full = app_client.get(f"/api/v1/jobs/{imported}/deleted", headers=org.member.headers)
    assert full.status_code == 404


@pytest.mark.parametrize("order", ["before", "during", "between", "across"])
def test_a_write_in_flight_lands_in_exactly_one_export(
    order: str, app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    """An insert that commits before, during (open while the first export took its
    snapshot), between, or across two exports (open during both) is carried once."""
    schedule = _schedule(app_client, org)
    _add(db, org, "old@example.com")
    with psycopg.connect(str(settings.database_url), autocommit=True) as writer:

        def begin() -> None:
            writer.execute("BEGIN")
            writer.execute(
                "INSERT INTO contacts (organization_id, name, email) VALUES (%s, 'new', 'new@example.com')",
                [org.id],
            )

        if order == "before":
            begin()
            writer.execute("COMMIT")
        if order in ("during", "across"):
            begin()
        first = _run_schedule(app_client, db, settings, org, schedule)
        if order == "during":
            writer.execute("COMMIT")
        if order == "between":
            begin()
            writer.execute("COMMIT")
        second = _run_schedule(app_client, db, settings, org, schedule)
        if order == "across":
            writer.execute("COMMIT")
        third = _run_schedule(app_client, db, settings, org, schedule)

    carried = [_emails(_lines(app_client, org, job)) for job in (first, second, third)]
    where = {"before": 0, "during": 1, "between": 1, "across": 2}[order]
    for i, emails in enumerate(carried):
        assert ("new@example.com" in emails) == (i == where), (order, carried)
    assert sum(e.count("old@example.com") for e in carried) == 1


def test_changed_since_a_time_carries_what_was_written_since_and_the_deletions(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _add(db, org, "early@example.com", "late@example.com", "gone@example.com")
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE contacts SET updated_at = '2020-01-01T00:00:00Z'"
            " WHERE organization_id = %s AND email <> 'late@example.com'",
            [org.id],
        )
    with db.tenant(org.id) as conn:
        conn.execute("DELETE FROM contacts WHERE email = 'gone@example.com'")
    job = app_client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "export",
            "data_type": "contacts",
            "options": {"format": "jsonl", "changed_since": "2021-06-01T00:00:00+02:00"},
        },
    )
    assert job.status_code == 201, job.text
    done = run_job(db, settings, org.id, job.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    lines = _lines(app_client, org, done)
    assert _emails(lines) == ["late@example.com"]
    assert [line["deleted"]["email"] for line in lines if "deleted" in line] == ["gone@example.com"]
    assert done["options"]["watermark"]["since"] == {"time": "2021-06-01T00:00:00+02:00"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("last_run", "only a schedule's export"),
        ("yesterday", "not an RFC 3339 time"),
        ("2026-01-01T00:00:00", "no UTC offset"),
        (17, "Input should be a valid string"),
    ],
)
def test_a_changed_since_that_cannot_be_used_is_a_422(
    app_client: TestClient, org: Org, value: object, message: str
) -> None:
    response = app_client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={"job_type": "export", "data_type": "contacts", "options": {"changed_since": value}},
    )
    assert response.status_code == 422, response.text
    assert message in response.text and "changed_since" in response.text


def test_a_retry_of_a_schedules_run_starts_from_the_schedules_watermark(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _add(db, org, "one@example.com")
    schedule = _schedule(app_client, org)
    first = _run_schedule(app_client, db, settings, org, schedule)
    _add(db, org, "two@example.com")
    pending = app_client.post(f"/api/v1/schedules/{schedule}/run", headers=org.member.headers)
    job_id = pending.json()["id"]
    assert (
        app_client.post(f"/api/v1/jobs/{job_id}/cancel", headers=org.member.headers).status_code
        == 200
    )
    retry = app_client.post(f"/api/v1/jobs/{job_id}/retry", headers=org.member.headers)
    assert retry.status_code == 201, retry.text
    done = run_job(db, settings, org.id, retry.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    assert _emails(_lines(app_client, org, done)) == ["two@example.com"]
    assert done["options"]["watermark"]["since"]["job_id"] == str(first["id"])


def test_tombstones_are_the_organizations_own_and_only_the_database_writes_them(
    app_client: TestClient, db: Database, settings: Settings, org: Org, make_org: Any
) -> None:
    other = make_org("Other")
    _add(db, other, "theirs@example.com")
    with db.tenant(other.id) as conn:
        conn.execute("DELETE FROM contacts")
    with db.tenant(org.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM record_tombstones").fetchone() == {"n": 0}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO record_tombstones (organization_id, table_name, record_id, record)"
                " VALUES (%s, 'contacts', gen_random_uuid(), '{}')",
                [org.id],
            )
    with db.tenant(other.id) as conn:
        seen = conn.execute("SELECT record ->> 'email' AS email FROM record_tombstones").fetchall()
    assert seen == [{"email": "theirs@example.com"}]


def test_retention_prunes_tombstones_past_the_window(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    _add(db, org, "old@example.com", "recent@example.com")
    with db.tenant(org.id) as conn:
        conn.execute("DELETE FROM contacts")
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE record_tombstones SET deleted_at = now() - %s::interval"
            " WHERE organization_id = %s AND record ->> 'email' = 'old@example.com'",
            [f"{settings.retention_days + 1} days", org.id],
        )
    prune_finished_jobs(worker_db, settings)
    with db.tenant(org.id) as conn:
        left = conn.execute("SELECT record ->> 'email' AS email FROM record_tombstones").fetchall()
    assert left == [{"email": "recent@example.com"}]
