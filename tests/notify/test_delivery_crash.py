"""A worker killed in the middle of a delivery loses nothing: another worker sends the
same event again (at least once), with the same Message-ID."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.jobrun import run_job
from tests.jobs.conftest import SpawnWorker, add_jobs, wait_until
from tests.notify.smtp_server import smtp_server


@pytest.mark.usefixtures("test_kind", "quiet_queue")
def test_a_worker_killed_while_sending_leaves_the_mail_to_the_next(
    db: Database, settings: Settings, org: Org, spawn_worker: SpawnWorker
) -> None:
    with db.owner_connect() as conn:  # only this test's event is waiting
        conn.execute("UPDATE events SET dispatched_at = now() WHERE dispatched_at IS NULL")
    [job_id] = add_jobs(db, org, options={"fail": "the feed was empty"})
    run_job(db, settings, org.id, job_id)
    with smtp_server() as (inbox, url):
        inbox.hold.set()
        env = {"smtp_url": url, "lease_seconds": 2}
        first = spawn_worker(**env)
        assert inbox.holding.wait(60), "the first worker never reached DATA"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        inbox.hold.clear()
        spawn_worker(**env)
        wait_until(lambda: len(inbox.to(org.member.email)) == 1, what="the mail sent again")
        # the server has the mail a moment before the worker records the delivery done
        wait_until(
            lambda: _delivery(db, job_id)["status"] != "processing", what="the delivery ended"
        )
    delivery = _delivery(db, job_id)
    assert delivery["status"] == "completed" and delivery["attempts"] == 2
    assert "lease expired" in str(delivery["attempt_history"])
    [message] = inbox.to(org.member.email)
    assert message["Message-ID"].startswith(f"<{delivery['event_id']}.")
    assert message["Subject"] == "[CRM Ferry] Export of contacts failed: the feed was empty"


def _delivery(db: Database, job_id: object) -> dict[str, Any]:
    """The job that delivers the e-mail of `job_id`'s event."""
    with db.owner_connect() as conn:
        [delivery] = conn.execute(
            "SELECT d.* FROM scheduled_jobs d JOIN events e ON e.id = d.event_id"
            " WHERE e.job_id = %s AND d.job_type = 'deliver_email'",
            [job_id],
        ).fetchall()
    return delivery
