"""Who was told of a job: its events' deliveries, one line per channel and recipient
(the job page's "Notified"). A channel whose delivery jobs do not say it all (a webhook
attempt's job completes whatever the endpoint answered) tells what to show with its
`shown` (crmferry/notify/channels.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crmferry.db import Conn
from crmferry.jobs.model import rfc3339
from crmferry.notify.channels import CHANNELS

DELIVERIES = """
SELECT d.id, d.job_type, d.delivery_key, d.status, d.attempts, d.completed_at,
       d.error_message, d.options, d.file_name, d.event_id, e.type AS event_type,
       e.created_at AS event_at
  FROM scheduled_jobs AS d
  JOIN events AS e ON e.id = d.event_id
 WHERE e.job_id = %s
 ORDER BY e.created_at, d.job_type, d.created_at, d.delivery_key
"""

# members visible to this organization only (RLS on users): a removed one shows by id
MEMBER_NAMES = "SELECT id, coalesce(name, email) AS name FROM users WHERE id = ANY(%s::uuid[])"


def job_deliveries(conn: Conn, job_id: UUID) -> list[dict[str, Any]]:
    """Every delivery of the job's events, in-app ones one per member told."""
    rows = conn.execute(DELIVERIES, [job_id]).fetchall()
    channels = {c.kind.job_type: c for c in CHANNELS.items()}
    users = {u for r in rows for u in (r["options"] or {}).get("users") or []}
    names = {str(r["id"]): r["name"] for r in conn.execute(MEMBER_NAMES, [list(users)])}
    shown = _shown(conn, channels, rows)
    out: list[dict[str, Any]] = []
    for row in rows:
        channel = channels.get(row["job_type"])
        line = {
            "channel": channel.name if channel else row["job_type"],
            "event_type": row["event_type"],
            "status": row["status"],
            "attempts": row["attempts"],
            "delivered_at": rfc3339(row["completed_at"]) if row["status"] == "completed" else None,
            "error_message": row["error_message"],
            "recipient": row["delivery_key"],
            **shown.get(row["id"], {}),
        }
        members = [names.get(u, u) for u in (row["options"] or {}).get("users") or []]
        out.extend({**line, "recipient": member} for member in members or [line["recipient"]])
    return out


def _shown(
    conn: Conn, channels: dict[str, Any], rows: list[dict[str, Any]]
) -> dict[UUID, dict[str, Any]]:
    """What each channel with a `shown` says of its own delivery jobs."""
    out: dict[UUID, dict[str, Any]] = {}
    for job_type, channel in channels.items():
        mine = [r for r in rows if r["job_type"] == job_type]
        if mine and channel.shown is not None:
            out.update(channel.shown(conn, mine))
    return out
