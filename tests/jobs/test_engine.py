"""The engine's statements and one attempt's end, in-process on real PostgreSQL: claim
order and caps, exactly-once completion, failure and cancel roll-backs, lease loss
and recovery, and the claim's plan."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs import engine
from crmferry.jobs.running import run_claimed
from tests.conftest import Org
from tests.jobs.conftest import add_jobs, effects, jobs_of
from tests.stored import job_folder_left, staging_left, stored_keys

pytestmark = pytest.mark.usefixtures("test_kind", "quiet_queue")


def claim_mine(
    worker_db: Database, ids: list[Any], limit: int = 1, cap: int = 100
) -> list[engine.Claim]:
    """Claim, keeping only this test's jobs (others may be due in the shared database)."""
    claimed = engine.claim_jobs(worker_db, "test-worker", limit, cap, 30)
    mine = [c for c in claimed if c.job_id in ids]
    for claim in claimed:
        if claim.job_id not in ids:
            engine.release(worker_db, claim, "not this test's")
    return mine


def claim_all(worker_db: Database, ids: list[Any], cap: int = 100) -> list[engine.Claim]:
    got: list[engine.Claim] = []
    for _ in range(len(ids) * 3):
        got += claim_mine(worker_db, ids, limit=len(ids), cap=cap)
        if len(got) == len(ids):
            break
    return got


def test_claim_takes_priority_then_time_and_marks_the_lease(
    db: Database, worker_db: Database, org: Org
) -> None:
    low = add_jobs(db, org, 1, priority=0)
    high = add_jobs(db, org, 1, priority=9)
    future = add_jobs(db, org, 1, at="2099-01-01T00:00:00Z", priority=99)
    first = claim_mine(worker_db, low + high + future)
    assert [c.job_id for c in first] == high
    assert (first[0].attempts, first[0].job_type) == (1, "export")
    (job,) = jobs_of(db, high)
    assert job["status"] == "processing" and job["attempts"] == 1
    assert job["worker_id"] == "test-worker"
    assert job["lease_expires_at"] > job["started_at"]
    assert [c.job_id for c in claim_mine(worker_db, low + high + future)] == low
    assert claim_mine(worker_db, low + high + future) == []


def test_org_cap_is_applied_inside_the_claim(
    db: Database, worker_db: Database, make_org: Any
) -> None:
    busy, other = make_org("Busy"), make_org("Other")
    busy_ids = add_jobs(db, busy, 5)
    other_ids = add_jobs(db, other, 1)
    claimed = claim_all(worker_db, busy_ids + other_ids, cap=2)
    by_org = sorted(c.organization_id for c in claimed)
    assert by_org.count(str(busy.id)) == 2
    assert by_org.count(str(other.id)) == 1


def test_completion_commits_the_effect_and_status_together(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1, options={"sleep": 0.2})
    (job,) = claim_all(worker_db, ids)
    assert run_claimed(worker_db, settings, job) == "completed"
    (row,) = jobs_of(db, ids)
    assert row["status"] == "completed" and row["completed_at"] is not None
    assert row["progress_done"] == row["progress_total"] == 4
    assert row["counts"]["inserted"] == 4
    assert row["attempt_history"][-1]["outcome"] == "completed"
    assert effects(db, ids) == {str(ids[0]): 1}


