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
