"""`crmferry webhooks ...` and `crmferry audit`, locally and through a server."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from crmferry.cli import app
from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import TEST_SECRET, Org
from tests.jobrun import run_job
from tests.webhooks.receiver import receiver


@pytest.fixture
def run(settings: Settings) -> Any:
    runner = CliRunner()
    env = {
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_OUTBOUND_ALLOW": "127.0.0.1",
        "CRMFERRY_ORG": "",
        "CRMFERRY_EMAIL": "",
        "CRMFERRY_URL": "",
        "CRMFERRY_TOKEN": "",
    }

    def invoke(*args: str) -> Any:
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_local_add_list_test_deliveries_remove(
    run: Any, org: Org, db: Database, settings: Settings
) -> None:
    from standardwebhooks import Webhook as Verifier

    me = ["--org", str(org.id), "--email", org.admin.email]
    with receiver() as hook:
        added = run("webhooks", "add", hook.url, "--events", "job.failed,export.large", *me)
        assert added.exit_code == 0, added.output
        webhook_id, secret = added.stdout.split()
        assert secret.startswith("whsec_")
        listed = run("webhooks", "list", *me)
        assert listed.exit_code == 0 and webhook_id in listed.stdout
        assert "job.failed,export.large" in listed.stdout and secret not in listed.stdout
        tested = run("webhooks", "test", webhook_id, *me)
        assert tested.exit_code == 0, tested.output
        event_id = tested.stdout.strip()
        with db.tenant(org.id) as conn:
            [job] = conn.execute(
                "SELECT id FROM scheduled_jobs WHERE job_type = 'webhook_delivery'"
                " AND status = 'pending'"
            ).fetchall()
        run_job(db, settings, org.id, job["id"])
        [got] = hook.received
        assert got.headers["webhook-id"] == event_id
        Verifier(secret).verify(got.body, got.headers)
    shown = run("webhooks", "deliveries", webhook_id, *me)
    assert shown.exit_code == 0 and "webhook.test" in shown.stdout and "succeeded" in shown.stdout
    removed = run("webhooks", "remove", webhook_id, *me)
    assert removed.exit_code == 0
    assert run("webhooks", "deliveries", webhook_id, *me).exit_code == 3  # not found


def test_members_may_not_and_bad_input_is_exit_2(run: Any, org: Org) -> None:
    member = ["--org", str(org.id), "--email", org.member.email]
    assert run("webhooks", "list", *member).exit_code != 0
    assert run("audit", *member).exit_code != 0
    admin = ["--org", str(org.id), "--email", org.admin.email]
    refused = run("webhooks", "add", "http://10.1.2.3/x", *admin)
    assert refused.exit_code == 2 and "refused" in refused.output
    assert run("audit", "--since", "yesterday", *admin).exit_code == 2
    assert run("audit", "--action", "nope", *admin).exit_code == 2


def test_audit_over_http_lists_who_did_what(run: Any, org: Org, live_url: str) -> None:
    import httpx

    me = ["--url", live_url, "--token", org.admin.token]
    with httpx.Client(base_url=f"{live_url}/api/v1", headers=org.admin.headers) as http:
        http.post("/tokens", json={"name": "from the cli test"}).raise_for_status()
    shown = run("audit", "--action", "token.created", *me)
    assert shown.exit_code == 0, shown.output
    assert "token.created" in shown.stdout and org.admin.email in shown.stdout
    assert "from the cli test" in shown.stdout
    hooks = run("webhooks", "list", *me)
    assert hooks.exit_code == 0, hooks.output
