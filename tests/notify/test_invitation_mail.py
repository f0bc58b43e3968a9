"""An invitation is e-mailed to the invited address through the outbox and the mail
channel (a real SMTP server in this process): the received link accepts it; the
token is never stored readable, and no other channel sees the event."""

from __future__ import annotations

import re
import secrets
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.notify.dispatch import dispatch_events
from crmferry.web.app import create_app
from tests.conftest import Org
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import SpawnWorker, wait_until
from tests.notify.smtp_server import Inbox, smtp_server
from tests.web.test_pages import browser_for
from tests.webhooks.conftest import create_hook
from tests.webhooks.receiver import receiver


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, url):
        yield inbox, settings.model_copy(update={"smtp_url": url, "smtp_from": "ferry@example.com"})


def _invite(client: TestClient, org: Org, email: str) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/members", json={"email": email, "role": "viewer"}, headers=org.admin.headers
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _invitation_event(db: Database, invitation_id: str) -> dict[str, Any] | None:
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT * FROM events WHERE type = 'invitation.created' AND payload->>'id' = %s",
            [invitation_id],
        ).fetchone()


def _deliveries(db: Database, event_id: object) -> list[dict[str, Any]]:
    with db.owner_connect() as conn:
        return conn.execute(
            "SELECT * FROM scheduled_jobs WHERE event_id = %s ORDER BY job_type", [event_id]
        ).fetchall()


def _deliver(db: Database, settings: Settings, org: Org, event_id: object) -> list[dict[str, Any]]:
    dispatch_events(worker_database(settings), settings)
    return [run_job(db, settings, org.id, d["id"]) for d in _deliveries(db, event_id)]


