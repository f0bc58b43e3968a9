"""Sign-in throttling: concurrent guesses cannot race the limit, a locked e-mail still
lets its owner in from an address without failures, an address that guesses too much
is refused for every e-mail, and the application role cannot move the counters."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from crmferry.accounts.login import LoginPolicy, login
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import TooManyRequests, Unauthenticated
from crmferry.web.app import create_app
from tests.conftest import TEST_PASSWORD, Org
from tests.security.conftest import LiveApp

GUESSES = 30


def _attempts(db: Database, email: str) -> list[str]:
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT outcome FROM login_attempts WHERE email_key = lower(%s)", [email]
        ).fetchall()
    return [r["outcome"] for r in rows]


def _sessions(db: Database, org: Org) -> int:
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM web_sessions WHERE user_id = %s", [org.admin.user_id]
        ).fetchone()
    assert row is not None
    return int(row["n"])


def _prepared_form(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return client, match[1]


def test_thirty_concurrent_wrong_passwords_get_only_the_limit_of_checks(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    limit = settings.login_max_failures
    forms = [_prepared_form(app.url) for _ in range(GUESSES + 1)]
    statuses: list[int] = []
    start = threading.Barrier(GUESSES)

    def guess(client: httpx.Client, token: str, password: str, wait: bool) -> int:
        if wait:
            start.wait()
        response = client.post(
            "/login",
            data={"email": org.admin.email, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        statuses.append(response.status_code)
        return response.status_code

    threads = [
        threading.Thread(target=guess, args=(client, token, f"wrong-{i}", True))
        for i, (client, token) in enumerate(forms[:GUESSES])
    ]
    for thread in threads:
        thread.start()
    # the right password, sent while the wrong ones are still being answered: once the
    # limit of attempts has been admitted, it must not get a check of its own
    deadline = time.monotonic() + 30
    while len(_attempts(db, org.admin.email)) < limit and time.monotonic() < deadline:
        time.sleep(0.01)
    right_client, right_token = forms[GUESSES]
    right = guess(right_client, right_token, TEST_PASSWORD, wait=False)
    for thread in threads:
        thread.join(60)

    assert len(statuses) == GUESSES + 1
    assert statuses.count(401) == limit  # the password checks that were let through
    assert statuses.count(429) == GUESSES + 1 - limit
    assert right == 429 and "crmferry_session" not in right_client.cookies
    assert _sessions(db, org) == 0
    assert sorted(_attempts(db, org.admin.email)) == ["failed"] * limit
    for client, _ in forms:
        client.close()


def _policy(settings: Settings, **changes: object) -> LoginPolicy:
    policy = LoginPolicy.from_settings(settings)
    return LoginPolicy(**{**policy.__dict__, **changes})  # type: ignore[arg-type]


def _address(network: str) -> str:
    """A fresh address in a documentation network, so tests do not share counts."""
    return f"{network}.{uuid.uuid4().int % 254 + 1}"


def test_a_locked_email_lets_its_owner_in_from_an_address_without_failures(
    settings: Settings, db: Database, org: Org
) -> None:
    policy = _policy(settings)
    attacker, owner = _address("203.0.113"), _address("198.51.100")
    for i in range(policy.max_failures):
        with pytest.raises(Unauthenticated):
            login(db, org.admin.email, f"guess-{i}", attacker, policy)
    with pytest.raises(TooManyRequests):
        login(db, org.admin.email, TEST_PASSWORD, attacker, policy)  # locked for the attacker
    assert login(db, org.admin.email, TEST_PASSWORD, owner, policy)  # not for the owner
    with pytest.raises(TooManyRequests):  # the owner's success does not unlock the attacker
        login(db, org.admin.email, "guess-again", attacker, policy)
    with db.owner_connect() as conn:  # after the window, the attacker may try again
        conn.execute(
            "UPDATE login_attempts SET started_at = started_at - interval '1 hour'"
            " WHERE email_key = lower(%s)",
            [org.admin.email],
        )
    with pytest.raises(Unauthenticated):
        login(db, org.admin.email, "guess-after-the-window", attacker, policy)


def test_the_owners_own_typing_errors_are_forgiven_when_they_get_it_right(
    settings: Settings, db: Database, org: Org
) -> None:
    policy = _policy(settings)
    owner = _address("198.51.100")
    for _ in range(policy.max_failures - 1):
        with pytest.raises(Unauthenticated):
            login(db, org.admin.email, "typo", owner, policy)
    assert login(db, org.admin.email, TEST_PASSWORD, owner, policy)
    for _ in range(policy.max_failures - 1):
        with pytest.raises(Unauthenticated):
            login(db, org.admin.email, "typo", owner, policy)
    assert login(db, org.admin.email, TEST_PASSWORD, owner, policy)


def test_an_address_that_fails_too_often_is_refused_for_every_email(
    settings: Settings, db: Database, org: Org
) -> None:
    address, elsewhere = _address("192.0.2"), _address("198.51.100")
    policy = _policy(settings, max_address_failures=3)
    for i in range(3):
        with pytest.raises(Unauthenticated):
            login(db, f"nobody-{uuid.uuid4().hex}@example.com", f"x{i}", address, policy)
    with pytest.raises(TooManyRequests):
        login(db, org.admin.email, TEST_PASSWORD, address, policy)
    assert login(db, org.admin.email, TEST_PASSWORD, elsewhere, policy)
    assert _attempts(db, org.admin.email) == ["succeeded"]  # the refused one never counted


def test_the_application_role_cannot_reset_or_add_to_failure_counts(db: Database) -> None:
    with db.app_connect() as conn:
        for statement in (
            "SELECT crmferry_login_succeeded('victim@example.com')",
            "SELECT crmferry_login_failed('victim@example.com')",
        ):
            with pytest.raises(psycopg.errors.UndefinedFunction):
                conn.execute(statement)
        for statement in (
            "INSERT INTO login_attempts (email_key, address) VALUES ('victim@example.com', 'x')",
            "DELETE FROM login_attempts",
            "UPDATE login_attempts SET outcome = 'succeeded'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # an attempt it was not given cannot be settled
        settled = conn.execute(
            "SELECT crmferry_login_finish(%s, true) AS ok", [uuid.uuid4()]
        ).fetchone()
        assert settled == {"ok": False}


def test_an_attempt_is_settled_once(settings: Settings, db: Database, org: Org) -> None:
    policy = _policy(settings)
    with pytest.raises(Unauthenticated):
        login(db, org.admin.email, "wrong", _address("198.51.100"), policy)
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT id FROM login_attempts WHERE email_key = lower(%s)", [org.admin.email]
        ).fetchone()
    assert row is not None
    with db.app_connect() as conn:
        settled = conn.execute(
            "SELECT crmferry_login_finish(%s, true) AS ok", [row["id"]]
        ).fetchone()
    assert settled == {"ok": False}
    assert _attempts(db, org.admin.email) == ["failed"]


def test_through_a_trusted_proxy_the_owner_gets_in_from_their_own_address(
    settings: Settings, db: Database, org: Org
) -> None:
    behind_proxy = settings.model_copy(update={"trusted_proxies": "testclient"})

    def sign_in(address: str, password: str) -> int:
        client = TestClient(create_app(behind_proxy, db), headers={"X-Forwarded-For": address})
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        answer = client.post(
            "/login",
            data={"email": org.admin.email, "password": password, "csrf_token": token[1]},
            follow_redirects=False,
        )
        return answer.status_code

    attacker, owner = _address("203.0.113"), _address("198.51.100")
    for i in range(settings.login_max_failures):
        assert sign_in(attacker, f"guess-{i}") == 401
    assert sign_in(attacker, TEST_PASSWORD) == 429
    assert sign_in(owner, TEST_PASSWORD) == 303
