"""/webhooks through the API: admins only, the secret shown once, the URL guarded,
rotation, and changes audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from crmferry.db import Database
from tests.conftest import Org
from tests.webhooks.conftest import create_hook


def test_create_shows_the_secret_once(app_client: TestClient, db: Database, org: Org) -> None:
    hook = create_hook(app_client, org, "https://example.com/hooks")
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    assert hook["enabled"] is True and hook["disabled_reason"] is None
    assert hook["events"] == ["job.completed"] and hook["description"] == "CRM sync"
    listed = app_client.get("/api/v1/webhooks", headers=org.admin.headers).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    one = app_client.get(f"/api/v1/webhooks/{hook['id']}", headers=org.admin.headers).json()
    assert "secret" not in one
    with db.owner_connect() as conn:
        stored = conn.execute("SELECT secret FROM webhooks WHERE id = %s", [hook["id"]]).fetchone()
    assert stored is not None and hook["secret"] not in stored["secret"]  # encrypted at rest


def test_only_admins_manage_webhooks(app_client: TestClient, org: Org, make_org: object) -> None:
    body = {"url": "https://example.com/h", "events": ["job.failed"]}
    for member in (org.member, org.viewer):
        assert (
            app_client.post("/api/v1/webhooks", json=body, headers=member.headers).status_code
            == 403
        )
        assert app_client.get("/api/v1/webhooks", headers=member.headers).status_code == 403
    hook = create_hook(app_client, org, "https://example.com/h")
    other = make_org("Other")  # type: ignore[operator]
    assert (
        app_client.get(f"/api/v1/webhooks/{hook['id']}", headers=other.admin.headers).status_code
        == 404
    )


def test_bad_input_is_a_specific_422(app_client: TestClient, org: Org) -> None:
    cases = [
        ({"url": "http://127.0.0.2/x", "events": ["job.completed"]}, "url"),
        ({"url": "http://10.0.0.1/x", "events": ["job.completed"]}, "url"),
        ({"url": "ftp://example.com/x", "events": ["job.completed"]}, "url"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["job.exploded"]}, "events"),
    ]
    for body, field in cases:
        response = app_client.post("/api/v1/webhooks", json=body, headers=org.admin.headers)
        assert response.status_code == 422, (body, response.text)
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f.startswith(field) for f in fields), (body, fields)


def test_patch_rotate_delete_and_audit(app_client: TestClient, org: Org) -> None:
    admin = org.admin.headers
    hook = create_hook(app_client, org, "https://example.com/h")
    changed = app_client.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json={"events": ["job.failed", "export.large"], "enabled": False},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["job.failed", "export.large"]
    assert changed.json()["enabled"] is False
    rotated = app_client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != hook["secret"]
    assert rotated.json()["previous_secret_until"] is not None
    assert app_client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 204
    assert app_client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 404
    actions = [
        e["action"]
        for e in app_client.get("/api/v1/audit", headers=admin).json()["items"]
        if e["target_type"] == "webhook"
    ]
    assert actions == [
        "webhook.deleted",
        "webhook.secret_rotated",
        "webhook.changed",
        "webhook.created",
    ]


def test_delivery_jobs_cannot_be_requested(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/jobs",
        json={"job_type": "webhook_delivery", "data_type": "contacts"},
        headers=org.member.headers,
    )
    assert response.status_code == 422
