"""Requests raced against each other on a real server: an Idempotency-Key gives one job
back however often it is sent, concurrent retries of one job make one retry, and an
unexpected error is a problem+json 500 that keeps the connection."""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from crmferry.db import Database
from tests.conftest import Org
from tests.security.conftest import Served

EXPORT = {"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}}


def race(n: int, send: Any) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: send(), range(n)))


def jobs_of(db: Database, org: Org) -> list[dict[str, Any]]:
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT id, retry_of, status FROM scheduled_jobs WHERE organization_id = %s",
            [str(org.id)],
        ).fetchall()


def test_ten_concurrent_creates_with_one_key_make_one_job(
    served: Served,
    make_org: Any,
    db: Database,
) -> None:
    org = make_org("Keys")
    headers = {**org.member.headers, "Idempotency-Key": "nightly-2031-01-01"}

    def send() -> httpx.Response:
        return httpx.post(f"{served.url}/api/v1/jobs", json=EXPORT, headers=headers, timeout=30)

    answers = race(10, send)
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(jobs_of(db, org)) == 1
    other = httpx.post(
        f"{served.url}/api/v1/jobs", json={**EXPORT, "priority": 9}, headers=headers, timeout=30
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    # another caller's same key is another key
    theirs = httpx.post(
        f"{served.url}/api/v1/jobs",
        json=EXPORT,
        headers={**org.admin.headers, "Idempotency-Key": "nightly-2031-01-01"},
        timeout=30,
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != answers[0].json()["id"]


def test_a_key_expires_after_24_hours(app_client: Any, org: Org, db: Database) -> None:
    headers = {**org.member.headers, "Idempotency-Key": "k-1"}
    first = app_client.post("/api/v1/jobs", json=EXPORT, headers=headers)
    again = app_client.post("/api/v1/jobs", json=EXPORT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
            " WHERE organization_id = %s",
            [org.id],
        )
    later = app_client.post("/api/v1/jobs", json=EXPORT, headers=headers)
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]


def _failed_job(live: str, org: Org, db: Database) -> str:
    job = httpx.post(f"{live}/api/v1/jobs", json=EXPORT, headers=org.member.headers).json()
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'failed', completed_at = now() WHERE id = %s",
            [job["id"]],
        )
    return str(job["id"])


def test_ten_concurrent_retries_make_one_retry(
    served: Served,
    make_org: Any,
    db: Database,
) -> None:
    org = make_org("Retries")
    job_id = _failed_job(served.url, org, db)
    url = f"{served.url}/api/v1/jobs/{job_id}/retry"
    answers = race(10, lambda: httpx.post(url, headers=org.member.headers, timeout=30))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9
    assert all(
        a.headers["content-type"] == "application/problem+json"
        for a in answers[1:]
        if a.status_code == 409
    )
    retries = [j for j in jobs_of(db, org) if j["retry_of"] is not None]
    assert len(retries) == 1
    keyed = {**org.member.headers, "Idempotency-Key": "retry-once"}
    second = _failed_job(served.url, org, db)
    url = f"{served.url}/api/v1/jobs/{second}/retry"
    answers = race(10, lambda: httpx.post(url, headers=keyed, timeout=30))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["id"] for a in answers}) == 1


def _raw_requests(live: str, paths: list[str]) -> list[bytes]:
    """Send the requests one after another on ONE kept-alive connection; the answers."""
    host, port = live.removeprefix("http://").split(":")
    answers: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        reader = conn.makefile("rb")
        for path in paths:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                status += line
            answers.append(status + reader.read(length))
    return answers


def test_an_unexpected_error_is_problem_json_logged_once_and_keeps_the_connection(
    served: Served,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    served.app.add_api_route("/api/v1/test-boom", boom, methods=["GET"])
    with caplog.at_level(logging.ERROR):
        first, second = _raw_requests(served.url, ["/api/v1/test-boom", "/healthz"])
    assert first.startswith(b"HTTP/1.1 500")
    assert b"content-type: application/problem+json" in first.lower()
    assert b'"status":500' in first and b"a bug" not in first
    assert second.startswith(b"HTTP/1.1 200") and b'"ok"' in second
    logged = [r for r in caplog.records if r.exc_info and "a bug" in str(r.exc_info[1])]
    assert len(logged) == 1


def test_keys_are_another_organizations_own(app_client: Any, make_org: Any, db: Database) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    headers = {**theirs.member.headers, "Idempotency-Key": "shared-name"}
    assert app_client.post("/api/v1/jobs", json=EXPORT, headers=headers).status_code == 201
    with db.tenant(mine.id) as conn:
        seen = conn.execute("SELECT count(*) AS n FROM idempotency_keys").fetchone()
    assert seen == {"n": 0}
    with db.tenant(theirs.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM idempotency_keys").fetchone() == {"n": 1}