def test_a_job_that_sleeps_a_second_records_at_least_a_second(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    """completed_at, updated_at and the attempt's ended_at mark when the work ended, not
    when the job's transaction began (a lower bound on recorded durations only)."""
    ids = add_jobs(db, org, 1, options={"sleep": 1})
    (job,) = claim_all(worker_db, ids)
    assert run_claimed(worker_db, settings, job) == "completed"
    (row,) = jobs_of(db, ids)
    second = timedelta(seconds=1)
    assert row["completed_at"] - row["started_at"] >= second
    assert row["updated_at"] - row["started_at"] >= second
    (attempt,) = row["attempt_history"]
    ended = datetime.fromisoformat(attempt["ended_at"])
    assert ended - datetime.fromisoformat(attempt["started_at"]) >= second


@pytest.mark.usefixtures("each_backend")
def test_failed_outcome_rolls_back_data_but_keeps_message_and_report(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1, options={"fail": "3 rows were bad", "report": "row_number\n"})
    (job,) = claim_all(worker_db, ids)
    assert run_claimed(worker_db, settings, job) == "failed"
    (row,) = jobs_of(db, ids)
    assert row["status"] == "failed" and row["error_message"] == "3 rows were bad"
    assert row["error_report_path"]
    assert stored_keys(settings, f"jobs/{org.id}/{ids[0]}") == [row["error_report_path"]]
    assert effects(db, ids) == {}


@pytest.mark.usefixtures("each_backend")
def test_a_failed_outcome_without_a_report_leaves_no_folder(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1, options={"fail": "the source was empty", "folder": True})
    (job,) = claim_all(worker_db, ids)
    assert run_claimed(worker_db, settings, job) == "failed"
    assert not job_folder_left(settings, org.id, ids[0])


@pytest.mark.usefixtures("each_backend")
def test_an_exception_fails_the_job_with_its_message_and_no_effect(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1, options={"raise": "boom", "folder": True})
    (job,) = claim_all(worker_db, ids)
    assert run_claimed(worker_db, settings, job) == "failed"
    (row,) = jobs_of(db, ids)
    assert row["error_message"] == "RuntimeError: boom"
    assert row["result_path"] is None
    assert not job_folder_left(settings, org.id, ids[0])
    assert effects(db, ids) == {}


@pytest.mark.usefixtures("each_backend")
def test_cancel_request_stops_a_running_job_and_keeps_nothing(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1, options={"sleep": 3, "folder": True})
    (job,) = claim_all(worker_db, ids)
    with db.tenant(org.id) as conn:
        conn.execute("UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s", ids)
    assert run_claimed(worker_db, settings, job) == "cancelled"
    (row,) = jobs_of(db, ids)
    assert row["status"] == "cancelled" and row["progress_done"] < 60
    assert effects(db, ids) == {}
    assert not job_folder_left(settings, org.id, ids[0])  # no empty folder either


def test_cancel_arriving_after_the_work_still_decides_cancelled(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    """The completion check decides: a cancel requested before the final update wins."""
    ids = add_jobs(db, org, 1, options={"cpu": 0.3})
    (job,) = claim_all(worker_db, ids)
    with db.tenant(org.id) as conn:
        conn.execute("UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s", ids)
    assert run_claimed(worker_db, settings, job) == "cancelled"
    assert effects(db, ids) == {}


@pytest.mark.usefixtures("each_backend")
def test_a_result_stored_before_a_cancel_wins_the_commit_is_removed(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    """The file goes into the store before "completed"; when that commit loses to a
    cancel, the stored file goes again."""
    ids = add_jobs(db, org, 1, options={"cpu": 0.3, "result": "a,b\n"})
    (job,) = claim_all(worker_db, ids)
    with db.tenant(org.id) as conn:
        conn.execute("UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s", ids)
    assert run_claimed(worker_db, settings, job) == "cancelled"
    (row,) = jobs_of(db, ids)
    assert row["result_path"] is None
    assert not job_folder_left(settings, org.id, ids[0])


@pytest.mark.usefixtures("each_backend")
def test_a_completed_result_is_stored_under_its_attempt(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1, options={"result": "a,b\n"})
    (job,) = claim_all(worker_db, ids)
    assert run_claimed(worker_db, settings, job) == "completed"
    (row,) = jobs_of(db, ids)
    assert row["result_path"] == f"jobs/{org.id}/{ids[0]}/attempt-1/result.csv"
    assert stored_keys(settings, f"jobs/{org.id}/{ids[0]}") == [row["result_path"]]
    assert not staging_left(settings)


def test_a_lost_claim_never_records_its_outcome(
    db: Database, worker_db: Database, settings: Settings, org: Org
) -> None:
    ids = add_jobs(db, org, 1)
    (job,) = claim_all(worker_db, ids)
    with db.owner_connect() as conn:  # another attempt took it over meanwhile
        conn.execute(
            "UPDATE scheduled_jobs SET attempts = 2, worker_id = 'other' WHERE id = %s", ids
        )
    assert run_claimed(worker_db, settings, job) == "lost"
    (row,) = jobs_of(db, ids)
    assert row["status"] == "processing" and row["worker_id"] == "other"
    assert effects(db, ids) == {}


def test_expired_leases_go_back_with_backoff_then_fail_after_max_attempts(
    db: Database, worker_db: Database, org: Org
) -> None:
    ids = add_jobs(db, org, 1, max_attempts=2)
    for attempt in (1, 2):
        (job,) = claim_all(worker_db, ids)
        assert job.attempts == attempt
        with db.owner_connect() as conn:
            conn.execute(
                "UPDATE scheduled_jobs SET lease_expires_at = now() - interval '1 second'"
                " WHERE id = %s",
                ids,
            )
        engine.recover_expired(worker_db)
        (row,) = jobs_of(db, ids)
        if attempt == 1:
            assert row["status"] == "pending" and row["worker_id"] is None
            assert row["scheduled_time"] > row["started_at"]  # backoff
            assert row["attempt_history"][-1]["outcome"] == "lease expired"
            with db.owner_connect() as conn:
                conn.execute("UPDATE scheduled_jobs SET scheduled_time = now() WHERE id = %s", ids)
    assert row["status"] == "failed"
    assert "Gave up after 2 attempts" in row["error_message"]
    assert "lease expired" in row["error_message"]


def test_release_returns_a_job_to_pending_at_once(
    db: Database, worker_db: Database, org: Org
) -> None:
    ids = add_jobs(db, org, 1)
    (job,) = claim_all(worker_db, ids)
    assert engine.release(worker_db, job, "released at shutdown")
    (row,) = jobs_of(db, ids)
    assert row["status"] == "pending" and row["lease_expires_at"] is None
    assert not engine.release(worker_db, job, "twice")


def test_claim_plan_uses_the_partial_claim_index(db: Database, org: Org) -> None:
    """EXPLAIN the claim function's own statement on enough rows to matter."""
    add_jobs(db, org, 3000, at="2099-01-01T00:00:00Z")
    with db.owner_connect() as conn:
        conn.execute("ANALYZE scheduled_jobs")
        source = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'crmferry_claim_jobs'"
        ).fetchone()
        assert source is not None
        values = {"p_worker": "'w'", "p_limit": "1", "p_org_cap": "4", "p_lease_seconds": "30"}
        statement = re.sub(r"\bp_\w+\b", lambda m: values[m.group(0)], source["prosrc"])
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute("EXPLAIN " + statement).fetchall())
        conn.execute("DELETE FROM scheduled_jobs WHERE scheduled_time = '2099-01-01T00:00:00Z'")
    assert "scheduled_jobs_claim_idx" in plan, plan


def test_job_list_pages_through_the_org_list_index(db: Database, org: Org) -> None:
    """As the application role, so the tenant policy is part of the plan too."""
    from crmferry.jobs.operations import LIST_JOBS

    add_jobs(db, org, 5000, at="2099-01-01T00:00:00Z")
    with db.owner_connect() as conn:
        conn.execute("ANALYZE scheduled_jobs")
    with db.tenant(org.id) as conn:
        after = conn.execute(
            "SELECT created_at, id FROM scheduled_jobs"
            " ORDER BY created_at DESC, id DESC OFFSET 2500 LIMIT 1"
        ).fetchone()
        assert after is not None
        params = {
            "status": None,
            "job_type": None,
            "data_type": None,
            "after_at": after["created_at"],
            "after_id": after["id"],
            "limit": 51,
        }
        rows = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + LIST_JOBS, params).fetchone()
        first = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON)"
            " SELECT * FROM scheduled_jobs ORDER BY created_at DESC, id DESC LIMIT 50"
        ).fetchone()
    with db.owner_connect() as conn:
        conn.execute("DELETE FROM scheduled_jobs WHERE organization_id = %s", [str(org.id)])
    assert rows is not None and first is not None
    text = str(rows["QUERY PLAN"][0]["Plan"])
    assert "scheduled_jobs_org_list_idx" in text, text
    assert "'Actual Rows': 51" in text
    assert "Rows Removed by Filter" not in text  # a keyset page: rows before it are not read
    # the policy alone (no organization in the query) is served by the same index
    policy_only = str(first["QUERY PLAN"][0]["Plan"])
    assert "scheduled_jobs_org_list_idx" in policy_only, policy_only
    assert "Rows Removed by Filter" not in policy_only
