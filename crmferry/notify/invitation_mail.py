"""The invitee's e-mail: an `invitation.created` event, written in the transaction that
makes the invitation, which the mail channel delivers to the invited address (retried
like any delivery, and still there after a crash).

The link's token is a secret: the event carries it sealed (crmferry/credentials.py,
AES-GCM under a key of its own derived from CRMFERRY_SECRET_KEY), the mail delivery
alone opens it, and removes it from the event once the mail is sent. No other channel
takes this event type: the in-app and admin channels tell only of jobs, schedules and
webhooks, and a webhook endpoint may subscribe only to the types in
crmferry/webhooks/endpoints.py. Without CRMFERRY_SMTP_URL no event is written at all.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.credentials import open_text, seal_text
from crmferry.db import Conn
from crmferry.jobs.model import rfc3339
from crmferry.notify.channels import Event
from crmferry.notify.events import register_event_type, write_event

INVITATION_CREATED = register_event_type("invitation.created")
SEALED_TOKEN = "sealed_token"
_PURPOSE = "invitation link"

ORGANIZATION_NAME = "SELECT name FROM organizations WHERE id = crmferry_current_org()"
STILL_PENDING = """
SELECT 1 FROM invitations WHERE id = %s AND status = 'pending' AND expires_at > now()
"""
FORGET_TOKEN = "UPDATE events SET payload = payload - %s WHERE id = %s"


def write_invitation_event(
    conn: Conn,
    settings: Settings,
    principal: Principal,
    invitation: dict[str, Any],
    token: str,
) -> dict[str, Any] | None:
    """The event that mails `invitation` (id, email, role, expires_at) its link, in
    `conn`'s transaction; None (nothing written) while no SMTP server is configured."""
    if not settings.smtp_url:
        return None
    org = conn.execute(ORGANIZATION_NAME).fetchone()
    payload = {
        "id": str(invitation["id"]),
        "email": invitation["email"],
        "role": invitation["role"],
        "expires_at": rfc3339(invitation["expires_at"]),
        "organization_name": org["name"] if org else "",
        "invited_by_name": principal.display_name,
        "created_by": str(principal.user_id),
        SEALED_TOKEN: seal_text(token, settings, _PURPOSE),
    }
    return write_event(conn, INVITATION_CREATED, payload)


def invitation_token(event: Event, settings: Settings) -> str:
    """The link's token (CredentialsUnreadable under another secret key)."""
    return open_text(event.payload.get(SEALED_TOKEN), settings, _PURPOSE)


def still_pending(conn: Conn, event: Event) -> bool:
    """Whether the invitation can still be accepted (not revoked, used or expired)."""
    return conn.execute(STILL_PENDING, [UUID(str(event.payload["id"]))]).fetchone() is not None


def forget_token(conn: Conn, event: Event) -> None:
    """Drop the sealed token from the event once the mail is sent (the delivery's
    transaction: a crash before it commits sends again, with the token still there)."""
    conn.execute(FORGET_TOKEN, [SEALED_TOKEN, event.id])
