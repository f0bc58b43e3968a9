"""Job operations for one organization: create, list, read, cancel, delete, retry.

Every function takes a tenant transaction (`Database.tenant`), so RLS scopes it;
the API, the CLI acting locally and the scheduler all go through here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.audit.log import record, record_job_created
from crmferry.config import Settings
from crmferry.cursors import decode_cursor, encode_cursor
from crmferry.db import Conn
from crmferry.errors import Conflict, NotFound, ValidationFailed
from crmferry.jobs.files import delete_job_files
from crmferry.jobs.kinds import (
    NewJob,
    SavedInput,
    described_type,
    kind_for,
    registered_job_types,
)
from crmferry.jobs.model import FINISHED, STATUSES, parse_job_id
from crmferry.jobs.notify_request import parse_notify
from crmferry.jobs.templates import apply_template
from crmferry.jobs.timing import parse_scheduled_time
from crmferry.records import DATA_TYPES

MAX_PAGE = 200

INSERT_JOB = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, timezone, priority, notify, max_attempts,
                            options, mapping, upload_id, file_name, progress_total,
                            reverts_job_id, template_id, schedule_id, occurrence_at, retry_of)
VALUES (current_setting('app.current_organization_id', true), %(created_by)s,
        %(creator_name)s, %(job_type)s, %(data_type)s, %(scheduled_time)s, %(timezone)s,
        %(priority)s, %(notify)s, %(max_attempts)s, %(options)s, %(mapping)s, %(upload_id)s,
        %(file_name)s, %(progress_total)s, %(reverts_job_id)s, %(template_id)s,
        %(schedule_id)s, %(occurrence_at)s, %(retry_of)s)
RETURNING *
"""

GET_JOB = "SELECT * FROM scheduled_jobs WHERE id = %s"

# Newest first, keyset-paged (the outbox's delivery jobs, event_id set, are not listed:
# a job's page shows its own), on (created_at, id): served by scheduled_jobs_org_list_idx,
# whose leading column is the tenant policy's (organization_id::uuid).
LIST_JOBS = """
SELECT * FROM scheduled_jobs
 WHERE event_id IS NULL
   AND (%(status)s::text IS NULL OR status = %(status)s)
   AND (%(job_type)s::text IS NULL OR job_type = %(job_type)s)
   AND (%(data_type)s::text IS NULL OR data_type = %(data_type)s)
   AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""

# Atomic against the claim: a row the claim has locked is waited for and re-checked.
CANCEL_PENDING = """
UPDATE scheduled_jobs
   SET status = 'cancelled', completed_at = now(), updated_at = now(),
       error_message = 'Cancelled before it started.'
 WHERE id = %s AND status = 'pending'
RETURNING *
"""

REQUEST_CANCEL = """
UPDATE scheduled_jobs SET cancel_requested = true, updated_at = now()
 WHERE id = %s AND status = 'processing'
RETURNING *
"""

DELETE_FINISHED = """
DELETE FROM scheduled_jobs WHERE id = %s AND status = ANY(%s)
RETURNING id, organization_id, result_path, error_report_path, job_type, data_type, file_name
"""

OPEN_RETRY = """
SELECT id, status FROM scheduled_jobs
 WHERE retry_of = %s AND status IN ('pending', 'processing')
 LIMIT 1
