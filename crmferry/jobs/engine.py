"""The engine's statements: claim, heartbeat, progress, finish, release, recover.

Every state change after the claim re-checks it (still processing, same worker,
same attempt): a worker that lost its lease can never overwrite the outcome of
the attempt that replaced it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.db import Conn, Database

CLAIM = "SELECT * FROM crmferry_claim_jobs(%(worker)s, %(limit)s, %(cap)s, %(lease)s)"

RECOVER = "SELECT * FROM crmferry_recover_expired_jobs()"

RENEW_ALL = "SELECT * FROM crmferry_renew_leases(%(worker)s, %(jobs)s, %(lease)s)"

NEXT_DUE = "SELECT crmferry_next_due() AS due, now() AS now"

# The claimed job, read in its organization's transaction (the claim answers only
# what identifies the attempt).
READ_CLAIMED = """
SELECT * FROM scheduled_jobs
 WHERE id = %(id)s AND status = 'processing' AND worker_id = %(worker)s
   AND attempts = %(attempts)s
"""

# Every statement below re-checks the claim: the row is still processing, held by
# this worker, in this attempt. Times that mark a moment after the work (a finish,
# a cancel, a release) are clock_timestamp(): now() inside the job's own
# transaction is the moment that transaction began, before the work.

PROGRESS = """
UPDATE scheduled_jobs
   SET progress_done = %(done)s, progress_total = coalesce(%(total)s, progress_total),
       heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => %(lease)s),
       updated_at = now()
 WHERE id = %(id)s AND status = 'processing' AND worker_id = %(worker)s
   AND attempts = %(attempts)s
RETURNING cancel_requested
"""

# A completed job is only completed if no cancel was requested meanwhile: the
# completion check decides the final state.
FINISH = """
UPDATE scheduled_jobs
   SET status = %(status)s::text, completed_at = clock_timestamp(),
       updated_at = clock_timestamp(),
       error_message = %(error)s, record_count = %(record_count)s::integer, counts = %(counts)s,
       result_path = %(result_path)s, result_size = %(result_size)s::bigint,
       error_report_path = %(error_report_path)s,
       upload_id = coalesce(%(upload_id)s::uuid, upload_id),
       mapping = coalesce(%(mapping)s::jsonb, mapping),
       items = coalesce(%(items)s::jsonb, items),
       options = coalesce(%(options)s::jsonb, options)
                 || CASE WHEN %(result_file_name)s::text IS NULL THEN '{}'::jsonb
                         ELSE jsonb_build_object('result_file_name', %(result_file_name)s::text)
                    END,
       progress_done = CASE WHEN %(status)s::text = 'completed'
                            THEN greatest(progress_done, %(record_count)s::bigint)
                            ELSE progress_done END,
       progress_total = CASE WHEN %(status)s::text = 'completed'
                             THEN greatest(progress_done, %(record_count)s::bigint)
                             ELSE progress_total END,
       lease_expires_at = NULL,
       attempt_history = attempt_history || jsonb_build_array(jsonb_build_object(
           'attempt', attempts, 'worker', worker_id, 'started_at', started_at,
           'ended_at', clock_timestamp(), 'outcome', %(status)s::text))
 WHERE id = %(id)s AND status = 'processing' AND worker_id = %(worker)s
   AND attempts = %(attempts)s
   AND (%(status)s::text <> 'completed' OR NOT cancel_requested)
RETURNING id
"""

CANCELLED_RUNNING = """
UPDATE scheduled_jobs
   SET status = 'cancelled', completed_at = clock_timestamp(), updated_at = clock_timestamp(),
       lease_expires_at = NULL,
       error_message = 'Cancelled while running; nothing it did was kept.',
       attempt_history = attempt_history || jsonb_build_array(jsonb_build_object(
           'attempt', attempts, 'worker', worker_id, 'started_at', started_at,
           'ended_at', clock_timestamp(), 'outcome', 'cancelled'))
 WHERE id = %(id)s AND status = 'processing' AND worker_id = %(worker)s
   AND attempts = %(attempts)s AND cancel_requested