def test_the_invitee_is_mailed_the_link_and_it_accepts_the_invitation(
    db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    inbox, mail_settings = mail
    admin = TestClient(create_app(mail_settings, db))
    email = f"mailed-{secrets.token_hex(4)}@example.com"
    with receiver() as hook:  # an endpoint that takes every type it may subscribe to
        every = ["job.completed", "job.failed", "job.cancelled", "schedule.paused"]
        create_hook(admin, org, hook.url, [*every, "export.large", "webhook.disabled"])
        refused = admin.post(
            "/api/v1/webhooks",
            json={"url": hook.url, "events": ["invitation.created"]},
            headers=org.admin.headers,
        )
        assert refused.status_code == 422
        made = _invite(admin, org, email)
        token = made["invite_url"].rsplit("/invite/", 1)[1]
        event = _invitation_event(db, made["id"])
        assert event is not None and event["dispatched_at"] is None
        assert token not in str(event["payload"])  # sealed, never readable
        delivered = _deliver(db, mail_settings, org, event["id"])
    # the mail channel alone took the event: no webhook, no in-app notification
    assert [(d["job_type"], d["delivery_key"], d["status"]) for d in delivered] == [
        ("deliver_email", email, "completed")
    ]
    assert token not in str(delivered[0]["options"])
    with db.owner_connect() as conn:
        told = conn.execute("SELECT 1 FROM notifications WHERE event_id = %s", [event["id"]])
        assert told.fetchall() == []
    assert hook.received == []
    # the sealed token is gone from the event once the mail is sent
    sent = _invitation_event(db, made["id"])
    assert sent is not None and "sealed_token" not in sent["payload"]
    [message] = inbox.to(email)
    assert (
        message["Subject"].startswith("[CRM Ferry] ")
        and "invited you to Acme" in (message["Subject"])
    )
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    links = re.findall(re.escape(mail_settings.base_url) + r"/invite/(\S+)", plain.get_content())
    assert links == [token] and f'href="{made["invite_url"]}"' in html.get_content()
    # follow the link from the mail and accept as a new user
    invitee = TestClient(create_app(mail_settings, db), follow_redirects=False)
    page = invitee.get(f"/invite/{links[0]}")
    assert page.status_code == 200 and email in page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    accepted = invitee.post(
        f"/invite/{links[0]}",
        data={
            "csrf_token": match[1],
            "name": "Mia Mailed",
            "password": "mia's own secret",
            "repeat_password": "mia's own secret",
        },
    )
    assert accepted.status_code == 303
    me = invitee.get("/api/v1/me").json()
    assert (me["email"], me["role"], me["organization"]["id"]) == (email, "viewer", str(org.id))


def test_a_revoked_invitation_is_not_mailed(
    db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    inbox, mail_settings = mail
    admin = TestClient(create_app(mail_settings, db))
    email = f"revoked-{secrets.token_hex(4)}@example.com"
    made = _invite(admin, org, email)
    revoked = admin.delete(f"/api/v1/invitations/{made['id']}", headers=org.admin.headers)
    assert revoked.status_code == 204
    event = _invitation_event(db, made["id"])
    assert event is not None
    [delivery] = _deliver(db, mail_settings, org, event["id"])
    assert delivery["status"] == "completed" and "revoked" in delivery["error_message"]
    assert inbox.to(email) == []
    gone = _invitation_event(db, made["id"])
    assert gone is not None and "sealed_token" not in gone["payload"]


def test_without_an_smtp_url_the_link_is_shown_and_nothing_is_queued(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    assert not settings.smtp_url
    made = _invite(app_client, org, f"nomail-{secrets.token_hex(4)}@example.com")
    assert made["invite_url"].startswith(settings.base_url + "/invite/cf_")
    assert _invitation_event(db, made["id"]) is None


def test_a_refused_invitation_writes_no_event(
    db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    _, mail_settings = mail
    admin = TestClient(create_app(mail_settings, db))
    email = f"twice-{secrets.token_hex(4)}@example.com"
    _invite(admin, org, email)
    again = admin.post(
        "/api/v1/members", json={"email": email, "role": "viewer"}, headers=org.admin.headers
    )
    assert again.status_code == 409
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT count(*) AS n FROM events WHERE type = 'invitation.created'"
            " AND payload->>'email' = %s",
            [email],
        ).fetchone()
    assert rows is not None and rows["n"] == 1


@pytest.mark.usefixtures("quiet_queue")
def test_a_worker_killed_while_mailing_an_invitation_leaves_it_to_the_next(
    db: Database, settings: Settings, org: Org, spawn_worker: SpawnWorker
) -> None:
    with db.owner_connect() as conn:  # only this test's event is waiting
        conn.execute("UPDATE events SET dispatched_at = now() WHERE dispatched_at IS NULL")
    email = f"crash-{secrets.token_hex(4)}@example.com"
    with smtp_server() as (inbox, url):
        admin = TestClient(create_app(settings.model_copy(update={"smtp_url": url}), db))
        made = _invite(admin, org, email)
        inbox.hold.set()
        env = {"smtp_url": url, "lease_seconds": 2}
        first = spawn_worker(**env)
        assert inbox.holding.wait(60), "the first worker never reached DATA"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        inbox.hold.clear()
        spawn_worker(**env)
        wait_until(lambda: len(inbox.to(email)) == 1, what="the invitation mailed again")
        [message] = inbox.to(email)
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and made["invite_url"] in plain.get_content()
    event = _invitation_event(db, made["id"])
    assert event is not None
    wait_until(
        lambda: "sealed_token" not in (_invitation_event(db, made["id"]) or {})["payload"],
        what="the token dropped once sent",
    )
    [delivery] = _deliveries(db, event["id"])
    assert delivery["status"] == "completed" and delivery["attempts"] == 2


def test_the_settings_page_says_whether_the_link_is_mailed(
    db: Database, settings: Settings, org: Org
) -> None:
    without = browser_for(settings, db, org, org.admin).get("/settings").text
    assert "Send this link to" in without and "on its way" not in without
    mailing = settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:25"})
    page = browser_for(mailing, db, org, org.admin).get("/settings").text
    assert "The link is on its way to" in page and "Send this link to" not in page
