"""Event streams: one LISTEN connection per process however many streams are open, a
cap per user, and a stream that closes when its caller loses access."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from crmferry.accounts.auth import end_session, open_session
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web import event_hub
from tests.conftest import Org
from tests.jobs.conftest import add_jobs
from tests.security.conftest import LiveApp

STREAMS = 100

APP_CONNECTIONS = """
SELECT count(*) AS n,
       count(*) FILTER (WHERE query LIKE 'LISTEN crmferry%%') AS listening
  FROM pg_stat_activity
 WHERE usename = 'crmferry_app' AND datname = current_database()
"""


def _app_connections(db: Database) -> dict[str, int]:
    with db.owner_connect() as conn:
        row = conn.execute(APP_CONNECTIONS).fetchone()
    assert row is not None
    return {"n": int(row["n"]), "listening": int(row["listening"])}


def test_a_hundred_streams_of_one_viewer_share_one_database_connection(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings.model_copy(update={"sse_max_streams_per_user": STREAMS + 10}))
    counted: dict[str, dict[str, int]] = {}

    async def watch_all() -> list[list[str]]:
        limits = httpx.Limits(max_connections=STREAMS + 10)
        async with httpx.AsyncClient(base_url=app.url, timeout=30, limits=limits) as client:
            connected = [asyncio.Event() for _ in range(STREAMS)]
            received: list[list[str]] = [[] for _ in range(STREAMS)]

            async def watch(i: int) -> None:
                async with client.stream(
                    "GET", "/api/v1/events", headers=org.viewer.headers
                ) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith(": connected"):
                            connected[i].set()
                        elif line.startswith("data: "):
                            received[i].append(line)
                            return

            tasks = [asyncio.create_task(watch(i)) for i in range(STREAMS)]
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), 60)
            counted["open"] = await asyncio.to_thread(_app_connections, db)
            await asyncio.to_thread(add_jobs, db, org, 1, None, "2099-01-01T00:00:00Z")
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            counted["delivered"] = await asyncio.to_thread(_app_connections, db)
            return received

    # in a thread of its own: the browser tests leave an event loop running in this one
    outcome: list[list[list[str]]] = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(watch_all())))
    runner.start()
    runner.join(180)
    (received,) = outcome
    assert all(len(lines) == 1 and '"status": "pending"' in lines[0] for lines in received)
    for moment, connections in counted.items():
        assert connections["listening"] == 1, moment  # the process's one LISTEN connection
        # that one, and the shared pool (which the test process uses too)
        assert connections["n"] <= db.pool_size + 2, (moment, connections)


class _Watcher:
    """One event stream read in a thread; `ended` once the server closes it."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.status: int | None = None
        self.connected = threading.Event()
        self.ended = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            with httpx.stream("GET", url + "/api/v1/events", headers=headers, timeout=60) as r:
                self.status = r.status_code
                for line in r.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    if self._stop.is_set():
                        return
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def stop(self) -> None:
        self._stop.set()


def _open(app: LiveApp, headers: dict[str, str]) -> _Watcher:
    watcher = _Watcher(app.url, headers)
    assert watcher.connected.wait(20), f"no stream (status {watcher.status})"
    return watcher


def test_a_sixth_stream_of_one_user_is_a_429(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    assert settings.sse_max_streams_per_user == 5
    watchers = [_open(app, org.viewer.headers) for _ in range(5)]
    refused = httpx.get(app.url + "/api/v1/events", headers=org.viewer.headers, timeout=10)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert "CRMFERRY_SSE_MAX_STREAMS_PER_USER" in refused.json()["detail"]
    # another user of the organization is not counted against this one
    _open(app, org.member.headers).stop()
    watchers[0].stop()
    add_jobs(db, org, 1, at="2099-01-01T00:00:00Z")  # a line that wakes the stopped reader
    assert watchers[0].ended.wait(20)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the slot is free once the server sees the close
        again = _Watcher(app.url, org.viewer.headers)
        if again.connected.wait(5):
            break
        again.ended.wait(10)
    assert again.status == 200 and again.connected.is_set()


def _new_token(app: LiveApp, org: Org, email: str) -> tuple[str, str]:
    created = httpx.post(
        app.url + "/api/v1/tokens", json={"email": email}, headers=org.admin.headers
    ).json()
    return created["id"], created["token"]


def test_revoking_the_token_closes_an_open_stream(
    settings: Settings, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    token_id, token = _new_token(app, org, org.viewer.email)
    watcher = _open(app, {"Authorization": f"Bearer {token}"})
    assert not watcher.ended.wait(0.5)
    revoked = httpx.delete(app.url + f"/api/v1/tokens/{token_id}", headers=org.admin.headers)
    assert revoked.status_code == 204
    assert watcher.ended.wait(20), "the stream outlived its token"


@pytest.mark.parametrize("change", ["removed", "demoted"])
def test_losing_the_membership_or_the_role_closes_an_open_stream(
    settings: Settings, org: Org, serve_app: Callable[[Settings], LiveApp], change: str
) -> None:
    app = serve_app(settings)
    watcher = _open(app, org.member.headers)
    member = app.url + f"/api/v1/members/{org.member.user_id}"
    if change == "removed":
        answer = httpx.delete(member, headers=org.admin.headers)
    else:
        answer = httpx.patch(member, json={"role": "viewer"}, headers=org.admin.headers)
    assert answer.status_code in (200, 204), answer.text
    assert watcher.ended.wait(20), f"the stream outlived its caller being {change}"


def test_signing_out_closes_a_session_stream(
    settings: Settings, db: Database, org: Org, serve_app: Callable[[Settings], LiveApp]
) -> None:
    app = serve_app(settings)
    secret = open_session(db, org.id, org.viewer.user_id, timedelta(minutes=5))
    watcher = _open(app, {"Cookie": f"crmferry_session={secret}"})
    assert end_session(db, secret)
    assert watcher.ended.wait(20), "the stream outlived its session"


def test_streams_are_checked_again_periodically(
    settings: Settings,
    db: Database,
    org: Org,
    serve_app: Callable[[Settings], LiveApp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session that merely expires sends no notification: the periodic check
    (every RECHECK_SECONDS, 30 in production) closes its stream."""
    monkeypatch.setattr(event_hub, "RECHECK_SECONDS", 0.3)
    app = serve_app(settings)
    secret = open_session(db, org.id, org.viewer.user_id, timedelta(minutes=5))
    watcher = _open(app, {"Cookie": f"crmferry_session={secret}"})
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE user_id = %s",
            [org.viewer.user_id],
        )
    assert watcher.ended.wait(20), "the stream outlived its session's expiry"
