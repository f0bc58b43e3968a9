"""The registry of delivery channels (see the package's docstring for the interface)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed
from crmferry.jobs.kinds import JobKind, NewJob, register
from crmferry.jobs.model import shown_event_payload
from crmferry.jobs.registry import Registry
from crmferry.records import DataType

LOAD_EVENT = "SELECT * FROM events WHERE id = %s"


@dataclass(frozen=True)
class Event:
    """One outbox event, as a channel sees it."""

    id: UUID
    organization_id: UUID
    type: str
    job_id: UUID | None
    schedule_id: UUID | None
    payload: dict[str, Any]
    context: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Event:
        return cls(
            row["id"],
            row["organization_id"],
            row["type"],
            row["job_id"],
            row["schedule_id"],
            shown_event_payload(row["payload"]),
            row["context"],
            row["created_at"],
        )


@dataclass(frozen=True)
class Delivery:
    """One delivery a channel wants for an event: `key` tells several apart."""

    event_id: UUID
    key: str = ""
    options: dict[str, Any] = field(default_factory=dict)


Plan = Callable[[Conn, Settings, list[Event]], list[Delivery]]
# For the jobs page's "Notified": given the channel's delivery jobs (rows of
# scheduled_jobs), what to show instead of the job's own fields, by job id: any of
# `recipient`, `status`, `attempts`, `delivered_at` (an endpoint's URL rather than the
# delivery key; an attempt's outcome when the job completes whatever the answer).
Shown = Callable[[Conn, list[dict[str, Any]]], dict[UUID, dict[str, Any]]]


@dataclass(frozen=True)
class Channel:
    """A way of telling: its name, the kind that delivers, and what each event needs."""

    name: str
    kind: JobKind
    plan: Plan
    max_attempts: int = 5
    shown: Shown | None = None


CHANNELS: Registry[Channel] = Registry("notification channel")


def register_channel(channel: Channel, *, replace: bool = False) -> Channel:
    """Make a channel known to the dispatch, with its delivery kind (which must be
    `internal`); AlreadyRegistered when the name or the job type is taken."""
    if not channel.kind.internal:
        raise ValueError(f"the {channel.name} channel's kind must be internal=True")
    register(channel.kind, replace=replace)
    return CHANNELS.add(channel.name, channel, replace=replace)


def refuse_by_api(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """`prepare` of a delivery kind: deliveries are made by the dispatch, never asked for."""
    message = "job_type names a delivery, made by the notifications, not through the API."
    raise ValidationFailed(message, [{"field": "job_type", "message": message}])


def load_event(conn: Conn, job: dict[str, Any]) -> Event:
    """The event a delivery job delivers (in its organization's transaction)."""
    row = conn.execute(LOAD_EVENT, [job["event_id"]]).fetchone()
    if row is None:
        raise NotFound(f"Event {job['event_id']} is gone.")
    return Event.of(row)
