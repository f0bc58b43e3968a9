"""The audit log's entries (GET /audit)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from crmferry.audit import ACTIONS
from crmferry.web.api.models.base import Answer, Choice, Instant, Page, Text, Uuid

ActionName = Annotated[Text, Choice(lambda: ACTIONS)]


class AuditActor(Answer):
    id: Uuid | None = Field(description="Null for the service itself.")
    email: str | None
    name: str | None


class AuditEntry(Answer):
    id: Uuid
    at: Instant
    actor: AuditActor
    action: Annotated[str, Choice(lambda: ACTIONS, enforce=False)]
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]


class AuditPage(Page):
    items: list[AuditEntry]
