"""The job queries the API serves stay index reads however many jobs there are: the job
list (first page and a deep cursor), one job, and /metrics, checked with EXPLAIN on a
table with thousands of jobs (planned with the values bound, as psycopg sends them)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest

from crmferry.accounts import admin
from crmferry.cursors import decode_cursor
from crmferry.db import Database
from crmferry.jobs.operations import GET_JOB, LIST_JOBS, list_jobs

JOBS = 4000

# Finished jobs over the last 20 days (inside the retention window, so that pruning
# tests leave them be), the newest 40 in the last hour; nothing pending, so that no
# worker of another test claims them.
HISTORY = """
INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type, scheduled_time,
                            status, created_at, started_at, completed_at, record_count)
SELECT %(org)s, %(user)s, 'export', 'contacts', t.at,
       CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'completed' END,
       t.at, t.at, t.at + interval '2 seconds', 100
  FROM generate_series(1, %(n)s) AS i,
       LATERAL (SELECT CASE WHEN i > %(n)s - 40 THEN now() - (%(n)s - i) * interval '1 minute'
                            ELSE now() - interval '1 hour' - (%(n)s - i) * interval '7 minutes'
                       END AS at) AS t
"""

# As many finished jobs again, all of them older than the last hour.
OLDER_HISTORY = """
INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type, scheduled_time,
                            status, created_at, started_at, completed_at, record_count)
SELECT %(org)s, (SELECT created_by FROM scheduled_jobs WHERE organization_id = %(org)s LIMIT 1),
       'export', 'contacts', t.at, 'completed', t.at, t.at,
       t.at + interval '2 seconds', 100
  FROM generate_series(1, %(n)s) AS i,
       LATERAL (SELECT now() - interval '2 hours' - i * interval '5 minutes' AS at) AS t
"""

COUNT_BY_STATUS = "SELECT status, count(*) AS n FROM scheduled_jobs GROUP BY status"
METRICS_BODY = "SELECT prosrc FROM pg_proc WHERE proname = 'crmferry_job_metrics'"
# Index entries and table rows this transaction has read from scheduled_jobs so far.
JOB_READS = """
SELECT (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0)
          FROM pg_index WHERE indrelid = 'scheduled_jobs'::regclass)
     + pg_stat_get_xact_tuples_returned('scheduled_jobs'::regclass) AS n
"""


@dataclass(frozen=True)
class History:
    org_id: UUID
    jobs: int


@pytest.fixture(scope="module")
def history(db: Database) -> Iterator[History]:
    """An organization with JOBS finished jobs, the table analysed."""
    with db.owner_connect() as conn:
        org_id = admin.create_organization(conn, f"History {secrets.token_hex(3)}")
        user_id = admin.create_user(conn, org_id, f"h-{secrets.token_hex(3)}@example.com", "member")
        conn.execute(HISTORY, {"org": str(org_id), "user": user_id, "n": JOBS})
        conn.execute("ANALYZE scheduled_jobs")
    yield History(org_id, JOBS)
    with db.owner_connect() as conn:
        conn.execute("DELETE FROM scheduled_jobs WHERE organization_id = %s", [str(org_id)])


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, outermost first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explain(
    conn: Any, query: Any, params: Any = None, analyze: bool = False
) -> list[dict[str, Any]]:
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    row = conn.execute(f"EXPLAIN ({options}) {query}", params).fetchone()
    return list(plan_nodes(row["QUERY PLAN"][0]["Plan"]))


def list_params(cursor: str | None = None) -> dict[str, Any]:
    """LIST_JOBS's parameters as `list_jobs` binds them for the default page."""
    after_at, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    return {
        "status": None,
        "job_type": None,
        "data_type": None,
        "after_at": after_at,
        "after_id": after_id,
        "limit": 51,
    }


def test_the_first_page_of_jobs_is_read_in_order_from_the_list_index(
    db: Database, history: History
) -> None:
    with db.tenant(history.org_id) as conn:
        nodes = explain(conn, LIST_JOBS, list_params())
    scans = [n for n in nodes if n.get("Relation Name") == "scheduled_jobs"]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Scan", "scheduled_jobs_org_list_idx")
    ]
    assert not [n for n in nodes if n["Node Type"] == "Sort"]


def test_a_deep_cursor_starts_the_index_scan_where_the_page_begins(
    db: Database, history: History
) -> None:
    with db.tenant(history.org_id) as conn:
        cursor = None
        for _ in range(30):  # 30 pages of 50 deep, by the API's own cursors
            _, cursor = list_jobs(conn, cursor=cursor)
        nodes = explain(conn, LIST_JOBS, list_params(cursor), analyze=True)
    scan = next(n for n in nodes if n.get("Relation Name") == "scheduled_jobs")
    assert scan["Index Name"] == "scheduled_jobs_org_list_idx"
    assert "created_at" in scan["Index Cond"]  # the cursor bounds the scan ...
    assert scan.get("Rows Removed by Filter", 0) == 0  # ... instead of skipping 1,500 rows
    assert scan["Actual Rows"] == 51