"""

DB_NOW = "SELECT now() AS now"


def db_now(conn: Conn) -> datetime:
    """The database's clock: every time rule is judged by it, never by this process's."""
    row = conn.execute(DB_NOW).fetchone()
    assert row is not None
    value: datetime = row["now"]
    return value


def create_job(
    conn: Conn, principal: Principal, body: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Check a POST /jobs body, let its kind prepare it, insert it pending; the row.

    422 for an unknown job or data type, a bad time, priority or notify; 403 for a viewer.
    """
    principal.require("member")
    job_type, data_type = _job_and_data_type(body)
    kind = kind_for(job_type)
    template_id = body.get("template_id") or None
    own = SavedInput(body.get("options") or {}, body.get("mapping"))
    given = apply_template(conn, template_id, job_type, data_type, own)
    body = {**body, "options": given.options, "mapping": given.mapping}
    timezone = body.get("timezone") or None
    when = parse_scheduled_time(
        body.get("scheduled_time"), timezone, db_now(conn), settings.min_lead_seconds
    )
    new = kind.prepare(conn, principal, described_type(kind, data_type), body, settings)
    row = insert_job(
        conn,
        settings,
        created_by=principal.user_id,
        creator_name=principal.display_name,
        job_type=job_type,
        data_type=data_type,
        new=new,
        scheduled_time=when,
        timezone=timezone,
        priority=_priority(body.get("priority")),
        notify=parse_notify(body.get("notify")),
        template_id=UUID(str(template_id)) if template_id else None,
    )
    record_job_created(conn, principal, row)
    return row


def insert_job(
    conn: Conn,
    settings: Settings,
    *,
    created_by: UUID,
    creator_name: str | None,
    job_type: str,
    data_type: str,
    new: NewJob,
    scheduled_time: datetime,
    timezone: str | None = None,
    priority: int = 0,
    notify: dict[str, Any] | None = None,
    template_id: object = None,
    schedule_id: UUID | None = None,
    occurrence_at: datetime | None = None,
    retry_of: UUID | None = None,
) -> dict[str, Any]:
    """Insert one pending job (the insert trigger wakes the workers); the row."""
    row = conn.execute(
        INSERT_JOB,
        {
            "created_by": created_by,
            "creator_name": creator_name,
            "job_type": job_type,
            "data_type": data_type,
            "scheduled_time": scheduled_time,
            "timezone": timezone,
            "priority": priority,
            "notify": Jsonb(notify) if notify is not None else None,
            "max_attempts": settings.max_attempts,
            "options": Jsonb(new.options),
            "mapping": Jsonb(new.mapping) if new.mapping is not None else None,
            "upload_id": new.upload_id,
            "file_name": new.file_name,
            "progress_total": new.progress_total,
            "reverts_job_id": new.reverts_job_id,
            "template_id": template_id,
            "schedule_id": schedule_id,
            "occurrence_at": occurrence_at,
            "retry_of": retry_of,
        },
    ).fetchone()
    assert row is not None
    return row


def get_job(conn: Conn, job_id: object) -> dict[str, Any]:
    """A job of the current organization; 404 for another's, a missing or a malformed id."""
    row = conn.execute(GET_JOB, [parse_job_id(job_id)]).fetchone()
    if row is None:
        raise NotFound(f"No job {job_id}.")
    return row


