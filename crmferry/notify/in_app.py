"""In-app notifications: the channel that fills each member's bell, and the member's
list (read, mark read, mark all read).

The delivery job of an event inserts one notification per member told (see
recipients.py) in its own transaction, `ON CONFLICT DO NOTHING` on (event, member):
a delivery run again after a crash adds nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.cursors import decode_cursor, encode_cursor
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed
from crmferry.ids import id_or_not_found
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome
from crmferry.jobs.model import rfc3339
from crmferry.notify.channels import (
    Channel,
    Delivery,
    Event,
    load_event,
    refuse_by_api,
    register_channel,
)
from crmferry.notify.recipients import members_told
from crmferry.notify.wording import detail, headline

JOB_TYPE = "notify_in_app"
MAX_PAGE = 100

INSERT = """
INSERT INTO notifications (organization_id, user_id, event_id, type, title, body, job_id,
                           schedule_id)
SELECT crmferry_current_org(), u.user_id, %(event)s, %(type)s, %(title)s, %(body)s,
       %(job)s, %(schedule)s
  FROM unnest(%(users)s::uuid[]) AS u(user_id)
ON CONFLICT DO NOTHING
"""

LIST = """
SELECT * FROM notifications
 WHERE user_id = %(user)s
   AND (NOT %(unread)s OR read_at IS NULL)
   AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""

UNREAD_COUNT = """
SELECT count(*) AS n FROM notifications WHERE user_id = %(user)s AND read_at IS NULL
"""

MARK_READ = """
UPDATE notifications SET read_at = coalesce(read_at, clock_timestamp())
 WHERE id = %(id)s AND user_id = %(user)s
RETURNING *
"""

MARK_ALL_READ = """
UPDATE notifications SET read_at = clock_timestamp()
 WHERE user_id = %(user)s AND read_at IS NULL
"""


def plan(conn: Conn, settings: Settings, events: list[Event]) -> list[Delivery]:
    """One delivery per event that some member is to be told of, naming them."""
    told: dict[UUID, list[str]] = {}
    for member in members_told(conn, [e.id for e in events]):
        told.setdefault(member.event_id, []).append(str(member.user_id))
    return [Delivery(event_id, options={"users": users}) for event_id, users in told.items()]


def run(ctx: JobContext) -> JobOutcome:
    """Insert the event's notifications (with the job's completion: exactly once)."""
    event = load_event(ctx.conn, ctx.job)
    users = list(ctx.job["options"].get("users") or [])
    ctx.conn.execute(
        INSERT,
        {
            "event": event.id,
            "type": event.type,
            "title": headline(event),
            "body": detail(event),
            "job": event.job_id,
            "schedule": event.schedule_id,
            "users": users,
        },
    )
    return JobOutcome(record_count=len(users))


KIND = JobKind(JOB_TYPE, refuse_by_api, run, internal=True)
CHANNEL = register_channel(Channel("in_app", KIND, plan, max_attempts=5))


def notification_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "title": row["title"],
        "body": row["body"],
        "job_id": str(row["job_id"]) if row["job_id"] else None,
        "schedule_id": str(row["schedule_id"]) if row["schedule_id"] else None,
        "created_at": rfc3339(row["created_at"]),
        "read_at": rfc3339(row["read_at"]),
    }


def list_notifications(
    conn: Conn, principal: Principal, unread: bool, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The caller's notifications, newest first, keyset-paged, with the unread count."""
    if not 1 <= limit <= MAX_PAGE:
        message = f"limit must be from 1 to {MAX_PAGE}."
        raise ValidationFailed(message, [{"field": "limit", "message": message}])
    after_at, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    params = {
        "user": principal.user_id,
        "unread": unread,
        "after_at": after_at,
        "after_id": after_id,
        "limit": limit + 1,
    }
    rows = conn.execute(LIST, params).fetchall()
    page, more = rows[:limit], len(rows) > limit
    return {
        "items": [notification_json(r) for r in page],
        "unread_count": unread_count(conn, principal.user_id),
        "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None,
    }


def unread_count(conn: Conn, user_id: UUID) -> int:
    row = conn.execute(UNREAD_COUNT, {"user": user_id}).fetchone()
    return int(row["n"]) if row else 0


def mark_read(conn: Conn, principal: Principal, notification_id: object) -> dict[str, Any]:
    """Mark one of the caller's notifications read (again is fine); 404 for another's."""
    parsed = id_or_not_found(notification_id, "notification")
    row = conn.execute(MARK_READ, {"id": parsed, "user": principal.user_id}).fetchone()
    if row is None:
        raise NotFound(f"No notification {notification_id}.")
    return row


def mark_all_read(conn: Conn, principal: Principal) -> int:
    """Mark every unread notification of the caller read; how many were."""
    return conn.execute(MARK_ALL_READ, {"user": principal.user_id}).rowcount
