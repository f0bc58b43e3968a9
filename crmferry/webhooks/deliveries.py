"""The delivery log of an endpoint (every attempt), and sending again: a replay of one
delivered event, or a `webhook.test` event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.cursors import decode_cursor, encode_cursor
from crmferry.db import Conn
from crmferry.errors import Conflict, NotFound
from crmferry.ids import id_or_not_found
from crmferry.jobs.model import rfc3339
from crmferry.webhooks.endpoints import get_webhook, webhook_json
from crmferry.webhooks.events import TEST_EVENT, Planned, insert_deliveries, write_and_deliver

MAX_PAGE = 200

LIST = """
SELECT * FROM webhook_deliveries
 WHERE webhook_id = %(webhook_id)s
   AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
GET = "SELECT * FROM webhook_deliveries WHERE id = %s AND webhook_id = %s"
EVENT_KEPT = "SELECT 1 FROM events WHERE id = %s"


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "webhook_id": str(row["webhook_id"]),
        "job_id": str(row["job_id"]) if row["job_id"] else None,
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "attempt": row["attempt"],
        "status": row["status"],
        "response_status": row["response_status"],
        "response_excerpt": row["response_excerpt"],
        "error": row["error"],
        "duration_ms": row["duration_ms"],
        "next_attempt_at": rfc3339(row["next_attempt_at"]),
        "replay": row["replay"],
        "created_at": rfc3339(row["created_at"]),
    }


def list_deliveries(
    conn: Conn,
    principal: Principal,
    webhook_id: object,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Attempts made to an endpoint, newest first, and the next page's cursor."""
    hook = get_webhook(conn, principal, webhook_id)
    limit = max(1, min(limit, MAX_PAGE))
    after_at, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    rows = conn.execute(
        LIST,
        {"webhook_id": hook["id"], "after_at": after_at, "after_id": after_id, "limit": limit + 1},
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None


def replay_delivery(
    conn: Conn, principal: Principal, settings: Settings, webhook_id: object, delivery_id: object
) -> dict[str, Any]:
    """Send the event of a logged attempt again, now, with a fresh retry schedule and the
    same `webhook-id` (a receiver that already has it may drop it); 409 while disabled."""
    hook = get_webhook(conn, principal, webhook_id)
    parsed = id_or_not_found(delivery_id, "delivery")
    row = conn.execute(GET, [parsed, hook["id"]]).fetchone()
    if row is None:
        raise NotFound(f"No delivery {delivery_id} of this webhook.")
    if not hook["enabled"] and row["event_type"] != TEST_EVENT:
        raise Conflict("This webhook is disabled: enable it before replaying a delivery.")
    if conn.execute(EVENT_KEPT, [row["event_id"]]).fetchone() is None:
        raise Conflict("This delivery's event is no longer kept; it cannot be sent again.")
    series = f"{hook['id']}:replay:{uuid.uuid4()}"
    options = {
        "event_id": str(row["event_id"]),
        "webhook_id": str(hook["id"]),
        "event_type": row["event_type"],
        "payload": row["payload"],
        "attempt": 1,
        "replay": True,
        "test": row["event_type"] == TEST_EVENT,
        "series": series,
    }
    planned = Planned(
        row["event_id"],
        f"{series}:1",
        options,
        principal.user_id,
        f"{row['event_type']} to {hook['url']}",
    )
    [job_id] = insert_deliveries(conn, [planned])
    return {"event_id": str(row["event_id"]), "job_id": str(job_id)}


def send_test(
    conn: Conn, principal: Principal, settings: Settings, webhook_id: object
) -> dict[str, Any]:
    """Queue a `webhook.test` event for this endpoint alone (enabled or not; one attempt,
    no retries, the endpoint's state untouched)."""
    hook = get_webhook(conn, principal, webhook_id)
    data = {
        "webhook": webhook_json(hook),
        "message": "A test event sent from CRM Ferry's settings.",
        "sent_by": principal.email,
    }
    event, jobs = write_and_deliver(
        conn, settings, TEST_EVENT, data, context={"webhook_id": str(hook["id"])}
    )
    return {"event_id": str(event["id"]), "job_id": str(jobs[0])}
