"""E-mail through a real SMTP server (aiosmtpd in this process): who gets mail, what it
says (parsed from what the server received), attachments, retries and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.notify.dispatch import dispatch_events
from tests.conftest import Org
from tests.imports.conftest import Importer
from tests.jobrun import run_job, worker_database
from tests.jobs.conftest import add_jobs
from tests.notify.smtp_server import Inbox, smtp_server
from tests.notify.tls import make_certificates


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, url):
        yield inbox, settings.model_copy(update={"smtp_url": url, "smtp_from": "ferry@example.com"})


def deliver(
    db: Database, settings: Settings, org: Org, job_type: str = "deliver_email"
) -> list[dict[str, Any]]:
    """Dispatch every waiting event and run the organization's pending deliveries of
    one channel."""
    dispatch_events(worker_database(settings), settings)
    with db.owner_connect() as conn:
        pending = conn.execute(
            "SELECT id FROM scheduled_jobs WHERE organization_id = %s AND status = 'pending'"
            " AND job_type = %s ORDER BY delivery_key",
            [str(org.id), job_type],
        ).fetchall()
    return [run_job(db, settings, org.id, row["id"]) for row in pending]


def text_of(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


GOOD = "".join(f"Person {n},person{n}@example.com\n" for n in range(40))


def test_an_import_mails_its_notify_addresses_the_counts_first_errors_and_a_link(
    importer: Importer, db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    inbox, mail_settings = mail
    content = "Name,Email\n" + GOOD + "Bad Mail,bob@\n"
    upload = importer.upload(org.member, content, name="contacts.csv", data_type="contacts")
    body = {
        "upload_id": upload["id"],
        "mapping": upload["suggested_mapping"],
        "options": {"on_error": "skip"},
        "notify": {"emails": ["Boss@Example.com", "ops@example.com"]},
    }
    job_id = importer.create_from_body(org, "import", "contacts", body)
    assert run_job(db, mail_settings, org.id, job_id)["status"] == "completed"
    deliveries = deliver(db, mail_settings, org)
    assert [d["delivery_key"] for d in deliveries] == ["boss@example.com", "ops@example.com"]
    assert all(d["status"] == "completed" for d in deliveries)
    [message] = inbox.to("boss@example.com")
    assert (
        message["Subject"] == "[CRM Ferry] Import of contacts.csv completed: 40 inserted, 1 failed"
    )
    assert message["From"] == "ferry@example.com"
    assert message["X-CRM-Ferry-Event"].startswith("job.completed ")
    plain, html = text_of(message)
    assert "Inserted:  40" in plain and "Failed:    1" in plain
    assert "row 42, email:" in plain.lower() and "bob@" in plain
    link = f"{mail_settings.base_url}/jobs?job={job_id}"
    assert link in plain and f'href="{link}"' in html
    assert "<td>bob@</td>" in html
    assert len(inbox.to("ops@example.com")) == 1
    assert inbox.to(org.member.email) == []  # a success: not by the default preference


@pytest.mark.usefixtures("test_kind")
def test_a_members_failed_job_is_mailed_to_them_unless_they_want_none(
    app_client: TestClient, db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    inbox, mail_settings = mail
    [failed] = add_jobs(db, org, options={"fail": "the feed was empty"})
    run_job(db, mail_settings, org.id, failed)
    deliver(db, mail_settings, org)
    [message] = inbox.to(org.member.email)
    assert message["Subject"] == "[CRM Ferry] Export of contacts failed: the feed was empty"
    app_client.patch("/api/v1/me", json={"notify": "none"}, headers=org.member.headers)
    [quiet] = add_jobs(db, org, options={"fail": "again"})
    run_job(db, mail_settings, org.id, quiet)
    deliver(db, mail_settings, org)
    assert len(inbox.to(org.member.email)) == 1


@pytest.mark.usefixtures("test_kind")
def test_an_export_attaches_its_file_when_asked_and_small_enough(
    db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    inbox, mail_settings = mail
    notify = {"emails": ["sales@example.com"], "attach": True}
    ids = add_jobs(db, org, n=2, options={"result": "name,email\nAnn,ann@example.com\n"})
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET notify = %s WHERE id = ANY(%s)", [Jsonb(notify), ids]
        )
    run_job(db, mail_settings, org.id, ids[0])
    deliver(db, mail_settings, org)
    [small] = inbox.to("sales@example.com")
    [attached] = list(small.iter_attachments())
    assert attached.get_content() in (
        "name,email\nAnn,ann@example.com\n",
        b"name,email\nAnn,ann@example.com\n",
    )
    tiny = mail_settings.model_copy(update={"mail_attach_max_bytes": 10})
    run_job(db, tiny, org.id, ids[1])
    deliver(db, tiny, org)
    large = inbox.to("sales@example.com")[1]
    assert list(large.iter_attachments()) == []
    plain, _ = text_of(large)
    assert f"{tiny.base_url}/api/v1/jobs/{ids[1]}/result" in plain
    assert "not attached" in plain


@pytest.mark.usefixtures("test_kind")
def test_a_server_that_cannot_take_mail_now_is_tried_again_a_refusal_is_final(
    db: Database, org: Org, mail: tuple[Inbox, Settings]
) -> None:
    inbox, mail_settings = mail
    [job_id] = add_jobs(db, org, options={"fail": "no"})
    run_job(db, mail_settings, org.id, job_id)
    inbox.answer = "451 4.3.0 try again later"
    [first] = deliver(db, mail_settings, org)
    assert first["status"] == "pending" and "451" in first["error_message"]
    assert first["scheduled_time"] > first["started_at"]
    inbox.answer = None
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET scheduled_time = now() WHERE id = %s", [first["id"]]
        )
    again = run_job(db, mail_settings, org.id, first["id"])
    assert (again["status"], again["attempts"]) == ("completed", 2)
    [message] = inbox.to(org.member.email)
    assert message["Message-ID"].startswith(f"<{again['event_id']}.")
    [refused_job] = add_jobs(db, org, options={"fail": "no"})
    run_job(db, mail_settings, org.id, refused_job)
    inbox.answer = "550 5.1.1 no such mailbox"
    [refused] = deliver(db, mail_settings, org)
    assert refused["status"] == "failed" and "550" in refused["error_message"]


@pytest.mark.usefixtures("test_kind")
def test_the_smtp_url_carries_user_and_password(db: Database, settings: Settings, org: Org) -> None:
    with smtp_server(login=("ferry", "p@ss word")) as (inbox, url):
        user = url.replace("smtp://", f"smtp://ferry:{quote('p@ss word')}@")
        mail_settings = settings.model_copy(update={"smtp_url": user})
        [job_id] = add_jobs(db, org, options={"fail": "no"})
        run_job(db, mail_settings, org.id, job_id)
        [done] = deliver(db, mail_settings, org)
        assert done["status"] == "completed", done["error_message"]
        assert inbox.logins == [("ferry", "p@ss word")]
        assert len(inbox.to(org.member.email)) == 1


def test_addresses_that_would_inject_headers_are_refused(app_client: TestClient, org: Org) -> None:
    for bad in ["a@example.com\r\nBcc: all@example.com", "x@example.com, y@example.com", "<a@b>"]:
        body = {"job_type": "export", "data_type": "contacts", "notify": {"emails": [bad]}}
        answer = app_client.post("/api/v1/jobs", json=body, headers=org.member.headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_without_an_smtp_url_no_mail_is_planned(
    db: Database, settings: Settings, org: Org, test_kind: None
) -> None:
    [job_id] = add_jobs(db, org, options={"fail": "no"})
    run_job(db, settings, org.id, job_id)
    dispatch_events(worker_database(settings), settings)
    with db.owner_connect() as conn:
        kinds = conn.execute(
            "SELECT d.job_type FROM scheduled_jobs d JOIN events e ON e.id = d.event_id"
            " WHERE e.job_id = %s",
            [job_id],
        ).fetchall()
    assert [k["job_type"] for k in kinds] == ["notify_in_app"]


@pytest.mark.usefixtures("test_kind")
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_mail_goes_over_tls_starttls_or_smtps(
    db: Database,
    settings: Settings,
    org: Org,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    implicit: bool,
) -> None:
    ca_file, server_tls = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the client trusts the test CA
    with smtp_server(tls=server_tls, implicit_tls=implicit) as (inbox, url):
        query = "" if implicit else "?starttls=require"
        mail_settings = settings.model_copy(update={"smtp_url": url + query})
        [job_id] = add_jobs(db, org, options={"fail": "no"})
        run_job(db, mail_settings, org.id, job_id)
        [done] = deliver(db, mail_settings, org)
        assert done["status"] == "completed", done["error_message"]
        assert len(inbox.to(org.member.email)) == 1


@pytest.mark.usefixtures("test_kind")
def test_starttls_required_but_not_offered_sends_nothing(
    db: Database, settings: Settings, org: Org
) -> None:
    with smtp_server() as (inbox, url):
        mail_settings = settings.model_copy(update={"smtp_url": url + "?starttls=require"})
        [job_id] = add_jobs(db, org, options={"fail": "no"})
        run_job(db, mail_settings, org.id, job_id)
        [done] = deliver(db, mail_settings, org)
        assert done["status"] == "pending"
        assert "does not offer STARTTLS" in done["error_message"]
        assert inbox.messages == []


def test_a_bad_smtp_url_is_refused_at_start() -> None:
    for bad in ["http://mail.example", "smtp://", "smtp://h?starttls=maybe", "smtp://h:99999"]:
        with pytest.raises(ValueError, match="CRMFERRY_SMTP_URL"):
            Settings(smtp_url=bad)
