"""Outbox events to webhook endpoints: one delivery job per subscribed endpoint.

`plan_deliveries` says which endpoints take which events (the dispatch of the outbox
calls it for every batch of events); `deliver_event` inserts those delivery jobs at
once, in the caller's transaction, for an event this package writes itself (a test,
an endpoint disabled), so it need not wait for the dispatch. Either way one job per
event and endpoint can exist (scheduled_jobs_one_delivery_idx: the key of a first
attempt is `<webhook id>:1`), so both may run for the same event.

The body every endpoint receives is `{"type", "timestamp", "data"}` (the event's time
and payload); the event's id is its `webhook-id`, the same on every attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.jobs.model import rfc3339, shown_event_payload
from crmferry.notify.events import register_event_type, write_event

DELIVERY_JOB_TYPE = "webhook_delivery"
DELIVERY_DATA_TYPE = "webhooks"
TEST_EVENT = "webhook.test"
DISABLED_EVENT = "webhook.disabled"
LARGE_EXPORT_EVENT = "export.large"
# Like every outbox delivery: ahead of the tenant's own long jobs, and a few tries for a
# worker that dies (the webhook retry schedule is apart: each attempt is a job).
PRIORITY = 100
ENGINE_ATTEMPTS = 5

for _name in (TEST_EVENT, DISABLED_EVENT, LARGE_EXPORT_EVENT):
    register_event_type(_name)

# The endpoints each event goes to: a test to the one endpoint its context names
# (enabled or not, subscribed or not), any other to the enabled endpoints subscribed.
PLAN = """
SELECT e.event_id, w.id AS webhook_id, w.url, w.created_by
  FROM unnest(%(ids)s::uuid[], %(types)s::text[], %(only)s::uuid[]) AS e(event_id, type, only_id)
  JOIN webhooks AS w
    ON CASE WHEN e.only_id IS NOT NULL THEN w.id = e.only_id
            ELSE w.enabled AND e.type = ANY(w.events) END
 ORDER BY w.created_at, w.id
"""

# One statement for all of them; a delivery already made (same event, kind and key)
# is left alone.
INSERT_DELIVERIES = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, priority, max_attempts, file_name, options,
                            event_id, delivery_key)
SELECT current_setting('app.current_organization_id', true), d.created_by, 'Webhooks',
       %(job_type)s, %(data_type)s, coalesce(d.due, now()), %(priority)s, %(max_attempts)s,
       d.file_name,
       d.options, d.event_id, d.key
  FROM unnest(%(events)s::uuid[], %(keys)s::text[], %(options)s::jsonb[], %(creators)s::uuid[],
              %(names)s::text[], %(due)s::timestamptz[])
       AS d(event_id, key, options, created_by, file_name, due)
ON CONFLICT (event_id, job_type, delivery_key) WHERE event_id IS NOT NULL DO NOTHING
RETURNING id
"""


@dataclass(frozen=True)
class Planned:
    """One delivery job to make: its event, its key, what it sends, whom it acts for."""

    event_id: UUID
    key: str
    options: dict[str, Any]
    created_by: UUID
    file_name: str
    due: Any = None


def event_body(event: dict[str, Any]) -> dict[str, Any]:
    """What an endpoint receives (Standard Webhooks' shape) for an outbox event row."""
    return {
        "type": event["type"],
        "timestamp": rfc3339(event["created_at"]),
        "data": shown_event_payload(event["payload"]),
    }


def delivery_options(
    event: dict[str, Any], webhook_id: object, attempt: int = 1, replay: bool = False
) -> dict[str, Any]:
    """A delivery job's options: everything an attempt needs to send the event."""
    return {
        "event_id": str(event["id"]),
        "webhook_id": str(webhook_id),
        "event_type": event["type"],
        "payload": event_body(event),
        "attempt": attempt,
        "replay": replay,
        "test": event["type"] == TEST_EVENT,
    }


def plan_deliveries(conn: Conn, events: Iterable[dict[str, Any]]) -> list[Planned]:
    """The first-attempt delivery of each event to each endpoint that takes it."""
    events = list(events)
    by_id = {str(e["id"]): e for e in events}
    rows = conn.execute(
        PLAN,
        {
            "ids": [e["id"] for e in events],
            "types": [e["type"] for e in events],
            "only": [_only(e) for e in events],
        },
    ).fetchall()
    return [
        Planned(
            row["event_id"],
            f"{row['webhook_id']}:1",
            # the URL too: the jobs page still names the endpoint once it is deleted
            {**delivery_options(by_id[str(row["event_id"])], row["webhook_id"]), "url": row["url"]},
            row["created_by"],
            f"{by_id[str(row['event_id'])]['type']} to {row['url']}",
        )
        for row in rows
        if row["created_by"] is not None
    ]


def insert_deliveries(conn: Conn, planned: list[Planned]) -> list[UUID]:
    """Make the planned delivery jobs (those not made already); their ids."""
    if not planned:
        return []
    rows = conn.execute(
        INSERT_DELIVERIES,
        {
            "job_type": DELIVERY_JOB_TYPE,
            "data_type": DELIVERY_DATA_TYPE,
            "priority": PRIORITY,
            "max_attempts": ENGINE_ATTEMPTS,
            "events": [p.event_id for p in planned],
            "keys": [p.key for p in planned],
            "options": [Jsonb(p.options) for p in planned],
            "creators": [p.created_by for p in planned],
            "names": [p.file_name for p in planned],
            "due": [p.due for p in planned],
        },
    ).fetchall()
    return [row["id"] for row in rows]


def deliver_event(conn: Conn, settings: Settings, event: dict[str, Any]) -> list[UUID]:
    """Queue an outbox event for its endpoints now (see the module's docstring)."""
    return insert_deliveries(conn, plan_deliveries(conn, [event]))


def write_and_deliver(
    conn: Conn,
    settings: Settings,
    event_type: str,
    payload: dict[str, Any],
    *,
    job_id: UUID | None = None,
    context: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[UUID]]:
    """Write an event to the outbox and queue it for the endpoints at once; the event
    row and the delivery jobs' ids."""
    event = write_event(conn, event_type, payload, job_id=job_id, context=context)
    return event, deliver_event(conn, settings, event)


def _only(event: dict[str, Any]) -> UUID | None:
    if event["type"] != TEST_EVENT:
        return None
    target = (event.get("context") or {}).get("webhook_id")
    return UUID(str(target)) if target else None
