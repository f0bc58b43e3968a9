"""The audit log through the API: what is recorded, by whom, and who may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.jobrun import run_job


def entries(client: TestClient, org: Org, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", params=params, headers=org.admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_export_created_and_downloaded_name_the_user_and_time(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    body = {"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}}
    job = app_client.post("/api/v1/jobs", json=body, headers=org.member.headers).json()
    run_job(db, settings, org.id, job["id"])
    before = datetime.now(UTC) - timedelta(minutes=5)
    download = app_client.get(f"/api/v1/jobs/{job['id']}/result", headers=org.member.headers)
    assert download.status_code == 200

    got = entries(app_client, org, action="export.downloaded")
    assert len(got) == 1
    entry = got[0]
    assert entry["actor"] == {
        "id": str(org.member.user_id),
        "email": org.member.email,
        "name": "Member User",
    }
    assert entry["target_type"] == "job" and entry["target_id"] == job["id"]
    assert entry["details"]["data_type"] == "contacts" and entry["details"]["via"] == "api"
    assert datetime.fromisoformat(entry["at"]) > before
    created = entries(app_client, org, action="export.created")
    assert [e["target_id"] for e in created] == [job["id"]]


def test_only_admins_read_the_log(app_client: TestClient, org: Org) -> None:
    for member in (org.member, org.viewer):
        response = app_client.get("/api/v1/audit", headers=member.headers)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")


def test_member_and_token_changes_are_recorded(
    app_client: TestClient, org: Org, make_org: Any
) -> None:
    admin = org.admin.headers
    invited = app_client.post(
        "/api/v1/members", json={"email": "new@example.com", "role": "member"}, headers=admin
    )
    assert invited.status_code == 201
    changed = app_client.patch(
        f"/api/v1/members/{org.viewer.user_id}", json={"role": "member"}, headers=admin
    )
    assert changed.status_code == 200
    token = app_client.post("/api/v1/tokens", json={"name": "ci"}, headers=admin).json()
    assert app_client.delete(f"/api/v1/tokens/{token['id']}", headers=admin).status_code == 204
    removed = app_client.delete(f"/api/v1/members/{org.member.user_id}", headers=admin)
    assert removed.status_code == 204

    actions = [e["action"] for e in entries(app_client, org)]
    assert actions == [
        "member.removed",
        "token.revoked",
        "token.created",
        "member.role_changed",
        "member.invited",
    ]
    role = entries(app_client, org, action="member.role_changed")[0]
    assert role["details"] == {"email": org.viewer.email, "from": "viewer", "to": "member"}
    assert all(e["actor"]["email"] == org.admin.email for e in entries(app_client, org))
    # another organization sees none of it
    other = make_org("Other")
    assert entries(app_client, other) == []


def test_filters_by_actor_and_since_and_pages(app_client: TestClient, org: Org) -> None:
    for name in ("a", "b", "c"):
        app_client.post("/api/v1/tokens", json={"name": name}, headers=org.admin.headers)
    by_email = entries(app_client, org, actor=org.admin.email.upper())
    by_id = entries(app_client, org, actor=str(org.admin.user_id))
    assert len(by_email) == len(by_id) == 3
    assert entries(app_client, org, actor=org.member.email) == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert entries(app_client, org, since=future) == []

    first = app_client.get("/api/v1/audit", params={"limit": 2}, headers=org.admin.headers).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = app_client.get(
        "/api/v1/audit",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=org.admin.headers,
    ).json()
    assert [e["details"]["name"] for e in first["items"] + second["items"]] == ["c", "b", "a"]
    assert second["next_cursor"] is None
    bad = app_client.get("/api/v1/audit", params={"action": "nope"}, headers=org.admin.headers)
    assert bad.status_code == 422


def test_schedule_and_job_deletion_are_recorded(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    member = org.member.headers
    schedule = app_client.post(
        "/api/v1/schedules",
        json={
            "name": "Weekly",
            "job_type": "export",
            "data_type": "contacts",
            "cron": "0 8 * * 1",
            "timezone": "Europe/Paris",
        },
        headers=member,
    ).json()
    app_client.patch(f"/api/v1/schedules/{schedule['id']}", json={"enabled": False}, headers=member)
    app_client.delete(f"/api/v1/schedules/{schedule['id']}", headers=member)
    body = {"job_type": "export", "data_type": "contacts", "options": {}}
    job = app_client.post("/api/v1/jobs", json=body, headers=member).json()
    run_job(db, settings, org.id, job["id"])
    assert app_client.delete(f"/api/v1/jobs/{job['id']}", headers=member).status_code == 204

    actions = [e["action"] for e in entries(app_client, org)]
    assert actions == [
        "job.deleted",
        "export.created",
        "schedule.deleted",
        "schedule.changed",
        "schedule.created",
    ]
    changed = entries(app_client, org, action="schedule.changed")[0]
    assert changed["details"]["changed"] == ["enabled"]
    assert changed["details"]["enabled"] is False


def test_the_application_role_cannot_rewrite_the_log(db: Database, org: Org) -> None:
    import psycopg

    with db.tenant(org.id) as conn:
        conn.execute(
            "INSERT INTO audit_log (organization_id, action) VALUES (%s, 'token.created')",
            [org.id],
        )
    for statement in ("UPDATE audit_log SET action = 'x.y'", "DELETE FROM audit_log"):
        try:
            with db.tenant(org.id) as conn:
                conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            continue
        raise AssertionError(f"{statement} was allowed")


def test_an_import_run_and_its_revert_are_recorded(
    importer: Any, app_client: TestClient, org: Org
) -> None:
    job = importer.import_csv(org, "contacts", "Name,Email\nAnn,ann@example.com\n")
    response = app_client.post(
        f"/api/v1/jobs/{job['id']}/revert", json={}, headers=org.member.headers
    )
    assert response.status_code == 201, response.text
    got = {e["action"]: e for e in entries(app_client, org)}
    assert {"import.created", "import.completed", "job.reverted"} <= set(got)
    assert got["import.completed"]["details"]["counts"]["inserted"] == 1
    assert got["import.completed"]["actor"]["id"] == got["import.created"]["actor"]["id"]
    assert got["job.reverted"]["target_id"] == str(job["id"])
    assert got["job.reverted"]["details"]["revert_job_id"] == response.json()["id"]
