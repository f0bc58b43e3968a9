"""Events to endpoints: one delivery job per subscribed endpoint, inserted in the
caller's transaction (so the deliveries exist if and only if it commits).

The body every endpoint receives is `{"type", "timestamp", "data"}`; the event's id
is its `webhook-id`, the same on every attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.jobs.model import rfc3339

DELIVERY_JOB_TYPE = "webhook_delivery"
DELIVERY_DATA_TYPE = "webhooks"

# One set-based insert: a job per endpoint that takes the event (or the one endpoint
# named, for a test, whether or not it is enabled or subscribed).
FAN_OUT = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, max_attempts, file_name, options)
SELECT current_setting('app.current_organization_id', true), w.created_by, 'Webhooks',
       %(job_type)s, %(data_type)s, now(), %(max_attempts)s,
       %(event_type)s || ' to ' || w.url,
       jsonb_build_object('webhook_id', w.id, 'event_id', %(event_id)s::text,
                          'event_type', %(event_type)s::text, 'payload', %(payload)s::jsonb,
                          'attempt', 1, 'replay', false, 'test', %(only)s::uuid IS NOT NULL)
  FROM webhooks w
 WHERE w.created_by IS NOT NULL
   AND CASE WHEN %(only)s::uuid IS NOT NULL THEN w.id = %(only)s::uuid
            ELSE w.enabled AND %(event_type)s = ANY(w.events)
                 AND w.id IS DISTINCT FROM %(exclude)s::uuid END
RETURNING id
"""


def event_body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """What an endpoint receives (Standard Webhooks' shape)."""
    return {"type": event_type, "timestamp": rfc3339(occurred_at), "data": data}


def deliver_event(
    conn: Conn,
    settings: Settings,
    *,
    event_id: UUID,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    only: UUID | None = None,
    exclude: UUID | None = None,
) -> list[UUID]:
    """Queue the event for every enabled endpoint subscribed to its type (or for `only`,
    a test); the delivery jobs' ids."""
    rows = conn.execute(
        FAN_OUT,
        {
            "job_type": DELIVERY_JOB_TYPE,
            "data_type": DELIVERY_DATA_TYPE,
            "max_attempts": settings.max_attempts,
            "event_id": str(event_id),
            "event_type": event_type,
            "payload": Jsonb(event_body(event_type, occurred_at, data)),
            "only": only,
            "exclude": exclude,
        },
    ).fetchall()
    return [row["id"] for row in rows]