def test_one_job_is_read_by_its_primary_key(db: Database, history: History) -> None:
    with db.tenant(history.org_id) as conn:
        job_id = list_jobs(conn, limit=1)[0][0]["id"]
        nodes = explain(conn, GET_JOB, [job_id])
    scan = next(n for n in nodes if n.get("Relation Name") == "scheduled_jobs")
    assert (scan["Node Type"], scan["Index Name"]) == ("Index Scan", "scheduled_jobs_pkey")


def test_metrics_read_the_pending_index_and_the_last_hour_not_every_job(
    db: Database, history: History
) -> None:
    with db.owner_connect() as conn:
        body = conn.execute(METRICS_BODY).fetchone()["prosrc"]  # type: ignore[index]
        nodes = explain(conn, body)
    job_scans = [n["Node Type"] for n in nodes if n.get("Relation Name") == "scheduled_jobs"]
    assert job_scans and not [t for t in job_scans if "Seq Scan" in t]
    # the pending jobs due (queue lag) and the finished jobs of the last hour; no other
    # index, such as one on status that every job is in
    indexes = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert indexes == {"scheduled_jobs_pending_time_idx", "scheduled_jobs_finished_idx"}


def scrape_reads(conn: Any) -> int:
    """Index entries and rows of scheduled_jobs one metrics scrape reads."""
    before = conn.execute(JOB_READS).fetchone()["n"]
    conn.execute("SELECT * FROM crmferry_job_metrics()").fetchall()
    return int(conn.execute(JOB_READS).fetchone()["n"] - before)


def test_a_metrics_scrape_reads_far_fewer_job_rows_than_there_are_jobs(
    db: Database, history: History
) -> None:
    # A scrape reads every organization's pending and recent jobs, which other tests
    # leave behind (and their dead index entries), so an absolute bound is at their
    # mercy. Measured as a difference instead: 4,000 more finished jobs, older than an
    # hour, must add next to nothing to what a scrape reads.
    with db.owner_connect() as conn, conn.transaction():
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")  # every read counted here
        before = scrape_reads(conn)
        conn.execute(OLDER_HISTORY, {"org": str(history.org_id), "n": history.jobs})
        after = scrape_reads(conn)
        raise psycopg.Rollback()  # the extra jobs go again
    assert after - before < history.jobs / 10
    assert before > 0  # the counters count: the scrape reads the last hour's jobs


def metrics_counts(db: Database) -> dict[str, int]:
    with db.owner_connect() as conn:
        rows = conn.execute("SELECT * FROM crmferry_job_metrics()").fetchall()
    return {r["label"]: int(r["value"]) for r in rows if r["name"] == "jobs" and r["value"]}


def true_counts(db: Database) -> dict[str, int]:
    with db.owner_connect() as conn:
        return {r["status"]: r["n"] for r in conn.execute(COUNT_BY_STATUS).fetchall()}


def test_jobs_by_status_follow_every_insert_change_and_delete(
    db: Database, history: History
) -> None:
    org = str(history.org_id)
    assert metrics_counts(db) == true_counts(db)
    with db.owner_connect() as conn:
        user = conn.execute(
            "SELECT created_by FROM scheduled_jobs WHERE organization_id = %s LIMIT 1", [org]
        ).fetchone()["created_by"]  # type: ignore[index]
        steps = [
            # one statement, many rows; then a change of status, a heartbeat-like update
            # (no status change), a cancel, and deletes of one and of many
            (
                "INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type,"
                " scheduled_time) SELECT %s, %s, 'export', 'contacts', '2099-01-01'"
                " FROM generate_series(1, 25)",
                [org, user],
            ),
            (
                "UPDATE scheduled_jobs SET status = 'processing' WHERE id IN (SELECT id"
                " FROM scheduled_jobs WHERE organization_id = %s AND scheduled_time = '2099-01-01'"
                " LIMIT 10)",
                [org],
            ),
            (
                "UPDATE scheduled_jobs SET heartbeat_at = now() WHERE organization_id = %s"
                " AND status = 'processing'",
                [org],
            ),
            (
                "UPDATE scheduled_jobs SET status = 'cancelled', completed_at = now()"
                " WHERE organization_id = %s AND scheduled_time = '2099-01-01'"
                " AND status = 'pending'",
                [org],
            ),
            (
                "DELETE FROM scheduled_jobs WHERE id = (SELECT id FROM scheduled_jobs"
                " WHERE organization_id = %s AND status = 'cancelled' LIMIT 1)",
                [org],
            ),
            (
                "DELETE FROM scheduled_jobs WHERE organization_id = %s"
                " AND scheduled_time = '2099-01-01'",
                [org],
            ),
        ]
        for statement, params in steps:
            conn.execute(statement, params)
            assert metrics_counts(db) == true_counts(db), statement


def test_folding_the_ledger_keeps_every_count(db: Database, history: History) -> None:
    before = true_counts(db)
    with db.owner_connect() as conn:
        conn.execute("SELECT crmferry_fold_job_tallies()")
        rows = conn.execute("SELECT count(*) AS n FROM job_status_tallies").fetchone()["n"]  # type: ignore[index]
    assert rows <= 5
    assert metrics_counts(db) == before == true_counts(db)