RETURNING *
"""

# Shutdown or a lost connection: back to pending at once, not after the lease.
RELEASE = """
UPDATE scheduled_jobs
   SET status = 'pending', worker_id = NULL, lease_expires_at = NULL,
       updated_at = clock_timestamp(),
       attempt_history = attempt_history || jsonb_build_array(jsonb_build_object(
           'attempt', attempts, 'worker', worker_id, 'started_at', started_at,
           'ended_at', clock_timestamp(), 'outcome', %(why)s::text))
 WHERE id = %(id)s AND status = 'processing' AND worker_id = %(worker)s
   AND attempts = %(attempts)s
RETURNING id
"""


# A passing failure: pending again after the delay (the kind's, or 2^attempts seconds
# capped at 10 minutes, times 0.5-1.5), or failed once max_attempts are spent.
RETRY_LATER = """
UPDATE scheduled_jobs
   SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
       error_message = %(error)s,
       completed_at = CASE WHEN attempts >= max_attempts THEN clock_timestamp() END,
       scheduled_time = CASE WHEN attempts >= max_attempts THEN scheduled_time
           ELSE clock_timestamp() + make_interval(secs => coalesce(%(delay)s::float8,
                least(600, 2 ^ attempts) * (0.5 + random()))) END,
       worker_id = NULL, lease_expires_at = NULL, updated_at = clock_timestamp(),
       attempt_history = attempt_history || jsonb_build_array(jsonb_build_object(
           'attempt', attempts, 'worker', worker_id, 'started_at', started_at,
           'ended_at', clock_timestamp(), 'outcome', 'retry later', 'error', %(error)s::text))
 WHERE id = %(id)s AND status = 'processing' AND worker_id = %(worker)s
   AND attempts = %(attempts)s
RETURNING status
"""


@dataclass(frozen=True)
class Claim:
    """One attempt at one job, as the claim recorded it."""

    job_id: UUID
    organization_id: str
    worker_id: str
    attempts: int
    job_type: str

    def params(self, **more: object) -> dict[str, object]:
        return {"id": self.job_id, "worker": self.worker_id, "attempts": self.attempts, **more}


def claim_jobs(
    db: Database, worker_id: str, limit: int, org_cap: int, lease_seconds: int
) -> list[Claim]:
    """Claim up to `limit` due jobs (committed before any runs)."""
    params = {"worker": worker_id, "limit": limit, "cap": org_cap, "lease": lease_seconds}
    rows = _without_flush_wait(db, CLAIM, params)
    return [
        Claim(row["id"], row["organization_id"], worker_id, row["attempts"], row["job_type"])
        for row in rows
    ]


def read_claimed(conn: Conn, claim: Claim) -> dict[str, Any] | None:
    """The claimed job's row (on its tenant transaction); None when the claim is gone."""
    return conn.execute(READ_CLAIMED, claim.params()).fetchone()


