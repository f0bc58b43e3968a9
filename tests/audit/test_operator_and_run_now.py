"""The audit log also records a token made by the operator's `crmferry tokens create`
(a real subprocess) and a schedule's "run now" (POST /schedules/{id}/run)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from crmferry.config import Settings
from tests.audit.test_audit_api import entries
from tests.cli.test_admin_commands import crmferry
from tests.conftest import Org


def test_a_token_made_on_the_command_line_is_audited_as_the_operators(
    app_client: TestClient, settings: Settings, org: Org
) -> None:
    made = crmferry(
        settings,
        "tokens",
        "create",
        "--org",
        str(org.id),
        "--email",
        org.member.email.upper(),
        "--name",
        "nightly sync",
    )
    assert made.returncode == 0, made.stderr
    tokens = app_client.get("/api/v1/tokens", headers=org.admin.headers).json()["items"]
    [token] = [t for t in tokens if t["name"] == "nightly sync"]
    before = entries(app_client, org, action="token.created")
    [entry] = [e for e in before if e["target_id"] == token["id"]]
    assert entry["actor"] == {
        "id": None,
        "email": None,
        "name": "Operator (crmferry tokens create)",
    }
    assert (entry["target_type"], entry["target_id"]) == ("token", token["id"])
    assert entry["details"] == {"name": "nightly sync", "for": org.member.email, "via": "cli"}
    # a command that makes no token records nothing
    refused = crmferry(
        settings, "tokens", "create", "--org", str(org.id), "--email", "nobody@example.com"
    )
    assert refused.returncode == 3
    assert entries(app_client, org, action="token.created") == before


def test_run_now_is_audited_in_the_name_of_who_asked(app_client: TestClient, org: Org) -> None:
    schedule = app_client.post(
        "/api/v1/schedules",
        json={
            "name": "Nightly",
            "job_type": "export",
            "data_type": "contacts",
            "cron": "0 2 * * *",
            "timezone": "UTC",
        },
        headers=org.member.headers,
    ).json()
    refused = app_client.post(f"/api/v1/schedules/{schedule['id']}/run", headers=org.viewer.headers)
    assert refused.status_code == 403
    assert entries(app_client, org, action="schedule.run") == []
    ran = app_client.post(f"/api/v1/schedules/{schedule['id']}/run", headers=org.admin.headers)
    assert ran.status_code == 201, ran.text
    [entry] = entries(app_client, org, action="schedule.run")
    assert entry["actor"]["id"] == str(org.admin.user_id)
    assert entry["actor"]["email"] == org.admin.email
    assert (entry["target_type"], entry["target_id"]) == ("schedule", schedule["id"])
    assert entry["details"] == {
        "job_id": ran.json()["id"],
        "job_type": "export",
        "data_type": "contacts",
    }