def list_jobs(
    conn: Conn,
    *,
    status: str | None = None,
    job_type: str | None = None,
    data_type: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of jobs, newest first, and the cursor of the next page (None: last page)."""
    _check_choice("status", status, STATUSES)
    _check_choice("data_type", data_type, tuple(DATA_TYPES))
    limit = max(1, min(limit, MAX_PAGE))
    after_at, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    rows = conn.execute(
        LIST_JOBS,
        {
            "status": status,
            "job_type": job_type,
            "data_type": data_type,
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit + 1,
        },
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return rows, next_cursor


def cancel_job(conn: Conn, principal: Principal, job_id: object) -> tuple[dict[str, Any], bool]:
    """Cancel a pending job at once (it never starts), or ask a running one to stop.

    Returns (row, stopped_now): True when it is cancelled, False when a stop was
    requested of a running job. 409 for a finished job, 403 for a viewer.
    """
    principal.require("member")
    parsed = parse_job_id(job_id)
    row = conn.execute(CANCEL_PENDING, [parsed]).fetchone()
    if row is not None:
        return row, True
    row = conn.execute(REQUEST_CANCEL, [parsed]).fetchone()
    if row is not None:
        return row, False
    current = get_job(conn, parsed)
    raise Conflict(
        f"This job is already {current['status']}; only a pending or running job can be cancelled."
    )


def delete_job(conn: Conn, principal: Principal, settings: Settings, job_id: object) -> None:
    """Delete a finished job and its files; 409 while it is pending or running, 403 for
    a viewer."""
    principal.require("member")
    parsed = parse_job_id(job_id)
    row = conn.execute(DELETE_FINISHED, [parsed, list(FINISHED)]).fetchone()
    if row is None:
        current = get_job(conn, parsed)
        raise Conflict(
            f"This job is {current['status']}: cancel it first; only a completed, "
            "failed or cancelled job can be deleted."
        )
    details = {k: row[k] for k in ("job_type", "data_type", "file_name")}
    record(conn, principal, "job.deleted", "job", row["id"], details)
    delete_job_files(
        settings, row["organization_id"], row["id"], row["result_path"], row["error_report_path"]
    )


def retry_job(
    conn: Conn, principal: Principal, settings: Settings, job_id: object
) -> dict[str, Any]:
    """A new pending job, due now, with the same input as a failed or cancelled one;
    409 while an earlier retry of it is still pending or running."""
    principal.require("member")
    old = get_job(conn, job_id)
    if old["status"] not in ("failed", "cancelled"):
        raise Conflict(
            f"Only a failed or cancelled job can be retried; this one is {old['status']}."
        )
    _no_open_retry(conn, old["id"])
    new = NewJob(
        options=old["options"] or {},
        mapping=old["mapping"],
        file_name=old["file_name"],
        upload_id=old["upload_id"],
        progress_total=old["progress_total"],
        reverts_job_id=old["reverts_job_id"],
    )
    try:
        row = _insert_retry(conn, principal, settings, old, new)
    except pg_errors.UniqueViolation:
        # a concurrent retry of the same job committed first (scheduled_jobs_one_open_retry)
        raise _open_retry_conflict(None) from None
    record_job_created(conn, principal, row)
    return row


def _insert_retry(
    conn: Conn, principal: Principal, settings: Settings, old: dict[str, Any], new: NewJob
) -> dict[str, Any]:
    return insert_job(
        conn,
        settings,
        created_by=principal.user_id,
        creator_name=principal.display_name,
        job_type=old["job_type"],
        data_type=old["data_type"],
        new=new,
        scheduled_time=db_now(conn),
        timezone=old["timezone"],
        priority=old["priority"],
        notify=old["notify"],
        template_id=old["template_id"],
        retry_of=old["id"],
    )


def _no_open_retry(conn: Conn, job_id: UUID) -> None:
    row = conn.execute(OPEN_RETRY, [job_id]).fetchone()
    if row is not None:
        raise _open_retry_conflict(row)


def _open_retry_conflict(row: dict[str, Any] | None) -> Conflict:
    which = f" ({row['id']}, {row['status']})" if row else ""
    return Conflict(
        f"A retry of this job{which} is already pending or running; "
        "wait for it to finish, or cancel it, before retrying again."
    )


def _job_and_data_type(body: dict[str, Any]) -> tuple[str, str]:
    job_type, data_type = body.get("job_type"), body.get("data_type")
    types = registered_job_types()
    if job_type not in types:
        message = f"job_type must be one of {', '.join(types)}."
        raise ValidationFailed(message, [{"field": "job_type", "message": message}])
    own = kind_for(job_type).own_data_type
    if own is not None:
        return str(job_type), own
    if data_type not in DATA_TYPES:
        message = f"data_type must be one of {', '.join(DATA_TYPES)}."
        raise ValidationFailed(message, [{"field": "data_type", "message": message}])
    return str(job_type), str(data_type)


def _priority(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        message = "priority must be a whole number from -1000 to 1000 (higher runs first)."
        raise ValidationFailed(message, [{"field": "priority", "message": message}])
    return value


def _check_choice(field: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        message = f"{field} must be one of {', '.join(choices)}."
        raise ValidationFailed(message, [{"field": field, "message": message}])
