"""Who was told of a job: its events' deliveries, one line per channel and recipient
(the job page's "Notified")."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crmferry.db import Conn
from crmferry.jobs.model import rfc3339
from crmferry.notify.channels import CHANNELS

DELIVERIES = """
SELECT d.id, d.job_type, d.delivery_key, d.status, d.attempts, d.completed_at,
       d.error_message, d.options, e.type AS event_type, e.created_at AS event_at
  FROM scheduled_jobs AS d
  JOIN events AS e ON e.id = d.event_id
 WHERE e.job_id = %s
 ORDER BY e.created_at, d.job_type, d.delivery_key
"""

# members visible to this organization only (RLS on users): a removed one shows by id
MEMBER_NAMES = "SELECT id, coalesce(name, email) AS name FROM users WHERE id = ANY(%s::uuid[])"


def job_deliveries(conn: Conn, job_id: UUID) -> list[dict[str, Any]]:
    """Every delivery of the job's events, in-app ones one per member told."""
    rows = conn.execute(DELIVERIES, [job_id]).fetchall()
    channels = {c.kind.job_type: c.name for c in CHANNELS.items()}
    users = {u for r in rows for u in (r["options"] or {}).get("users") or []}
    names = {str(r["id"]): r["name"] for r in conn.execute(MEMBER_NAMES, [list(users)])}
    out = []
    for row in rows:
        recipients = [names.get(u, u) for u in row["options"].get("users") or []] or [
            row["delivery_key"]
        ]
        for recipient in recipients:
            out.append(
                {
                    "channel": channels.get(row["job_type"], row["job_type"]),
                    "recipient": recipient,
                    "event_type": row["event_type"],
                    "status": row["status"],
                    "attempts": row["attempts"],
                    "delivered_at": rfc3339(row["completed_at"])
                    if row["status"] == "completed"
                    else None,
                    "error_message": row["error_message"],
                }
            )
    return out
