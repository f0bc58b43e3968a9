"""The database protects itself: the web process (crmferry_app) and the workers
(crmferry_worker) connect as different roles, and each can do what its process needs
and nothing of the other's; the engine's functions refuse what they should; every
tenant policy reads the organization the same way; the embedded server asks for a
password. Each test connects as the role it speaks of."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.db.embedded import PASSWORD_FILE, pgdata_dir, start_embedded, stop_embedded
from tests.conftest import TEST_SECRET, Org

REPO = Path(__file__).resolve().parents[2]

# Each engine function with arguments that would do something.
ENGINE_CALLS = {
    "claim": "SELECT * FROM crmferry_claim_jobs('probe', 1, 100, 30)",
    "renew leases": "SELECT * FROM crmferry_renew_leases('probe', ARRAY[gen_random_uuid()], 30)",
    "recover expired": "SELECT * FROM crmferry_recover_expired_jobs()",
    "next due": "SELECT crmferry_next_due()",
    "due schedules": "SELECT * FROM crmferry_due_schedules(1)",
    "prune": "SELECT * FROM crmferry_prune_jobs(36500, 1)",
}

INSERT_JOB = """
INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type, scheduled_time,
                            status, completed_at, options, notify)
VALUES (%(org)s, %(user)s, 'export', 'contacts', now() + interval '1 day', %(status)s,
        %(completed)s, '{"fields": ["email"]}', '{"emails": ["boss@example.com"]}')
