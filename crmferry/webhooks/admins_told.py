"""The admins are told, in the app, of what needs an admin: an endpoint disabled
(`webhook.disabled`) and an export larger than CRMFERRY_EXPORT_ALERT_ROWS
(`export.large`). A channel of the outbox's dispatch: one delivery per event naming
the organization's admins, which inserts their notifications (the bell) in its own
transaction, once per event and admin."""

from __future__ import annotations

from typing import Any

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome
from crmferry.notify.channels import (
    Channel,
    Delivery,
    Event,
    load_event,
    refuse_by_api,
    register_channel,
)
from crmferry.webhooks.events import DISABLED_EVENT, LARGE_EXPORT_EVENT

JOB_TYPE = "notify_admins"
TOLD = (DISABLED_EVENT, LARGE_EXPORT_EVENT)

ADMINS = "SELECT user_id FROM memberships WHERE role = 'admin' ORDER BY user_id"

INSERT = """
INSERT INTO notifications (organization_id, user_id, event_id, type, title, body, job_id)
SELECT crmferry_current_org(), u.user_id, %(event)s, %(type)s, %(title)s, %(body)s, %(job)s
  FROM unnest(%(users)s::uuid[]) AS u(user_id)
ON CONFLICT DO NOTHING
"""


def plan(conn: Conn, settings: Settings, events: list[Event]) -> list[Delivery]:
    """One delivery per event an admin must hear of, naming the admins of now."""
    told = [e for e in events if e.type in TOLD]
    if not told:
        return []
    admins = [str(r["user_id"]) for r in conn.execute(ADMINS).fetchall()]
    return [Delivery(e.id, options={"users": admins}) for e in told] if admins else []


def wording(event: Event) -> tuple[str, str]:
    """(title, body) of the notification."""
    data: dict[str, Any] = event.payload
    if event.type == DISABLED_EVENT:
        return (
            f"Webhook to {data.get('url')} disabled",
            f"{data.get('disabled_reason') or 'It kept failing.'} Fix the endpoint, then "
            "enable it again in Settings → Webhooks.",
        )
    return (
        f"Large export: {data.get('record_count'):,} {data.get('data_type')}",
        f"{data.get('creator_name')} exported {data.get('record_count'):,} rows "
        f"(the alert threshold is {data.get('threshold'):,}).",
    )


def run(ctx: JobContext) -> JobOutcome:
    event = load_event(ctx.conn, ctx.job)
    users = list(ctx.job["options"].get("users") or [])
    title, body = wording(event)
    ctx.conn.execute(
        INSERT,
        {
            "event": event.id,
            "type": event.type,
            "title": title,
            "body": body,
            "job": event.job_id,
            "users": users,
        },
    )
    return JobOutcome(record_count=len(users))


KIND = JobKind(JOB_TYPE, refuse_by_api, run, internal=True)
CHANNEL = register_channel(Channel("admins", KIND, plan, max_attempts=5))
