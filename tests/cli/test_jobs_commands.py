"""`crmferry jobs ...` acting locally (--org/--email) and through a server (--url/--token)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from crmferry.cli import app
from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import TEST_SECRET, Org
from tests.jobs.conftest import add_jobs, jobs_of


@pytest.fixture
def run(settings: Settings) -> Any:
    runner = CliRunner()
    env = {
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_ORG": "",
        "CRMFERRY_EMAIL": "",
        "CRMFERRY_URL": "",
        "CRMFERRY_TOKEN": "",
    }

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["jobs", *args], env=env)

    return invoke


def test_local_list_show_cancel_retry_delete(run: Any, org: Org, db: Database) -> None:
    me = ["--org", str(org.id), "--email", org.member.email]
    (job_id,) = add_jobs(db, org, 1, at="2099-01-01T00:00:00Z")
    listed = run("list", *me)
    assert listed.exit_code == 0, listed.output
    assert str(job_id) in listed.output and "pending" in listed.output
    shown = run("show", str(job_id), *me)
    assert "scheduled_time" in shown.output and "2099-01-01" in shown.output
    cancelled = run("cancel", str(job_id), *me)
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    again = run("cancel", str(job_id), *me)
    assert again.exit_code == 1 and "already cancelled" in again.output
    retried = run("retry", str(job_id), *me)
    assert retried.exit_code == 0, retried.output
    new_id = retried.output.strip()
    assert jobs_of(db, [new_id])[0]["retry_of"] == job_id
    assert run("delete", str(job_id), *me).exit_code == 0
    assert run("show", str(job_id), *me).exit_code == 3  # not found


def test_viewer_cannot_cancel_and_strangers_are_not_found(run: Any, org: Org, db: Database) -> None:
    (job_id,) = add_jobs(db, org, 1, at="2099-01-01T00:00:00Z")
    viewer = run("cancel", str(job_id), "--org", str(org.id), "--email", org.viewer.email)
    assert viewer.exit_code == 1 and "member role" in viewer.output
    stranger = run("list", "--org", str(org.id), "--email", "nobody@example.com")
    assert stranger.exit_code == 3
    nobody = run("list")
    assert nobody.exit_code == 2 and "--org and --email" in nobody.output


def test_over_http_with_a_token(run: Any, org: Org, db: Database, live_url: str) -> None:
    me = ["--url", live_url, "--token", org.member.token]
    (job_id,) = add_jobs(db, org, 1, at="2099-01-01T00:00:00Z")
    listed = run("list", "--status", "pending", *me)
    assert listed.exit_code == 0, listed.output
    assert str(job_id) in listed.output
    assert run("cancel", str(job_id), *me).exit_code == 0
    assert jobs_of(db, [job_id])[0]["status"] == "cancelled"
    conflict = run("cancel", str(job_id), *me)
    assert conflict.exit_code == 1 and "already cancelled" in conflict.output
    missing = run("show", "00000000-0000-0000-0000-000000000000", *me)
    assert missing.exit_code == 3
