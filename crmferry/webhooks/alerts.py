"""Telling people that an endpoint was disabled: a `webhook.disabled` event in the
outbox (to the organization's other endpoints that take it, and to whatever else the
notifications tell of it)."""

from __future__ import annotations

from typing import Any

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.webhooks.endpoints import webhook_json
from crmferry.webhooks.events import DISABLED_EVENT, write_and_deliver


def endpoint_disabled(conn: Conn, settings: Settings, hook: dict[str, Any]) -> None:
    """Announce, in the transaction that disabled it, that `hook` is disabled (it is
    not told itself: it takes no more deliveries)."""
    write_and_deliver(conn, settings, DISABLED_EVENT, webhook_json(hook))