RETURNING id
"""


def _role(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_user AS role").fetchone()
    assert row is not None
    return str(row["role"])


def _add_job(db: Database, org: Org, status: str = "pending", completed: Any = None) -> Any:
    with db.owner_connect() as conn:
        row = conn.execute(
            INSERT_JOB,
            {
                "org": str(org.id),
                "user": org.member.user_id,
                "status": status,
                "completed": completed,
            },
        ).fetchone()
    assert row is not None
    return row["id"]


@pytest.mark.parametrize("call", list(ENGINE_CALLS))
def test_the_web_role_cannot_call_the_engine_functions(db: Database, call: str) -> None:
    with db.app_connect() as conn:
        assert _role(conn) == "crmferry_app"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(ENGINE_CALLS[call])


def test_the_web_role_keeps_jobs_cancel_run_now_and_metrics(
    app_client: TestClient, db: Database, org: Org
) -> None:
    """What the web needs still works as crmferry_app, under row security."""
    headers = org.member.headers
    body = {"job_type": "export", "data_type": "contacts", "scheduled_time": "2099-01-01T00:00:00Z"}
    job = app_client.post("/api/v1/jobs", json=body, headers=headers)
    assert job.status_code == 201, job.text
    cancelled = app_client.post(f"/api/v1/jobs/{job.json()['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    retried = app_client.post(f"/api/v1/jobs/{job.json()['id']}/retry", headers=headers)
    assert retried.status_code == 201, retried.text
    schedule = app_client.post(
        "/api/v1/schedules",
        json={
            "name": "Nightly",
            "job_type": "export",
            "data_type": "contacts",
            "options": {},
            "cron": "0 2 * * *",
            "timezone": "UTC",
        },
        headers=headers,
    )
    fired = app_client.post(f"/api/v1/schedules/{schedule.json()['id']}/run", headers=headers)
    assert fired.status_code == 201, fired.text
    metrics = app_client.get("/metrics")
    assert metrics.status_code == 200 and 'crmferry_jobs{status="pending"}' in metrics.text
    with db.app_connect() as conn:
        assert _role(conn) == "crmferry_app"
        for call in ENGINE_CALLS.values():
            name = call.split("crmferry_", 1)[1].split("(", 1)[0]
            allowed = conn.execute(
                "SELECT has_function_privilege(oid, 'EXECUTE') AS ok FROM pg_proc"
                " WHERE proname = %s",
                ["crmferry_" + name],
            ).fetchone()
            assert allowed == {"ok": False}, name


def test_the_worker_role_calls_the_engine_functions_and_sees_only_its_tenant(
    db: Database, worker_db: Database, make_org: Any
) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    ours, other = _add_job(db, mine), _add_job(db, theirs)
    with worker_db.app_connect() as conn:
        assert _role(conn) == "crmferry_worker"
        for call in ENGINE_CALLS.values():
            conn.execute(call).fetchall()
        with conn.transaction():
            conn.execute(
                "SELECT set_config('app.current_organization_id', %s, true)", [str(mine.id)]
            )
            seen = conn.execute("SELECT id FROM scheduled_jobs").fetchall()
            assert [r["id"] for r in seen] == [ours]
            assert (
                conn.execute("SELECT id FROM scheduled_jobs WHERE id = %s", [other]).fetchone()
                is None
            )
            conn.execute(
                "INSERT INTO contacts (organization_id, name) VALUES (%s, 'Ann')", [mine.id]
            )
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(
                    "INSERT INTO contacts (organization_id, name) VALUES (%s, 'Bob')", [theirs.id]
                )
    with worker_db.app_connect() as conn:  # no organization: nothing at all
        assert conn.execute("SELECT count(*) AS n FROM scheduled_jobs").fetchone() == {"n": 0}


def test_the_claim_answers_only_what_a_worker_needs(
    db: Database, worker_db: Database, org: Org
) -> None:
    with db.owner_connect() as conn:  # nothing else due: this test's job is the one claimed
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'cancelled', completed_at = now()"
            " WHERE status = 'pending'"
        )
    job_id = _add_job(db, org)
    with db.owner_connect() as conn:
        conn.execute("UPDATE scheduled_jobs SET scheduled_time = now() WHERE id = %s", [job_id])
    with worker_db.app_connect() as conn:
        claimed = conn.execute("SELECT * FROM crmferry_claim_jobs('probe', 1, 100, 30)").fetchall()
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'pending' WHERE id = %s", [job_id]
        )  # (invisible without an organization: the row stays processing)
    assert claimed == [
        {"id": job_id, "organization_id": str(org.id), "job_type": "export", "attempts": 1}
    ]


def test_prune_refuses_an_age_of_zero_days_or_less(
    db: Database, worker_db: Database, org: Org
) -> None:
    finished = _add_job(db, org, "completed", "2020-01-01T00:00:00Z")
    with worker_db.app_connect() as conn:
        for days in (0, -1):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least one day"):
                conn.execute("SELECT * FROM crmferry_prune_jobs(%s, 500)", [days])
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least one job"):
            conn.execute("SELECT * FROM crmferry_prune_jobs(30, 0)")
    with db.owner_connect() as conn:
        kept = conn.execute("SELECT id FROM scheduled_jobs WHERE id = %s", [finished]).fetchone()
    assert kept is not None


def test_every_tenant_policy_reads_the_organization_as_a_uuid(db: Database, org: Org) -> None:
    """A setting written in capitals names the same organization for every table
    (scheduled_jobs compared text with text, and saw nothing)."""
    job_id = _add_job(db, org)
    with db.owner_connect() as conn:
        conn.execute("INSERT INTO contacts (organization_id, name) VALUES (%s, 'Ann')", [org.id])
        policies = conn.execute(
            "SELECT tablename, qual FROM pg_policies WHERE policyname = 'tenant_isolation'"
            " AND qual LIKE '%%organization_id%%'"
        ).fetchall()
    with db.app_connect() as conn, conn.transaction():
        conn.execute(
            "SELECT set_config('app.current_organization_id', %s, true)", [str(org.id).upper()]
        )
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": 1}
        jobs = conn.execute("SELECT id FROM scheduled_jobs").fetchall()
    assert [r["id"] for r in jobs] == [job_id]
    assert len(policies) >= 10
    for policy in policies:
        assert "crmferry_current_org()" in policy["qual"], policy
        assert "current_setting" not in policy["qual"], policy


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def process_roles(database_url: str, settings: Settings) -> Iterator[Any]:
    """Start a `crmferry` command and tell which roles its connections use (found by
    an application name of its own), then stop it."""
    started: list[subprocess.Popen[bytes]] = []

    def roles_of(*args: str, ready: Any = None) -> set[str]:
        name = f"roles-probe-{secrets.token_hex(4)}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CRMFERRY_SECRET_KEY": TEST_SECRET,
            "CRMFERRY_DATA_DIR": str(settings.data_dir),
            "PGAPPNAME": name,
            "PYTHONPATH": str(REPO),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "crmferry", *args],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, f"crmferry {args[0]} exited"
            serving = ready is None or ready()  # a request opens the web's pool
            with db_owner(database_url) as conn:
                rows = conn.execute(
                    "SELECT DISTINCT usename FROM pg_stat_activity"
                    " WHERE application_name = %s AND usename LIKE 'crmferry%%'",
                    [name],
                ).fetchall()
            if rows and serving:
                return {r["usename"] for r in rows}
            time.sleep(0.2)
        raise AssertionError(f"crmferry {args[0]} never connected")

    yield roles_of
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def db_owner(url: str) -> psycopg.Connection[Any]:
    from psycopg.rows import dict_row

    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def test_workers_connect_as_the_worker_role_and_the_web_as_the_app_role(
    process_roles: Any,
) -> None:
    assert process_roles("worker") == {"crmferry_worker"}
    port = _port()

    def serving() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert process_roles("serve", "--port", str(port), ready=serving) == {"crmferry_app"}


def _without_password(url: str) -> str:
    params = conninfo_to_dict(url)
    params.pop("password", None)
    return make_conninfo(**params)  # type: ignore[arg-type]


def test_the_embedded_server_asks_for_the_owner_password(tmp_path: Path) -> None:
    """A new data dir, and one made before passwords (trust), alike."""
    url = start_embedded(tmp_path)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n integer)")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(_without_password(url)).close()
        password_file = tmp_path / PASSWORD_FILE
        assert oct(password_file.stat().st_mode & 0o777) == "0o600"
        assert conninfo_to_dict(url)["password"] == password_file.read_text().strip()
    finally:
        stop_embedded(tmp_path)
    # a data dir from before: the wheel's trusting pg_hba.conf, no password file
    (pgdata_dir(tmp_path) / "pg_hba.conf").write_text("local all all trust\n")
    (tmp_path / PASSWORD_FILE).unlink()
    url = start_embedded(tmp_path)
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(_without_password(url)).close()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    finally:
        stop_embedded(tmp_path)
