"""Password sign-in, session cookie flags, CSRF and the failed-login limit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import Forbidden
from crmferry.web.app import create_app
from crmferry.web.deps import current_principal
from tests.conftest import TEST_PASSWORD, Org


def _login_form(client: TestClient) -> str:
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match[1]


def _sign_in(client: TestClient, email: str, password: str) -> object:
    token = _login_form(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_sign_in_sets_a_safe_session_cookie(settings: Settings, db: Database, org: Org) -> None:
    client = TestClient(create_app(settings, db))
    response = _sign_in(client, org.admin.email, TEST_PASSWORD)
    assert response.status_code == 303  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "crmferry_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == org.admin.email
    shell = client.get("/")
    assert "Scheduled Jobs" in shell.text and "Import/Export" in shell.text


def test_the_session_secret_is_not_stored_in_clear(
    settings: Settings, db: Database, org: Org
) -> None:
    client = TestClient(create_app(settings, db))
    _sign_in(client, org.admin.email, TEST_PASSWORD)
    secret = client.cookies.get("crmferry_session")
    assert secret
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT session_hash::text AS h FROM web_sessions WHERE user_id = %s",
            [org.admin.user_id],
        ).fetchall()
        tokens = conn.execute(
            "SELECT token_hash::text AS h FROM api_tokens WHERE user_id = %s", [org.admin.user_id]
        ).fetchall()
        users = conn.execute(
            "SELECT password_hash FROM users WHERE id = %s", [org.admin.user_id]
        ).fetchone()
    assert rows and all(secret not in r["h"] for r in rows)
    assert tokens and all(org.admin.token not in r["h"] for r in tokens)
    assert (
        users
        and users["password_hash"].startswith("$argon2")
        and TEST_PASSWORD not in users["password_hash"]
    )


def test_wrong_password_is_refused(settings: Settings, db: Database, org: Org) -> None:
    client = TestClient(create_app(settings, db))
    response = _sign_in(client, org.admin.email, "wrong")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "Wrong e-mail or password" in response.text  # type: ignore[attr-defined]
    assert client.get("/api/v1/me").status_code == 401


def test_login_without_form_token_is_refused(settings: Settings, db: Database, org: Org) -> None:
    client = TestClient(create_app(settings, db))
    response = client.post(
        "/login", data={"email": org.admin.email, "password": TEST_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403


def test_repeated_failures_lock_the_email_even_with_the_right_password(
    settings: Settings, db: Database, org: Org
) -> None:
    client = TestClient(create_app(settings, db))
    for _ in range(settings.login_max_failures):
        assert _sign_in(client, org.admin.email, "nope").status_code == 401  # type: ignore[attr-defined]
    response = _sign_in(client, org.admin.email, TEST_PASSWORD)
    assert response.status_code == 429  # type: ignore[attr-defined]


def test_cookie_writes_need_the_csrf_header(settings: Settings, db: Database, org: Org) -> None:
    client = TestClient(create_app(settings, db))
    _sign_in(client, org.admin.email, TEST_PASSWORD)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert csrf
    cookie = f"crmferry_session={client.cookies.get('crmferry_session')}".encode()

    def post_request(*extra: tuple[bytes, bytes]) -> Request:
        headers = [(b"cookie", cookie), *extra]
        return Request(
            {
                "type": "http",
                "method": "POST",
                "path": "/api/v1/jobs",
                "app": client.app,
                "headers": headers,
            }
        )

    with pytest.raises(Forbidden, match="CSRF"):
        current_principal(post_request())
    with pytest.raises(Forbidden, match="CSRF"):
        current_principal(post_request((b"x-csrf-token", b"forged")))
    assert (
        current_principal(post_request((b"x-csrf-token", csrf[1].encode()))).email
        == org.admin.email
    )


def test_sign_out_ends_the_session(settings: Settings, db: Database, org: Org) -> None:
    client = TestClient(create_app(settings, db))
    _sign_in(client, org.admin.email, TEST_PASSWORD)
    page = client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    old = client.cookies.get("crmferry_session")
    client.post("/logout", data={"csrf_token": csrf[1]}, follow_redirects=False)
    client.cookies.set("crmferry_session", old or "")
    assert client.get("/api/v1/me").status_code == 401


def test_pages_redirect_to_login_when_signed_out(app_client: TestClient) -> None:
    response = app_client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
