"""Telling people that an endpoint was disabled: a `webhook.disabled` event to the
organization's other endpoints that take it (and, with notifications, its admins)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.webhooks.endpoints import webhook_json
from crmferry.webhooks.events import deliver_event


def endpoint_disabled(conn: Conn, settings: Settings, hook: dict[str, Any]) -> None:
    """Announce, in the transaction that disabled it, that `hook` is disabled."""
    deliver_event(
        conn,
        settings,
        event_id=uuid.uuid4(),
        event_type="webhook.disabled",
        occurred_at=datetime.now(UTC),
        data=webhook_json(hook),
        exclude=hook["id"],
    )
