"""Members, API tokens and the caller's time zone (the Settings page's API)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from crmferry.db import Database
from tests.conftest import Org


def test_admin_lists_members_of_their_organization_only(app_client: TestClient, make_org) -> None:  # type: ignore[no-untyped-def]
    org, other = make_org("Listing"), make_org("Other")
    response = app_client.get("/api/v1/members", headers=org.admin.headers)
    assert response.status_code == 200
    emails = {m["email"]: m["role"] for m in response.json()["items"]}
    assert emails == {
        org.admin.email: "admin",
        org.member.email: "member",
        org.viewer.email: "viewer",
    }
    assert other.admin.email not in emails


def test_members_and_tokens_need_the_admin_role(app_client: TestClient, org: Org) -> None:
    for who in (org.member, org.viewer):
        assert app_client.get("/api/v1/members", headers=who.headers).status_code == 403
        assert app_client.get("/api/v1/tokens", headers=who.headers).status_code == 403
        created = app_client.post("/api/v1/tokens", json={"name": "x"}, headers=who.headers)
        assert created.status_code == 403


def test_inviting_then_changing_a_role_and_removing_a_member(
    app_client: TestClient, org: Org
) -> None:
    email = f"new-{secrets.token_hex(3)}@example.com"
    invited = app_client.post(
        "/api/v1/members", json={"email": email, "role": "viewer"}, headers=org.admin.headers
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["status"] == "invited" and invited.json()["role"] == "viewer"
    again = app_client.post("/api/v1/members", json={"email": email}, headers=org.admin.headers)
    assert again.status_code == 409
    pending = app_client.get("/api/v1/invitations", headers=org.admin.headers).json()["items"]
    assert [(i["email"], i["role"], i["status"]) for i in pending] == [(email, "viewer", "invited")]
    member = app_client.post(
        "/api/v1/members", json={"email": org.viewer.email}, headers=org.admin.headers
    )
    assert member.status_code == 409 and "already a member" in member.json()["detail"]
    user_id = org.viewer.user_id
    changed = app_client.patch(
        f"/api/v1/members/{user_id}", json={"role": "member"}, headers=org.admin.headers
    )
    assert changed.status_code == 200 and changed.json()["role"] == "member"
    removed = app_client.delete(f"/api/v1/members/{user_id}", headers=org.admin.headers)
    assert removed.status_code == 204
    emails = [
        m["email"]
        for m in app_client.get("/api/v1/members", headers=org.admin.headers).json()["items"]
    ]
    assert org.viewer.email not in emails
    assert app_client.get("/api/v1/me", headers=org.viewer.headers).status_code == 401


def test_the_last_admin_cannot_be_demoted_or_removed(app_client: TestClient, org: Org) -> None:
    demote = app_client.patch(
        f"/api/v1/members/{org.admin.user_id}", json={"role": "member"}, headers=org.admin.headers
    )
    assert demote.status_code == 409
    remove = app_client.delete(f"/api/v1/members/{org.admin.user_id}", headers=org.admin.headers)
    assert remove.status_code == 409


def test_another_organizations_member_is_not_found(app_client: TestClient, make_org) -> None:  # type: ignore[no-untyped-def]
    org, other = make_org("A"), make_org("B")
    target = other.member.user_id
    patch = app_client.patch(
        f"/api/v1/members/{target}", json={"role": "admin"}, headers=org.admin.headers
    )
    assert patch.status_code == 404
    assert (
        app_client.delete(f"/api/v1/members/{target}", headers=org.admin.headers).status_code == 404
    )


def test_invalid_member_input_names_the_field(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/members", json={"email": "not-an-email"}, headers=org.admin.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"
    bad_role = app_client.post(
        "/api/v1/members",
        json={"email": "x@example.com", "role": "owner"},
        headers=org.admin.headers,
    )
    assert bad_role.status_code == 422
    assert bad_role.json()["errors"][0]["field"] == "role"


def test_a_created_token_is_shown_once_works_and_can_be_revoked(
    app_client: TestClient, org: Org
) -> None:
    created = app_client.post(
        "/api/v1/tokens", json={"name": "ci", "email": org.member.email}, headers=org.admin.headers
    )
    assert created.status_code == 201
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = app_client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == org.member.email
    listed = app_client.get("/api/v1/tokens", headers=org.admin.headers).json()["items"]
    assert "token" not in listed[0]
    assert any(t["id"] == created.json()["id"] and t["prefix"] == token[:8] for t in listed)
    revoked = app_client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=org.admin.headers)
    assert revoked.status_code == 204
    assert app_client.get("/api/v1/me", headers=headers).status_code == 401


def test_tokens_of_another_organization_are_not_found(app_client: TestClient, make_org) -> None:  # type: ignore[no-untyped-def]
    org, other = make_org("A"), make_org("B")
    theirs = app_client.post("/api/v1/tokens", json={}, headers=other.admin.headers).json()
    response = app_client.delete(f"/api/v1/tokens/{theirs['id']}", headers=org.admin.headers)
    assert response.status_code == 404
    outsider = app_client.post(
        "/api/v1/tokens", json={"email": other.admin.email}, headers=org.admin.headers
    )
    assert outsider.status_code == 422


def test_a_user_sets_and_clears_their_time_zone(app_client: TestClient, org: Org) -> None:
    response = app_client.patch(
        "/api/v1/me", json={"timezone": "Asia/Tokyo"}, headers=org.viewer.headers
    )
    assert response.status_code == 200 and response.json()["timezone"] == "Asia/Tokyo"
    assert (
        app_client.get("/api/v1/me", headers=org.viewer.headers).json()["timezone"] == "Asia/Tokyo"
    )
    cleared = app_client.patch("/api/v1/me", json={"timezone": None}, headers=org.viewer.headers)
    assert cleared.json()["timezone"] == "UTC"
    bad = app_client.patch(
        "/api/v1/me", json={"timezone": "Mars/Olympus"}, headers=org.viewer.headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "timezone"


def _token_row(db: Database, token_id: str) -> dict[str, Any]:
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT created_at, last_used_at, now() AS now FROM api_tokens WHERE id = %s",
            [token_id],
        ).fetchone()
    assert row is not None
    return row


def _set_last_used(db: Database, token_id: str, ago: str) -> datetime:
    with db.owner_connect() as conn:
        row = conn.execute(
            "UPDATE api_tokens SET last_used_at = now() - %s::interval WHERE id = %s"
            " RETURNING last_used_at",
            [ago, token_id],
        ).fetchone()
    assert row is not None
    return row["last_used_at"]  # type: ignore[no-any-return]


def _listed_last_used(app_client: TestClient, org: Org, token_id: str) -> str | None:
    listed = app_client.get("/api/v1/tokens", headers=org.admin.headers).json()["items"]
    return next(t["last_used_at"] for t in listed if t["id"] == token_id)  # type: ignore[no-any-return]


def test_a_tokens_last_use_is_recorded_to_the_minute(
    app_client: TestClient, org: Org, db: Database
) -> None:
    created = app_client.post("/api/v1/tokens", json={"name": "ci"}, headers=org.admin.headers)
    assert created.status_code == 201, created.text
    token_id, bearer = created.json()["id"], {"Authorization": f"Bearer {created.json()['token']}"}
    assert created.json()["last_used_at"] is None
    assert _listed_last_used(app_client, org, token_id) is None

    assert app_client.get("/api/v1/me", headers=bearer).status_code == 200
    first = _token_row(db, token_id)
    assert first["last_used_at"] is not None
    assert first["created_at"] <= first["last_used_at"] <= first["now"]
    shown = _listed_last_used(app_client, org, token_id)
    assert shown is not None and datetime.fromisoformat(shown) == first["last_used_at"]

    # used again within the minute: not written again
    recent = _set_last_used(db, token_id, "30 seconds")
    assert app_client.get("/api/v1/me", headers=bearer).status_code == 200
    assert _token_row(db, token_id)["last_used_at"] == recent

    # more than a minute later: written
    old = _set_last_used(db, token_id, "5 minutes")
    assert app_client.get("/api/v1/me", headers=bearer).status_code == 200
    again = _token_row(db, token_id)
    assert again["last_used_at"] > old + timedelta(minutes=4)

    # a revoked token is refused and its last use stays as it was
    old = _set_last_used(db, token_id, "5 minutes")
    revoked = app_client.delete(f"/api/v1/tokens/{token_id}", headers=org.admin.headers)
    assert revoked.status_code == 204
    assert app_client.get("/api/v1/me", headers=bearer).status_code == 401
    assert _token_row(db, token_id)["last_used_at"] == old


def test_using_one_token_leaves_the_others_unmarked(
    app_client: TestClient, org: Org, db: Database
) -> None:
    created = app_client.post("/api/v1/tokens", json={"name": "x"}, headers=org.admin.headers)
    token_id = created.json()["id"]
    for _ in range(2):
        assert app_client.get("/api/v1/tokens", headers=org.admin.headers).status_code == 200
    assert _token_row(db, token_id)["last_used_at"] is None
