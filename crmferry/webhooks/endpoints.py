"""Webhook endpoints of one organization: create, list, read, change, delete, rotate.

Admins only. Every URL goes through the outbound guard when it is given (a 422 naming
the rule) and again when it is called. Each change is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmferry import audit
from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed
from crmferry.ids import id_or_not_found
from crmferry.jobs.model import rfc3339
from crmferry.outbound import OutboundPolicy, check_url
from crmferry.webhooks.signing_secrets import new_secret, seal, unseal

# The events an endpoint may subscribe to (webhook.test goes to one endpoint on demand).
EVENT_TYPES = (
    "job.completed",
    "job.failed",
    "job.cancelled",
    "schedule.paused",
    "export.large",
    "webhook.disabled",
)
MAX_DESCRIPTION = 500

INSERT = """
INSERT INTO webhooks (organization_id, url, events, description, secret, created_by)
VALUES (crmferry_current_org(), %(url)s, %(events)s, %(description)s, %(secret)s,
        %(created_by)s)
RETURNING *
"""
LIST = "SELECT * FROM webhooks ORDER BY created_at, id"
GET = "SELECT * FROM webhooks WHERE id = %s"
GET_FOR_UPDATE = "SELECT * FROM webhooks WHERE id = %s FOR UPDATE"
# Enabling again forgets why it was disabled and since when it was failing.
UPDATE = """
UPDATE webhooks
   SET url = %(url)s, events = %(events)s, description = %(description)s,
       enabled = %(enabled)s,
       disabled_reason = CASE WHEN %(enabled)s THEN NULL ELSE disabled_reason END,
       disabled_at = CASE WHEN %(enabled)s THEN NULL
                          WHEN enabled THEN now() ELSE disabled_at END,
       failing_since = CASE WHEN %(enabled)s AND NOT enabled THEN NULL ELSE failing_since END,
       updated_at = now()
 WHERE id = %(id)s
RETURNING *
"""
DELETE = "DELETE FROM webhooks WHERE id = %s RETURNING id, url"
ROTATE = """
UPDATE webhooks
   SET previous_secret = secret, secret = %(secret)s,
       previous_secret_until = now() + make_interval(secs => %(overlap)s), updated_at = now()
 WHERE id = %(id)s
RETURNING *
"""


def webhook_json(row: dict[str, Any]) -> dict[str, Any]:
    """An endpoint as the API shows it (never its secret)."""
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "events": list(row["events"]),
        "description": row["description"],
        "enabled": row["enabled"],
        "disabled_reason": row["disabled_reason"],
        "disabled_at": rfc3339(row["disabled_at"]),
        "failing_since": rfc3339(row["failing_since"]),
        "previous_secret_until": rfc3339(row["previous_secret_until"]),
        "created_at": rfc3339(row["created_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }


def create_webhook(
    conn: Conn, principal: Principal, settings: Settings, body: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """A new endpoint and its signing secret (the only time it is shown)."""
    principal.require("admin")
    values = _checked(body, settings)
    secret = new_secret()
    row = conn.execute(
        INSERT,
        {**values, "secret": seal(secret, settings.secret_key), "created_by": principal.user_id},
    ).fetchone()
    assert row is not None
    audit.record(conn, principal, "webhook.created", "webhook", row["id"], _audited(row))
    return row, secret


def list_webhooks(conn: Conn, principal: Principal) -> list[dict[str, Any]]:
    principal.require("admin")
    return conn.execute(LIST).fetchall()


def get_webhook(
    conn: Conn, principal: Principal, webhook_id: object, for_update: bool = False
) -> dict[str, Any]:
    """An endpoint of this organization; 404 for another's or a malformed id."""
    principal.require("admin")
    return find_webhook(conn, webhook_id, for_update)


def find_webhook(conn: Conn, webhook_id: object, for_update: bool = False) -> dict[str, Any]:
    parsed = id_or_not_found(webhook_id, "webhook")
    row = conn.execute(GET_FOR_UPDATE if for_update else GET, [parsed]).fetchone()
    if row is None:
        raise NotFound(f"No webhook {webhook_id}.")
    return row


def update_webhook(
    conn: Conn, principal: Principal, settings: Settings, webhook_id: object, body: dict[str, Any]
) -> dict[str, Any]:
    """Change url, events, description or enabled (only the keys sent)."""
    current = get_webhook(conn, principal, webhook_id, for_update=True)
    merged = {
        "url": current["url"],
        "events": list(current["events"]),
        "description": current["description"],
        "enabled": current["enabled"],
        **body,
    }
    values = _checked(merged, settings, check_url_now="url" in body)
    row = conn.execute(
        UPDATE, {**values, "enabled": bool(merged["enabled"]), "id": current["id"]}
    ).fetchone()
    assert row is not None
    details = {**_audited(row), "changed": sorted(body)}
    audit.record(conn, principal, "webhook.changed", "webhook", row["id"], details)
    return row


def delete_webhook(conn: Conn, principal: Principal, webhook_id: object) -> None:
    """Delete an endpoint and its delivery log; deliveries still queued are dropped."""
    row = get_webhook(conn, principal, webhook_id)
    conn.execute(DELETE, [row["id"]])
    audit.record(conn, principal, "webhook.deleted", "webhook", row["id"], _audited(row))


def rotate_secret(
    conn: Conn, principal: Principal, settings: Settings, webhook_id: object
) -> tuple[dict[str, Any], str]:
    """A new secret; the one it replaces keeps signing beside it for the overlap
    (CRMFERRY_WEBHOOK_ROTATION_OVERLAP_SECONDS, 24 hours), so receivers can switch."""
    current = get_webhook(conn, principal, webhook_id, for_update=True)
    secret = new_secret()
    row = conn.execute(
        ROTATE,
        {
            "id": current["id"],
            "secret": seal(secret, settings.secret_key),
            "overlap": settings.webhook_rotation_overlap_seconds,
        },
    ).fetchone()
    assert row is not None
    details = {"previous_secret_until": rfc3339(row["previous_secret_until"])}
    audit.record(conn, principal, "webhook.secret_rotated", "webhook", row["id"], details)
    return row, secret


def signing_secrets(row: dict[str, Any], settings: Settings, now: datetime) -> list[str]:
    """The secrets that sign a delivery made at `now`: the current one, and the previous
    one while its overlap lasts."""
    found = [unseal(row["secret"], settings.secret_key)]
    until = row["previous_secret_until"]
    if row["previous_secret"] and until is not None and until > now:
        found.append(unseal(row["previous_secret"], settings.secret_key))
    return found


def _checked(
    body: dict[str, Any], settings: Settings, check_url_now: bool = True
) -> dict[str, Any]:
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise _invalid("url", "is required")
    if len(url) > 2000:
        raise _invalid("url", "must be at most 2,000 characters")
    if check_url_now:
        check_url(url.strip(), OutboundPolicy.from_settings(settings))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise _invalid("events", f"must list one or more of {', '.join(EVENT_TYPES)}")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise _invalid(
            "events", f"{unknown[0]!r} is not an event type; one of {', '.join(EVENT_TYPES)}"
        )
    description = body.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise _invalid("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    return {"url": url.strip(), "events": list(dict.fromkeys(events)), "description": description}


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"The webhook's {field} {message}.", [{"field": field, "message": message}]
    )


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {"url": row["url"], "events": list(row["events"]), "enabled": row["enabled"]}
