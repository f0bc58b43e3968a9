"""The outbox's events: their types, and writing one in the caller's transaction.

A job's events (job.completed, job.failed, job.cancelled) are written by the
database itself, by the trigger on the job's final status (0070_outbox.sql), so no
path that finishes a job can forget one. Events of other state changes are written
here, by `write_schedule_event` (or `write_event`), on the connection of the
transaction that makes the change: the event commits with it or not at all.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.db import Conn
from crmferry.jobs.registry import Registry

JOB_EVENTS = ("job.completed", "job.failed", "job.cancelled")
SCHEDULE_PAUSED = "schedule.paused"

# Every event type a channel may be told of; a plugin registers its own (webhook.disabled
# and export.large belong to the webhooks and the audit log).
EVENT_TYPES: Registry[str] = Registry("event type")
for _name in (*JOB_EVENTS, SCHEDULE_PAUSED):
    EVENT_TYPES.add(_name, _name)

INSERT_EVENT = """
INSERT INTO events (organization_id, type, job_id, schedule_id, payload, context)
VALUES (crmferry_current_org(), %(type)s, %(job)s, %(schedule)s, %(payload)s, %(context)s)
RETURNING *
"""

# The schedule object comes from the one SQL builder the trigger uses too.
INSERT_SCHEDULE_EVENT = """
INSERT INTO events (organization_id, type, schedule_id, payload, context)
SELECT s.organization_id, %(type)s, s.id, crmferry_schedule_payload(s), %(context)s
  FROM schedules AS s WHERE s.id = %(schedule)s
RETURNING *
"""


def register_event_type(name: str) -> str:
    """Make an event type known (AlreadyRegistered when taken): `write_event` refuses
    unknown ones, so a misspelt type fails at once instead of telling nobody."""
    return EVENT_TYPES.add(name, name)


def write_event(
    conn: Conn,
    event_type: str,
    payload: dict[str, Any],
    *,
    job_id: UUID | None = None,
    schedule_id: UUID | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one event of the current organization in `conn`'s transaction; its row."""
    EVENT_TYPES.get(event_type)
    row = conn.execute(
        INSERT_EVENT,
        {
            "type": event_type,
            "job": job_id,
            "schedule": schedule_id,
            "payload": Jsonb(payload),
            "context": Jsonb(context or {}),
        },
    ).fetchone()
    assert row is not None
    return row


def write_schedule_event(
    conn: Conn, event_type: str, schedule_id: UUID, context: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Write an event whose payload is the schedule object as it is now in `conn`'s
    transaction; None when the schedule is not there."""
    EVENT_TYPES.get(event_type)
    params = {"type": event_type, "schedule": schedule_id, "context": Jsonb(context or {})}
    return conn.execute(INSERT_SCHEDULE_EVENT, params).fetchone()