def _without_flush_wait(
    db: Database, statement: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run one engine statement in a transaction that does not wait for its WAL flush
    (synchronous_commit off), in one round trip (pipelined BEGIN … COMMIT).

    Safe for claims and lease renewals only: losing one in a server crash loses nothing.
    A job's outcome commits (durably) in its own transaction only if its claim is still
    held, and that commit's flush carries the claim's earlier commit record with it; a
    claim lost with the crash leaves the job pending. A notifying commit holds the
    database's notification lock until it ends, so one that waits for the disk makes
    every other job commit wait too.
    """
    with db.autocommit() as conn:
        with conn.pipeline():
            conn.execute("BEGIN")
            conn.execute("SET LOCAL synchronous_commit = off")
            cursor = conn.execute(statement, params)
            conn.execute("COMMIT")
        return cursor.fetchall()


def recover_expired(db: Database) -> list[dict[str, Any]]:
    """Jobs whose lease ran out, put back to pending (or failed after max attempts)."""
    with db.autocommit() as conn:
        return conn.execute(RECOVER).fetchall()


def next_due(db: Database) -> tuple[datetime | None, datetime]:
    """(when the next pending job or schedule is due, the database's now)."""
    with db.autocommit() as conn:
        row = conn.execute(NEXT_DUE).fetchone()
    assert row is not None
    return row["due"], row["now"]


def renew_leases(
    db: Database, worker_id: str, claims: Iterable[Claim], lease_seconds: int
) -> dict[Claim, bool | None]:
    """Renew the leases of `claims` (one worker's) in one statement: for each, None
    when it is no longer held, else whether a cancel was requested."""
    claims = list(claims)
    params = {"worker": worker_id, "jobs": [c.job_id for c in claims], "lease": lease_seconds}
    rows = _without_flush_wait(db, RENEW_ALL, params)
    held = {(row["id"], row["attempts"]): bool(row["cancel_requested"]) for row in rows}
    return {c: held.get((c.job_id, c.attempts)) for c in claims}


def record_progress(
    db: Database, claim: Claim, done: int, total: int | None, lease_seconds: int
) -> bool | None:
    """Store progress (and renew the lease) in its own short transaction, so it is
    seen at once; None when the claim is gone, else whether a cancel was requested."""
    with db.tenant(claim.organization_id) as conn:
        row = conn.execute(
            PROGRESS, claim.params(done=done, total=total, lease=lease_seconds)
        ).fetchone()
    return None if row is None else bool(row["cancel_requested"])


@dataclass
class Finish:
    """How an attempt ends, as FINISH records it; the input fields (upload, mapping,
    options, result file name) replace the job's only when set."""

    status: str
    error: str | None = None
    record_count: int | None = None
    counts: dict[str, int] | None = None
    result_path: str | None = None
    result_size: int | None = None
    error_report_path: str | None = None
    result_file_name: str | None = None
    upload_id: UUID | None = None
    mapping: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    items: list[dict[str, Any]] | None = None


def finish(conn: Conn, claim: Claim, outcome: Finish) -> dict[str, Any] | None:
    """Record the final status on `conn` (the job's own transaction when completing);
    None when the claim is no longer held (or a cancel arrived before completion)."""
    counts = outcome.counts
    return conn.execute(
        FINISH,
        claim.params(
            status=outcome.status,
            error=outcome.error,
            record_count=outcome.record_count,
            counts=Jsonb(counts) if counts is not None else Jsonb({}),
            result_path=outcome.result_path,
            result_size=outcome.result_size,
            error_report_path=outcome.error_report_path,
            result_file_name=outcome.result_file_name,
            upload_id=outcome.upload_id,
            mapping=_json_or_none(outcome.mapping),
            options=_json_or_none(outcome.options),
            items=Jsonb(outcome.items) if outcome.items is not None else None,
        ),
    ).fetchone()


def _json_or_none(value: dict[str, Any] | None) -> Jsonb | None:
    return Jsonb(value) if value is not None else None


def finish_apart(db: Database, claim: Claim, outcome: Finish) -> dict[str, Any] | None:
    """`finish` in a transaction of its own (after the job's was rolled back)."""
    with db.tenant(claim.organization_id) as conn:
        return finish(conn, claim, outcome)


def mark_cancelled(db: Database, claim: Claim) -> bool:
    """A running job that saw its cancel request ends cancelled; False if not held."""
    with db.tenant(claim.organization_id) as conn:
        return conn.execute(CANCELLED_RUNNING, claim.params()).fetchone() is not None


def release(db: Database, claim: Claim, why: str) -> bool:
    """Give a claimed job back to pending now; False when it was no longer held."""
    with db.tenant(claim.organization_id) as conn:
        return conn.execute(RELEASE, claim.params(why=why)).fetchone() is not None


def retry_later(db: Database, claim: Claim, error: str, delay: float | None) -> str | None:
    """Give the job back for a later attempt (or fail it when its attempts are spent);
    the status it got, None when the claim was no longer held."""
    with db.tenant(claim.organization_id) as conn:
        row = conn.execute(RETRY_LATER, claim.params(error=error, delay=delay)).fetchone()
    return None if row is None else str(row["status"])
