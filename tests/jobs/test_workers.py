"""Real worker processes on real PostgreSQL: every job once across processes and slots,
kill -9 recovery, SIGTERM release, database connection loss, cancel racing claims."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from crmferry.db import Database
from tests.conftest import Org
from tests.jobs.conftest import SpawnWorker, add_jobs, effects, jobs_of, statuses, wait_until

pytestmark = pytest.mark.usefixtures("quiet_queue")


def test_many_workers_run_each_due_job_exactly_once(
    db: Database, make_org: Any, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.txt"
    orgs = [make_org("Busy") for _ in range(4)]
    ids = [i for org in orgs for i in add_jobs(db, org, 500, options={"trace": str(trace)})]
    for _ in range(3):
        spawn_worker(concurrency=4)
    wait_until(lambda: statuses(db, ids) == {"completed": 2000}, 120, "2,000 jobs to complete")
    rows = jobs_of(db, ids)
    assert {r["attempts"] for r in rows} == {1}
    assert len({r["worker_id"] for r in rows}) >= 2  # the work really was shared
    assert len(trace.read_text().splitlines()) == 2000
    runs = effects(db, ids)
    assert len(runs) == 2000 and set(runs.values()) == {1}


def test_kill_9_mid_job_is_retried_after_the_lease_and_applied_once(
    db: Database, org: Org, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.txt"
    (job_id,) = add_jobs(db, org, 1, options={"sleep": 2, "trace": str(trace)})
    victim = spawn_worker(concurrency=1, lease_seconds=3)
    wait_until(lambda: trace.exists(), 30, "the job to start")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    (row,) = jobs_of(db, [job_id])
    assert row["status"] == "processing"
    spawn_worker(concurrency=1, lease_seconds=3)
    wait_until(lambda: statuses(db, [job_id]) == {"completed": 1}, 60, "the retry")
    (row,) = jobs_of(db, [job_id])
    assert row["attempts"] == 2
    assert [h["outcome"] for h in row["attempt_history"]] == ["lease expired", "completed"]
    assert len(trace.read_text().splitlines()) == 2  # ran twice ...
    assert effects(db, [job_id]) == {str(job_id): 1}  # ... took effect once


def test_heartbeat_keeps_the_lease_through_a_long_cpu_step(
    db: Database, org: Org, spawn_worker: SpawnWorker
) -> None:
    """4 s of CPU without a progress call on a 2 s lease: one attempt, never swept."""
    (job_id,) = add_jobs(db, org, 1, options={"cpu": 4})
    spawn_worker(concurrency=1, lease_seconds=2)
    spawn_worker(concurrency=1, lease_seconds=2)  # a second worker sweeps expired leases
    wait_until(lambda: statuses(db, [job_id]) == {"completed": 1}, 60, "the job")
    (row,) = jobs_of(db, [job_id])
    assert row["attempts"] == 1
    assert [h["outcome"] for h in row["attempt_history"]] == ["completed"]


def test_sigterm_releases_a_running_job_to_pending_at_once(
    db: Database, org: Org, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.txt"
    (job_id,) = add_jobs(db, org, 1, options={"sleep": 60, "trace": str(trace)})
    worker = spawn_worker(concurrency=1, shutdown_grace_seconds=0.5, lease_seconds=60)
    wait_until(lambda: trace.exists(), 30, "the job to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    (row,) = jobs_of(db, [job_id])
    assert row["status"] == "pending" and row["worker_id"] is None
    assert row["attempt_history"][-1]["outcome"] == "released at shutdown"
    assert effects(db, [job_id]) == {}


def test_sigterm_lets_a_short_job_finish_within_the_grace(
    db: Database, org: Org, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.txt"
    (job_id,) = add_jobs(db, org, 1, options={"sleep": 1, "trace": str(trace)})
    worker = spawn_worker(concurrency=1, shutdown_grace_seconds=30)
    wait_until(lambda: trace.exists(), 30, "the job to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert statuses(db, [job_id]) == {"completed": 1}


def test_workers_recover_when_their_database_connections_are_killed(
    db: Database, org: Org, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(concurrency=8)
    first = add_jobs(db, org, 16, options={"sleep": 0.3})  # the worker's pool grows
    wait_until(lambda: statuses(db, first) == {"completed": 16}, 60, "the first jobs")
    with db.owner_connect() as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
            " WHERE usename = 'crmferry_app' AND pid <> pg_backend_pid()"
            "   AND datname = current_database()"
        ).fetchone()
    assert killed is not None and killed["n"] >= 1
    db.pool.check()  # this test process's own pool lost its connections too
    second = add_jobs(db, org, 16, options={"sleep": 0.3})
    wait_until(lambda: statuses(db, second) == {"completed": 16}, 60, "jobs after the loss")


def test_cancel_racing_claims_never_both_cancels_and_runs(
    db: Database, org: Org, spawn_worker: SpawnWorker, app_client: Any
) -> None:
    for _ in range(2):
        spawn_worker(concurrency=4)
    ids = add_jobs(db, org, 200, at="2000-01-01T00:00:00Z")  # all due at once
    codes = [
        app_client.post(f"/api/v1/jobs/{i}/cancel", headers=org.member.headers).status_code
        for i in ids
    ]
    wait_until(lambda: set(statuses(db, ids)) <= {"completed", "cancelled"}, 60, "every job to end")
    runs = effects(db, ids)
    for job_id, code, row in zip(
        ids, codes, sorted(jobs_of(db, ids), key=lambda r: ids.index(r["id"])), strict=True
    ):
        if code == 200:  # cancelled while pending: never started
            assert row["status"] == "cancelled" and row["attempts"] == 0
            assert str(job_id) not in runs
        elif code == 202:  # asked a running job to stop: cancelled with nothing kept, or done
            assert (row["status"], str(job_id) in runs) in (
                ("cancelled", False),
                ("completed", True),
            )
        else:  # finished before the cancel arrived
            assert code == 409 and row["status"] == "completed" and runs[str(job_id)] == 1
