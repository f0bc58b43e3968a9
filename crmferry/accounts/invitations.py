"""Invitations: how an admin adds a member without handing out anyone's account.

An admin invites an address with a role; the answer has the same shape whatever the
address (with or without an account elsewhere) and says nothing of other
organizations. The invitee opens the one-time link (INVITATION_DAYS) and either
chooses a name and password (a new user) or signs in with their own (an existing
one). The link's token is shown once and kept as a SHA-256.

Until e-mail exists, the admin passes the link on (`invite_url` of the new
invitation); the notifications work sends it with `invite_url(base_url, token)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import psycopg

from crmferry.accounts.members import checked_role, member_with_email, normalise_email
from crmferry.accounts.principal import Principal, Role
from crmferry.accounts.secrets import hash_password, new_token, token_digest
from crmferry.config import Settings
from crmferry.db import Conn, Database
from crmferry.errors import Conflict, NotFound, ValidationFailed
from crmferry.notify.invitation_mail import write_invitation_event

INVITATION_DAYS = 7

# A pending invitation past its time is marked expired before a new one is made, so
# it does not hold the address's one pending slot.
EXPIRE_STALE = """
UPDATE invitations SET status = 'expired', finished_at = now()
 WHERE organization_id = %(org)s AND lower(email) = lower(%(email)s)
   AND status = 'pending' AND expires_at <= now()
"""

CREATE_INVITATION = """
INSERT INTO invitations (organization_id, email, role, token_hash, invited_by, expires_at)
VALUES (%(org)s, %(email)s, %(role)s, %(hash)s, %(by)s, now() + %(lifetime)s)
ON CONFLICT (organization_id, lower(email)) WHERE status = 'pending' DO NOTHING
RETURNING id, email, role, created_at, expires_at
"""

LIST_PENDING = """
SELECT i.id, i.email, i.role, i.created_at, i.expires_at, u.email AS invited_by
  FROM invitations i LEFT JOIN users u ON u.id = i.invited_by
 WHERE i.organization_id = %(org)s AND i.status = 'pending'
 ORDER BY i.created_at DESC
"""

REVOKE_INVITATION = """
UPDATE invitations SET status = 'revoked', finished_at = now()
 WHERE organization_id = %(org)s AND id = %(id)s AND status IN ('pending', 'expired')
RETURNING id
"""

INVITATION_STATUS = "SELECT status FROM invitations WHERE organization_id = %(org)s AND id = %(id)s"

LOOKUP = "SELECT * FROM crmferry_invitation(%s)"
ACCEPT_EXISTING = "SELECT crmferry_accept_invitation(%s, %s) AS organization_id"
ACCEPT_NEW = "SELECT * FROM crmferry_accept_invitation_as_new_user(%s, %s, %s)"


@dataclass(frozen=True)
class Invitation:
    id: UUID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    invited_by: str | None = None

    @property
    def status(self) -> Literal["invited", "expired"]:
        return "invited" if self.expires_at > datetime.now(self.expires_at.tzinfo) else "expired"

    @classmethod
    def of(cls, row: dict[str, Any]) -> Invitation:
        return cls(
            UUID(str(row["id"])),
            row["email"],
            row["role"],
            row["created_at"],
            row["expires_at"],
            row.get("invited_by"),
        )


@dataclass(frozen=True)
class NewInvitation:
    """An invitation just made, with its link's token (shown once, never again)."""

    invitation: Invitation
    token: str


@dataclass(frozen=True)
class OpenInvitation:
    """What a valid link shows its holder, and which way it is accepted."""

    id: UUID
    organization_id: UUID
    organization_name: str
    email: str
    role: Role
    expires_at: datetime
    account: Literal["none", "password", "no_password"]


def invite_url(base_url: str, token: str) -> str:
    """The link that accepts an invitation (CRMFERRY_BASE_URL + /invite/<token>)."""
    return f"{base_url.rstrip('/')}/invite/{token}"


