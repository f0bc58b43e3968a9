"""In-app notifications as the API shows them."""

from __future__ import annotations

from pydantic import Field

from crmferry.web.api.models.base import Answer, Instant, Page, Uuid


class Notification(Answer):
    """One thing a member was told of: a job's outcome, a paused schedule."""

    id: Uuid
    type: str = Field(description="The event's type: job.completed, job.failed, ...")
    title: str
    body: str
    job_id: Uuid | None
    schedule_id: Uuid | None
    created_at: Instant
    read_at: Instant | None


class NotificationPage(Page):
    items: list[Notification]
    unread_count: int = Field(description="The caller's unread notifications, all pages")


class MarkedRead(Answer):
    marked: int = Field(description="How many notifications were unread and are read now")
    unread_count: int


class JobDelivery(Answer):
    """One recipient told (or being told) of one of a job's events."""

    channel: str = Field(description="email, in_app, or a channel a plugin registers")
    recipient: str = Field(description="The address, the member's name, the endpoint's URL")
    event_type: str
    status: str = Field(
        description="pending (also while it is retried), processing, "
        "completed (delivered), failed, cancelled; a webhook attempt is completed only "
        "when the endpoint answered 2xx"
    )
    attempts: int
    delivered_at: Instant | None
    error_message: str | None


class JobDeliveryList(Answer):
    items: list[JobDelivery]
