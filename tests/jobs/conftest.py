"""Engine test fixtures: the trivial kind in this process, worker subprocesses running
it, set-based job factories and a patient wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs import kinds
from tests.conftest import TEST_SECRET, Org
from tests.jobs.trivial_kind import TEST_KIND

REPO = Path(__file__).resolve().parents[2]

INSERT_JOBS = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, options, priority, max_attempts)
SELECT %(org)s, %(user)s, 'Test', 'export', 'contacts',
       coalesce(%(at)s, now()), %(options)s, %(priority)s, %(max_attempts)s
  FROM generate_series(1, %(n)s)
RETURNING id
"""


@pytest.fixture
def test_kind() -> Iterator[None]:
    """The trivial kind stands in for `export` in this process, for this test only."""
    export = kinds.kind_for("export")
    kinds.register(TEST_KIND, replace=True)
    yield
    kinds.register(export, replace=True)


@pytest.fixture
def quiet_queue(db: Database) -> None:
    """Cancel every job other tests left pending or running, so claims see only ours."""
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'cancelled', completed_at = now()"
            " WHERE status IN ('pending', 'processing')"
        )


def add_jobs(
    db: Database,
    org: Org,
    n: int = 1,
    options: dict[str, Any] | None = None,
    at: Any = None,
    priority: int = 0,
    max_attempts: int = 3,
) -> list[Any]:
    """n pending trivial jobs for `org` (one statement); their ids."""
    with db.tenant(org.id) as conn:
        rows = conn.execute(
            INSERT_JOBS,
            {
                "org": str(org.id),
                "user": org.member.user_id,
                "at": at,
                "options": Jsonb(options or {}),
                "priority": priority,
                "max_attempts": max_attempts,
                "n": n,
            },
        ).fetchall()
    return [r["id"] for r in rows]


def jobs_of(db: Database, ids: list[Any]) -> list[dict[str, Any]]:
    with db.owner_connect() as conn:
        return conn.execute("SELECT * FROM scheduled_jobs WHERE id = ANY(%s)", [ids]).fetchall()


def effects(db: Database, ids: list[Any]) -> dict[str, int]:
    """Committed runs per job (audit rows written in the job's own transaction)."""
    with db.owner_connect() as conn:
        rows = conn.execute(
            "SELECT target_id, count(*) AS n FROM audit_log WHERE action = 'engine-test.run'"
            " AND target_id = ANY(%s) GROUP BY target_id",
            [[str(i) for i in ids]],
        ).fetchall()
    return {r["target_id"]: r["n"] for r in rows}


def wait_until(check: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def statuses(db: Database, ids: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in jobs_of(db, ids):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


SpawnWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn_worker(database_url: str, settings: Settings, tmp_path: Path) -> Iterator[SpawnWorker]:
    """Factory: `crmferry worker --plugin tests.jobs.plugin` (or another plugin)
    subprocesses; all are stopped (SIGKILL if need be) after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(
        concurrency: int = 1, plugin: str = "tests.jobs.plugin", **env: object
    ) -> subprocess.Popen[bytes]:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CRMFERRY_SECRET_KEY": TEST_SECRET,
            "CRMFERRY_DATA_DIR": str(settings.data_dir),
            "CRMFERRY_POLL_SECONDS": "2",
            "CRMFERRY_MIN_LEAD_SECONDS": "0",
            "CRMFERRY_ORG_CONCURRENCY": "100",
            "PYTHONPATH": str(REPO),
            **{f"CRMFERRY_{k.upper()}": str(v) for k, v in env.items()},
        }
        log = (tmp_path / f"worker-{len(started)}.log").open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crmferry",
                "worker",
                "--concurrency",
                str(concurrency),
                "--plugin",
                plugin,
            ],
            env=environment,
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_log(tmp_path: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))
