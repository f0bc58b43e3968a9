"""Who among the members is told of an event (in the app and by mail alike).

* A job's events: its creator (for a scheduled job, the schedule's owner when it
  fired), by their own preference (`memberships.notify`): `none`, `failed` (the
  default: job.failed only) or `all`.
* schedule.paused: the schedule's owner and every admin, whatever their preference
  (a paused schedule needs someone to act).

Only current members are told: a removed member is told nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crmferry.db import Conn

MEMBERS_TOLD = """
SELECT e.id AS event_id, m.user_id, u.email, coalesce(u.name, u.email) AS name
  FROM events AS e
  JOIN memberships AS m ON m.organization_id = e.organization_id
  JOIN users AS u ON u.id = m.user_id
 WHERE e.id = ANY(%(events)s)
   AND CASE WHEN e.type LIKE 'job.%%'
            THEN m.user_id = (e.payload->>'created_by')::uuid
                 AND (m.notify = 'all' OR (m.notify = 'failed' AND e.type = 'job.failed'))
            WHEN e.type = 'schedule.paused'
            THEN m.user_id = (e.payload->>'created_by')::uuid OR m.role = 'admin'
            ELSE false END
 ORDER BY e.id, u.email
"""


@dataclass(frozen=True)
class Member:
    event_id: UUID
    user_id: UUID
    email: str
    name: str


def members_told(conn: Conn, event_ids: list[UUID]) -> list[Member]:
    """The members told of each of these events (one statement for the batch)."""
    rows = conn.execute(MEMBERS_TOLD, {"events": event_ids}).fetchall()
    return [Member(r["event_id"], r["user_id"], r["email"], r["name"]) for r in rows]