def create_invitation(
    conn: Conn, principal: Principal, email: str, role: str, settings: Settings
) -> NewInvitation:
    """Invite `email` into the caller's organization with `role` (tenant connection),
    and queue the mail of its link to the address (when e-mail is configured).

    The same answer whether or not the address has an account anywhere; Conflict when
    it is already a member here, or already has a pending invitation here (revoke that
    one to make a new link): of concurrent invitations of one address, one is made and
    the others are that Conflict.
    """
    principal.require("admin")
    address = normalise_email(email)
    params: dict[str, Any] = {"org": principal.organization_id, "email": address}
    if member_with_email(conn, principal.organization_id, address) is not None:
        raise Conflict(
            f"{address} is already a member.", [{"field": "email", "message": "already a member"}]
        )
    conn.execute(EXPIRE_STALE, params)
    token = new_token()
    row = conn.execute(
        CREATE_INVITATION,
        {
            **params,
            "role": checked_role(role),
            "hash": token_digest(token),
            "by": principal.user_id,
            "lifetime": timedelta(days=INVITATION_DAYS),
        },
    ).fetchone()
    if row is None:
        raise Conflict(
            f"{address} has a pending invitation already; revoke it to make a new link.",
            [{"field": "email", "message": "already invited"}],
        )
    write_invitation_event(conn, settings, principal, row, token)
    return NewInvitation(Invitation.of(row), token)


def list_invitations(conn: Conn, organization_id: UUID) -> list[Invitation]:
    """The organization's invitations not yet accepted or revoked (expired ones too)."""
    return [Invitation.of(r) for r in conn.execute(LIST_PENDING, {"org": organization_id})]


def revoke_invitation(conn: Conn, organization_id: UUID, invitation_id: UUID) -> None:
    """Revoke an invitation: its link stops working at once. Idempotent; NotFound for
    another organization's or no invitation, Conflict for one already accepted."""
    params = {"org": organization_id, "id": invitation_id}
    if conn.execute(REVOKE_INVITATION, params).fetchone() is not None:
        return
    row = conn.execute(INVITATION_STATUS, params).fetchone()
    if row is None:
        raise NotFound("No such invitation.")
    if row["status"] == "accepted":
        raise Conflict("This invitation was accepted already; remove the member instead.")


def open_invitation(db: Database, token: str) -> OpenInvitation:
    """The invitation a link's token names; NotFound when it was used, revoked, has
    expired or never existed (the four are not told apart)."""
    with db.anonymous() as conn:
        row = conn.execute(LOOKUP, [token_digest(token)]).fetchone()
    if row is None:
        raise NotFound("This invitation link is not valid: it was used, revoked or has expired.")
    return OpenInvitation(
        UUID(str(row["invitation_id"])),
        UUID(str(row["organization_id"])),
        row["organization_name"],
        row["email"],
        row["role"],
        row["expires_at"],
        row["account"],
    )


def accept_as_existing_user(db: Database, token: str, user_id: UUID) -> UUID:
    """Make `user_id` (whose password was just checked) a member as invited; the
    organization joined. NotFound if the link is no longer valid or not theirs."""
    with db.anonymous() as conn:
        row = conn.execute(ACCEPT_EXISTING, [token_digest(token), user_id]).fetchone()
    if row is None or row["organization_id"] is None:
        raise NotFound("This invitation link is not valid: it was used, revoked or has expired.")
    return UUID(str(row["organization_id"]))


def accept_as_new_user(db: Database, token: str, name: str, password: str) -> tuple[UUID, UUID]:
    """Create the invited user with the name and password they chose and make them a
    member; (user id, organization id). ValidationFailed for a short password, Conflict
    when the address has an account (sign in instead), NotFound for a spent link."""
    if not 8 <= len(password) <= 200:
        raise ValidationFailed(
            "Choose a password of 8 to 200 characters.",
            [{"field": "password", "message": "8 to 200 characters"}],
        )
    try:
        with db.anonymous() as conn:
            row = conn.execute(
                ACCEPT_NEW,
                [token_digest(token), name.strip()[:200] or None, hash_password(password)],
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict("This address has an account already: sign in with its password.") from None
    if row is None or row["user_id"] is None:
        raise NotFound("This invitation link is not valid: it was used, revoked or has expired.")
    return UUID(str(row["user_id"])), UUID(str(row["organization_id"]))
