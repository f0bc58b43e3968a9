"""Who gets mail about an event.

* The addresses in a job's `notify.emails`, for the outcomes in its `notify.on`
  (completed, failed, cancelled; default completed and failed).
* For a scheduled job, the addresses in its schedule's `notify.emails`, by the
  schedule's `notify.on`: `changed` (the default: the first run, a first failure, and
  the first success after failures), `failed` (every failed run), `completed` (every
  completed run). They also get the schedule's schedule.paused.
* invitation.created: the invited address (crmferry/notify/invitation_mail.py).
* The members told in the app as well (crmferry/notify/recipients.py): a job's creator
  by their own preference, and for schedule.paused its owner and the admins.

An address gets one message per event, however many of these name it; only those
of `notify` (job or schedule) with `attach: true` get an export's file attached.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crmferry.db import Conn
from crmferry.notify.channels import Event
from crmferry.notify.events import JOB_EVENTS, SCHEDULE_PAUSED
from crmferry.notify.invitation_mail import INVITATION_CREATED
from crmferry.notify.recipients import members_told

JOB_DEFAULT_ON = ("completed", "failed")
SCHEDULE_DEFAULT_ON = ("changed",)

SCHEDULE_NOTIFY = "SELECT id, notify FROM schedules WHERE id = ANY(%s) AND notify IS NOT NULL"

# event → address → attach the export's file
Addresses = dict[UUID, dict[str, bool]]


def mail_recipients(conn: Conn, events: list[Event]) -> Addresses:
    """Every address to write to about each event of the batch."""
    wanted: Addresses = {}
    schedules = _schedule_rules(conn, [e.schedule_id for e in events if e.schedule_id])
    for event in events:
        if event.type in JOB_EVENTS:
            outcome = event.type.removeprefix("job.")
            rule = event.payload.get("notify") or {}
            if outcome in (rule.get("on") or JOB_DEFAULT_ON):
                _add(wanted, event.id, rule)
            rule = schedules.get(event.schedule_id) or {} if event.schedule_id else {}
            previous = event.context.get("schedule_previous_outcome")
            if rule and schedule_wants(rule.get("on") or SCHEDULE_DEFAULT_ON, outcome, previous):
                _add(wanted, event.id, rule)
        elif event.type == SCHEDULE_PAUSED:
            _add(wanted, event.id, event.payload.get("notify") or {}, attach=False)
        elif event.type == INVITATION_CREATED:
            _add(wanted, event.id, {"emails": [event.payload["email"]]}, attach=False)
    for member in members_told(conn, [e.id for e in events]):
        wanted.setdefault(member.event_id, {}).setdefault(member.email.lower(), False)
    return wanted


def schedule_wants(on: list[str] | tuple[str, ...], outcome: str, previous: str | None) -> bool:
    """Whether a schedule's `notify.on` asks to be told of this run's outcome."""
    if outcome in on and outcome in ("completed", "failed"):
        return True
    if "changed" not in on or outcome not in ("completed", "failed"):
        return False
    # a first failure, a recovery, and the very first run (from "never ran": its
    # recipients learn that the schedule works)
    return previous != outcome


def _schedule_rules(conn: Conn, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    if not ids:
        return {}
    return {r["id"]: r["notify"] for r in conn.execute(SCHEDULE_NOTIFY, [ids]).fetchall()}


def _add(
    wanted: Addresses, event_id: UUID, rule: dict[str, Any], attach: bool | None = None
) -> None:
    to_attach = bool(rule.get("attach")) if attach is None else attach
    for address in rule.get("emails") or []:
        current = wanted.setdefault(event_id, {})
        current[str(address).lower()] = current.get(str(address).lower(), False) or to_attach
