"""The web edge: security headers on every response and no inline script, allowed hosts,
forwarded headers only from trusted proxies, cookie flags, sign-out and password changes
that end sessions, and /metrics behind a token."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web.app import create_app
from crmferry.web.edge.hosts import host_allowed
from tests.conftest import TEST_PASSWORD, Org


def _sign_in(client: TestClient, email: str, password: str = TEST_PASSWORD) -> int:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token[1]},
        follow_redirects=False,
    )
    return response.status_code


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/settings").text)
    assert match
    return match[1]


def _sessions(db: Database, org: Org) -> int:
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM web_sessions WHERE user_id = %s", [org.admin.user_id]
        ).fetchone()
    assert row is not None
    return int(row["n"])


def _assert_security_headers(headers: object, where: str) -> None:
    get = headers.get  # type: ignore[attr-defined]
    policy = get("content-security-policy") or ""
    assert "script-src 'self'" in policy, where
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, where
    assert "frame-ancestors 'none'" in policy, where
    assert get("x-frame-options") == "DENY", where
    assert get("x-content-type-options") == "nosniff", where
    assert get("referrer-policy") == "same-origin", where


def test_every_kind_of_response_carries_the_security_headers(
    app_client: TestClient, org: Org
) -> None:
    answers = {
        "page": app_client.get("/login"),
        "redirect": app_client.get("/jobs", follow_redirects=False),
        "json": app_client.get("/api/v1/me", headers=org.viewer.headers),
        "problem 401": app_client.get("/api/v1/me"),
        "problem 404": app_client.get("/api/v1/nothing", headers=org.viewer.headers),
        "static": app_client.get("/static/app.css"),
        "probe": app_client.get("/healthz"),
        "forged host": app_client.get("/healthz", headers={"Host": "evil.example"}),
    }
    for where, response in answers.items():
        _assert_security_headers(response.headers, where)
        assert "strict-transport-security" not in response.headers, where


def test_hsts_is_sent_over_https(settings: Settings, db: Database) -> None:
    client = TestClient(create_app(settings, db), base_url="https://testserver")
    assert client.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.handlers += [name for name in names if name.startswith("on")]
        if "style" in names:
            self.handlers.append("style")
        if tag == "script":
            self._in_inline = "src" not in names and names.get("type") != "application/json"

    def handle_endtag(self, tag: str) -> None:
        self._in_inline = False

    def handle_data(self, data: str) -> None:
        if self._in_inline:
            self.inline.append(data)


@pytest.mark.parametrize(
    "path", ["/", "/jobs", "/schedules", "/records/contacts", "/settings", "/api/docs"]
)
def test_no_page_has_inline_script_or_handlers(
    settings: Settings, db: Database, org: Org, path: str
) -> None:
    client = TestClient(create_app(settings, db))
    assert _sign_in(client, org.admin.email) == 303
    response = client.get(path)
    assert response.status_code == 200
    parser = _Scripts()
    parser.feed(response.text)
    assert parser.inline == [] and parser.handlers == [], path
    _assert_security_headers(response.headers, path)


def test_the_login_page_has_no_inline_script(app_client: TestClient) -> None:
    parser = _Scripts()
    parser.feed(app_client.get("/login").text)
    assert parser.inline == [] and parser.handlers == []


def test_a_forged_host_is_refused_and_never_reflected(app_client: TestClient, org: Org) -> None:
    # a trailing slash is redirected to the path without it, as an absolute URL
    honest = app_client.get("/api/v1/jobs/", headers=org.member.headers, follow_redirects=False)
    assert honest.status_code == 307 and honest.headers["location"].startswith("http://testserver/")
    forged = app_client.get(
        "/api/v1/jobs/",
        headers={**org.member.headers, "Host": "evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 400
    assert forged.headers["content-type"] == "application/problem+json"
    assert "evil.example" not in forged.text and "location" not in forged.headers
    assert "CRMFERRY_ALLOWED_HOSTS" in forged.json()["detail"]


def test_allowed_host_patterns() -> None:
    allowed = ("crm.example.com", "*.tenants.example.com")
    assert host_allowed("CRM.example.com.", allowed)
    assert host_allowed("acme.tenants.example.com", allowed)
    assert not host_allowed("tenants.example.com.evil.test", allowed)
    assert not host_allowed("evilcrm.example.com", allowed)
    assert host_allowed("anything", ("*",))


def test_by_default_only_the_base_urls_host_and_loopback_are_allowed(
    settings: Settings, db: Database
) -> None:
    default = settings.model_copy(
        update={"allowed_hosts": "", "base_url": "https://crm.example.com"}
    )
    client = TestClient(create_app(default, db), base_url="https://crm.example.com")
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "testserver"}).status_code == 400


FORWARDED = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}


def _attempt_addresses(db: Database, email: str) -> list[str]:
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT address FROM login_attempts WHERE email_key = lower(%s)", [email]
        ).fetchall()
    return [r["address"] for r in rows]


def test_forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy(
    settings: Settings, db: Database, make_org
) -> None:  # type: ignore[no-untyped-def]
    untrusted, trusted = make_org("Direct"), make_org("Proxied")
    direct = TestClient(create_app(settings, db), headers=FORWARDED)
    assert _sign_in(direct, untrusted.admin.email, "wrong") == 401
    assert _attempt_addresses(db, untrusted.admin.email) == ["testclient"]
    assert "strict-transport-security" not in direct.get("/healthz").headers

    behind_proxy = settings.model_copy(update={"trusted_proxies": "testclient"})
    proxied = TestClient(create_app(behind_proxy, db), headers=FORWARDED)
    page = proxied.get("/login")
    # the proxy said https: the form's cookie is Secure (the test client, on plain
    # http, would not send it back by itself)
    form_cookie = page.headers["set-cookie"]
    assert "secure" in form_cookie.lower()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    proxied.cookies.clear()
    failed = proxied.post(
        "/login",
        data={"email": trusted.admin.email, "password": "wrong", "csrf_token": token[1]},
        headers={"Cookie": form_cookie.split(";", 1)[0]},
    )
    assert failed.status_code == 401
    assert _attempt_addresses(db, trusted.admin.email) == ["203.0.113.5"]
    assert "strict-transport-security" in proxied.get("/healthz").headers


@pytest.mark.parametrize(
    ("mode", "base", "secure"),
    [
        ("auto", "http://testserver", False),
        ("auto", "https://testserver", True),
        ("true", "http://testserver", True),
        ("false", "https://testserver", False),
    ],
)
def test_cookie_secure_setting(
    settings: Settings, db: Database, org: Org, mode: str, base: str, secure: bool
) -> None:
    chosen = settings.model_copy(update={"cookie_secure": mode})
    client = TestClient(create_app(chosen, db), base_url=base)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    form_cookie = page.headers["set-cookie"]
    client.cookies.clear()  # sent by hand: a Secure cookie is not sent back over http
    signed_in = client.post(
        "/login",
        data={"email": org.admin.email, "password": TEST_PASSWORD, "csrf_token": token[1]},
        headers={"Cookie": form_cookie.split(";", 1)[0]},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    (session_cookie,) = (
        c for c in signed_in.headers.get_list("set-cookie") if c.startswith("crmferry_session=")
    )
    for cookie in (form_cookie, session_cookie):
        assert ("; secure" in cookie.lower()) is secure, cookie


def test_sign_out_ends_the_server_side_session_even_without_the_form_token(
    settings: Settings, db: Database, org: Org
) -> None:
    client = TestClient(create_app(settings, db))
    assert _sign_in(client, org.admin.email) == 303
    cookie = client.cookies.get("crmferry_session")
    assert cookie and _sessions(db, org) == 1
    client.post("/logout", follow_redirects=False)  # no csrf_token field
    assert _sessions(db, org) == 0
    replay = TestClient(create_app(settings, db), cookies={"crmferry_session": cookie})
    assert replay.get("/api/v1/me").status_code == 401


def test_a_password_change_ends_the_users_other_sessions(
    settings: Settings, db: Database, org: Org
) -> None:
    here, elsewhere = TestClient(create_app(settings, db)), TestClient(create_app(settings, db))
    assert _sign_in(here, org.admin.email) == 303 and _sign_in(elsewhere, org.admin.email) == 303
    csrf = {"X-CSRF-Token": _csrf(here)}
    wrong = here.post(
        "/api/v1/me/password",
        json={"current_password": "not it", "new_password": "a brand new one"},
        headers=csrf,
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    changed = here.post(
        "/api/v1/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": "a brand new one"},
        headers=csrf,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 1}
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert org.admin.token and here.get("/api/v1/me", headers=org.admin.headers).status_code == 200
    fresh = TestClient(create_app(settings, db))
    assert _sign_in(fresh, org.admin.email, TEST_PASSWORD) == 401
    assert _sign_in(fresh, org.admin.email, "a brand new one") == 303


def test_a_short_new_password_is_refused(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": "short"},
        headers=org.admin.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "new_password"


def test_metrics_can_require_a_bearer_token(settings: Settings, db: Database) -> None:
    guarded = TestClient(create_app(settings.model_copy(update={"metrics_token": "s3cret"}), db))
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = guarded.get("/metrics", headers=headers, follow_redirects=False)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
    allowed = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200 and "# TYPE crmferry_jobs gauge" in allowed.text
    open_metrics = TestClient(create_app(settings, db)).get("/metrics")
    assert open_metrics.status_code == 200
