"""Adding a member is an invitation: it hands out nobody's account, reveals nothing of
other organizations, sets no password, and its one-time link is the only way in."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web.app import create_app
from tests.conftest import TEST_PASSWORD, Org
from tests.security.conftest import LiveApp

SHAPE = {"id", "email", "role", "status", "invite_url", "expires_at"}


def _invite(client: TestClient, org: Org, email: str, role: str = "member") -> Any:
    return client.post(
        "/api/v1/members", json={"email": email, "role": role}, headers=org.admin.headers
    )


def _token(invite_url: str) -> str:
    return invite_url.rsplit("/invite/", 1)[1]


def _user(db: Database, email: str) -> dict[str, Any] | None:
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT id, name, password_hash FROM users WHERE lower(email) = lower(%s)", [email]
        ).fetchone()


def _role_in(db: Database, org: Org, user_id: object) -> str | None:
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT role FROM memberships WHERE organization_id = %s AND user_id = %s",
            [org.id, user_id],
        ).fetchone()
    return row["role"] if row else None


def test_an_invitation_looks_the_same_whether_or_not_the_address_has_an_account(
    app_client: TestClient, db: Database, make_org: Callable[[str], Org]
) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs Secret Name")
    fresh = f"fresh-{secrets.token_hex(4)}@example.com"
    before = _user(db, theirs.admin.email)
    answers = [_invite(app_client, mine, theirs.admin.email), _invite(app_client, mine, fresh)]
    for answer in answers:
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert set(body) == SHAPE and body["status"] == "invited"
        assert "Theirs Secret Name" not in answer.text and "Admin User" not in answer.text
        assert str(theirs.id) not in answer.text
    assert [a.json()["email"] for a in answers] == [theirs.admin.email, fresh]
    assert _user(db, theirs.admin.email) == before  # nothing of theirs changed
    assert _user(db, fresh) is None  # no account is made before the invitee accepts
    assert _role_in(db, mine, theirs.admin.user_id) is None  # nor a membership


def test_an_invitation_sets_no_password(app_client: TestClient, db: Database, org: Org) -> None:
    email = f"pw-{secrets.token_hex(4)}@example.com"
    refused = app_client.post(
        "/api/v1/members",
        json={"email": email, "role": "admin", "password": "chosen-by-the-admin", "name": "X"},
        headers=org.admin.headers,
    )
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"password", "name"}
    assert _user(db, email) is None


def test_only_admins_invite(app_client: TestClient, org: Org) -> None:
    for who in (org.member, org.viewer):
        answer = app_client.post(
            "/api/v1/members", json={"email": "someone@example.com"}, headers=who.headers
        )
        assert answer.status_code == 403
        assert app_client.get("/api/v1/invitations", headers=who.headers).status_code == 403


def _form(client: TestClient, url: str) -> tuple[Any, str]:
    page = client.get(url)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return page, match[1] if match else ""


def test_a_new_user_chooses_their_password_on_the_link_once(
    settings: Settings, db: Database, org: Org
) -> None:
    admin = TestClient(create_app(settings, db))
    email = f"newbie-{secrets.token_hex(4)}@example.com"
    url = _invite(admin, org, email, "viewer").json()["invite_url"]
    assert url.startswith(settings.base_url + "/invite/cf_")
    path = "/invite/" + _token(url)
    invitee = TestClient(create_app(settings, db), follow_redirects=False)
    page, token = _form(invitee, path)
    assert page.status_code == 200 and email in page.text and "Acme" in page.text
    assert page.headers["cache-control"] == "no-store"
    differ = invitee.post(
        path, data={"csrf_token": token, "password": "one secret", "repeat_password": "another"}
    )
    assert differ.status_code == 422 and "differ" in differ.text
    _, token = _form(invitee, path)
    accepted = invitee.post(
        path,
        data={
            "csrf_token": token,
            "name": "Nina New",
            "password": "nina's own secret",
            "repeat_password": "nina's own secret",
        },
    )
    assert accepted.status_code == 303 and accepted.headers["location"] == "/"
    me = invitee.get("/api/v1/me").json()
    assert (me["email"], me["name"], me["role"]) == (email, "Nina New", "viewer")
    assert me["organization"]["id"] == str(org.id)
    user = _user(db, email)
    assert user is not None and user["password_hash"].startswith("$argon2")
    # the link worked once
    again = TestClient(create_app(settings, db)).get(path)
    assert again.status_code == 404 and "not valid" in again.text
    pending = admin.get("/api/v1/invitations", headers=org.admin.headers).json()["items"]
    assert email not in [i["email"] for i in pending]


def test_an_existing_user_signs_in_with_their_own_password_to_accept(
    settings: Settings, db: Database, make_org: Callable[[str], Org]
) -> None:
    mine, theirs = make_org("Inviting"), make_org("Home")
    admin = TestClient(create_app(settings, db))
    path = "/invite/" + _token(
        _invite(admin, mine, theirs.admin.email, "member").json()["invite_url"]
    )
    invitee = TestClient(create_app(settings, db), follow_redirects=False)
    page, token = _form(invitee, path)
    assert "sign in with its password" in page.text and "Choose a password" not in page.text
    wrong = invitee.post(path, data={"csrf_token": token, "password": "not theirs"})
    assert wrong.status_code == 401 and _role_in(db, mine, theirs.admin.user_id) is None
    _, token = _form(invitee, path)
    before = _user(db, theirs.admin.email)
    accepted = invitee.post(path, data={"csrf_token": token, "password": TEST_PASSWORD})
    assert accepted.status_code == 303
    assert _role_in(db, mine, theirs.admin.user_id) == "member"
    assert _role_in(db, theirs, theirs.admin.user_id) == "admin"
    assert _user(db, theirs.admin.email) == before
    assert invitee.get("/api/v1/me").json()["organization"]["id"] == str(mine.id)


def test_a_form_without_its_token_accepts_nothing(
    settings: Settings, db: Database, org: Org
) -> None:
    admin = TestClient(create_app(settings, db))
    email = f"csrf-{secrets.token_hex(4)}@example.com"
    path = "/invite/" + _token(_invite(admin, org, email).json()["invite_url"])
    forged = TestClient(create_app(settings, db)).post(
        path, data={"password": "forged secret", "repeat_password": "forged secret"}
    )
    assert forged.status_code == 403 and _user(db, email) is None


def test_revoked_and_expired_links_stop_working(
    settings: Settings, db: Database, make_org: Callable[[str], Org]
) -> None:
    org, other = make_org("Revoking"), make_org("Other")
    client = TestClient(create_app(settings, db))
    revoked = _invite(client, org, f"r-{secrets.token_hex(4)}@example.com").json()
    expired = _invite(client, org, f"e-{secrets.token_hex(4)}@example.com").json()
    assert (
        client.delete(
            f"/api/v1/invitations/{revoked['id']}", headers=other.admin.headers
        ).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/invitations/{revoked['id']}", headers=org.admin.headers).status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/invitations/{revoked['id']}", headers=org.admin.headers).status_code
        == 204
    )
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %s",
            [expired["id"]],
        )
    for invitation in (revoked, expired):
        assert client.get("/invite/" + _token(invitation["invite_url"])).status_code == 404
    listed = client.get("/api/v1/invitations", headers=org.admin.headers).json()["items"]
    assert [(i["id"], i["status"]) for i in listed] == [(expired["id"], "expired")]
    assert client.get("/api/v1/invitations", headers=other.admin.headers).json() == {"items": []}
    # an expired invitation does not block a new one for the same address
    assert _invite(client, org, expired["email"]).status_code == 201


def test_the_link_token_is_kept_only_as_a_hash(
    app_client: TestClient, db: Database, org: Org
) -> None:
    made = _invite(app_client, org, f"h-{secrets.token_hex(4)}@example.com").json()
    token = _token(made["invite_url"])
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT token_hash FROM invitations WHERE id = %s", [made["id"]]
        ).fetchone()
    assert row is not None and bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    listed = app_client.get("/api/v1/invitations", headers=org.admin.headers).text
    assert token not in listed and "invite_url" not in listed


def test_ten_concurrent_invitations_of_one_address_make_one_and_no_500(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    email = f"race-{secrets.token_hex(4)}@example.com"
    start = threading.Barrier(10)
    statuses: list[int] = []

    def invite() -> None:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            start.wait()
            answer = client.post(
                "/api/v1/members",
                json={"email": email, "role": "viewer"},
                headers=org.admin.headers,
            )
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=invite) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201] + [409] * 9
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT status FROM invitations WHERE organization_id = %s AND email = %s",
            [org.id, email],
        ).fetchall()
    assert rows == [{"status": "pending"}]
