"""The Standard Webhooks signature: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
one per secret that signs, space-separated."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from crmferry.webhooks.signing_secrets import secret_bytes


def sign(event_id: str, timestamp: int, body: bytes, secrets: Iterable[str]) -> str:
    """The `webhook-signature` header for `body` sent at `timestamp` (Unix seconds)."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(secret_bytes(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    )
