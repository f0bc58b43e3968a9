"""Webhook endpoints, their deliveries and the answers of test and replay."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from crmferry.web.api.models.base import Answer, Choice, Instant, Page, RequestBody, Text, Uuid
from crmferry.webhooks.endpoints import EVENT_TYPES, MAX_DESCRIPTION

EventType = Annotated[Text, Choice(lambda: EVENT_TYPES)]
Url = Annotated[Text, Field(min_length=1, max_length=2000, description="http(s) endpoint.")]
Description = Annotated[Text, Field(max_length=MAX_DESCRIPTION)]
Events = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EVENT_TYPES) * 2, description="Event types to receive."),
]


class WebhookRequest(RequestBody):
    url: Url
    events: Events
    description: Description = ""


class WebhookChanges(RequestBody):
    """Only the keys sent change; `enabled: true` re-enables a disabled endpoint."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None


class Webhook(Answer):
    id: Uuid
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: Instant | None
    failing_since: Instant | None = Field(
        description="The first failed attempt since the last success."
    )
    previous_secret_until: Instant | None = Field(
        description="Until then the secret replaced by a rotation signs too."
    )
    created_at: Instant
    updated_at: Instant


class WebhookWithSecret(Webhook):
    secret: str = Field(description="`whsec_…`: shown in this answer only, never again.")


class WebhookList(Answer):
    items: list[Webhook]


class Delivery(Answer):
    id: Uuid
    webhook_id: Uuid
    job_id: Uuid | None
    event_id: Uuid = Field(description="The `webhook-id` header: the same on every attempt.")
    event_type: str
    attempt: int
    status: Literal["succeeded", "retrying", "failed"]
    response_status: int | None
    response_excerpt: str | None = Field(description="At most 1 KB of the answer's body.")
    error: str | None
    duration_ms: int | None
    next_attempt_at: Instant | None
    replay: bool
    created_at: Instant


class DeliveryPage(Page):
    items: list[Delivery]


class Queued(Answer):
    event_id: Uuid
    job_id: Uuid = Field(description="The delivery job (GET /jobs/{id}).")
