"""Members of an organization: who they are, their roles, adding (the operator's way),
changing roles and removing; the one place these rules live.

The functions take a connection: the tenant's (the web, under RLS) or the owner's (the
operator's commands). Adding a member through the web is an invitation
(`accounts.invitations`); only the operator adds a user directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from email_validator import EmailNotValidError, validate_email

from crmferry.accounts.principal import ROLES, Role
from crmferry.accounts.secrets import hash_password
from crmferry.db import Conn
from crmferry.errors import Conflict, NotFound, ValidationFailed

LIST_MEMBERS = """
SELECT u.id, u.email, u.name, m.role, m.created_at
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.organization_id = %(org)s
 ORDER BY lower(u.email)
"""

MEMBER = """
SELECT u.id, u.email, u.name, m.role, m.created_at
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.organization_id = %(org)s AND m.user_id = %(user)s
"""

MEMBER_BY_EMAIL = """
SELECT u.id, u.email, u.name, m.role, m.created_at
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.organization_id = %(org)s AND lower(u.email) = lower(%(email)s)
"""

# Locks the organization's other admin memberships, so two demotions cannot both pass.
OTHER_ADMINS = """
SELECT count(*) AS n FROM (
    SELECT 1 FROM memberships
     WHERE organization_id = %(org)s AND role = 'admin' AND user_id <> %(user)s
       FOR UPDATE
) a
"""

SET_ROLE = """
UPDATE memberships SET role = %(role)s
 WHERE organization_id = %(org)s AND user_id = %(user)s
"""

# Their tokens are revoked and their sessions here end with the membership.
REMOVE_MEMBER = """
WITH tokens AS (
    UPDATE api_tokens SET revoked_at = now()
     WHERE organization_id = %(org)s AND user_id = %(user)s AND revoked_at IS NULL
), sessions AS (
    DELETE FROM web_sessions WHERE organization_id = %(org)s AND user_id = %(user)s
)
DELETE FROM memberships WHERE organization_id = %(org)s AND user_id = %(user)s
"""

# The operator's way (owner connection): the user is created or updated (a name or
# password given replaces theirs), and the membership created or its role changed.
UPSERT_USER = """
INSERT INTO users (email, name, password_hash) VALUES (%(email)s, %(name)s, %(hash)s)
ON CONFLICT (lower(email)) DO UPDATE
   SET name = coalesce(EXCLUDED.name, users.name),
       password_hash = coalesce(EXCLUDED.password_hash, users.password_hash)
RETURNING id
"""

UPSERT_MEMBERSHIP = """
INSERT INTO memberships (organization_id, user_id, role) VALUES (%(org)s, %(user)s, %(role)s)
ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role
"""

ORGANIZATION_EXISTS = "SELECT 1 FROM organizations WHERE id = %(org)s"


@dataclass(frozen=True)
class Member:
    id: UUID
    email: str
    name: str | None
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Member:
        return cls(UUID(str(row["id"])), row["email"], row["name"], row["role"], row["created_at"])


def normalise_email(email: str, field: str = "email") -> str:
    """The e-mail address in one spelling (lower case, normalised); ValidationFailed
    naming `field` when it is not an address."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"'{email}' is not a valid e-mail address: {exc}",
            [{"field": field, "message": str(exc)}],
        ) from exc


def checked_role(role: str) -> Role:
    """`role` if it is one of admin, member, viewer; ValidationFailed otherwise."""
    for known in ROLES:
        if role == known:
            return known
    raise ValidationFailed(
        f"Unknown role '{role}'; use one of {', '.join(ROLES)}.",
        [{"field": "role", "message": "unknown role"}],
    )


def list_members(conn: Conn, organization_id: UUID) -> list[Member]:
    """The organization's members with their roles, by e-mail."""
    return [Member.of(r) for r in conn.execute(LIST_MEMBERS, {"org": organization_id})]


def get_member(conn: Conn, organization_id: UUID, user_id: UUID) -> Member:
    """One member; NotFound for a user who is not a member here (of another
    organization, or no one)."""
    row = conn.execute(MEMBER, {"org": organization_id, "user": user_id}).fetchone()
    if row is None:
        raise NotFound("No such member.")
    return Member.of(row)


def member_by_email(conn: Conn, organization_id: UUID, email: str) -> Member | None:
    """The member with this e-mail (any case) here, or None."""
    row = conn.execute(MEMBER_BY_EMAIL, {"org": organization_id, "email": email}).fetchone()
    return Member.of(row) if row else None


def member_with_email(conn: Conn, organization_id: UUID, email: str) -> UUID | None:
    """The user id of the member with this e-mail here, or None."""
    member = member_by_email(conn, organization_id, email)
    return member.id if member else None


def change_role(conn: Conn, organization_id: UUID, user_id: UUID, role: Role) -> Member:
    """Give a member another role; Conflict when that would leave no admin."""
    current = get_member(conn, organization_id, user_id)
    if current.role == "admin" and role != "admin":
        _require_other_admin(conn, organization_id, user_id)
    conn.execute(SET_ROLE, {"org": organization_id, "user": user_id, "role": role})
    return get_member(conn, organization_id, user_id)


def remove_member(conn: Conn, organization_id: UUID, user_id: UUID) -> None:
    """Remove a member, revoking their tokens and ending their sessions here; Conflict
    for the last admin."""
    current = get_member(conn, organization_id, user_id)
    if current.role == "admin":
        _require_other_admin(conn, organization_id, user_id)
    conn.execute(REMOVE_MEMBER, {"org": organization_id, "user": user_id})


def add_user(
    conn: Conn,
    organization_id: UUID,
    email: str,
    role: str,
    name: str | None = None,
    password: str | None = None,
) -> UUID:
    """The operator's direct add (owner connection): create or update the user and make
    them a member with `role`; the user id."""
    role = checked_role(role)
    if conn.execute(ORGANIZATION_EXISTS, {"org": organization_id}).fetchone() is None:
        raise NotFound(f"No organization {organization_id}.")
    params = {
        "email": normalise_email(email),
        "name": name,
        "hash": hash_password(password) if password else None,
    }
    with conn.transaction():
        row = conn.execute(UPSERT_USER, params).fetchone()
        assert row is not None
        conn.execute(UPSERT_MEMBERSHIP, {"org": organization_id, "user": row["id"], "role": role})
    return UUID(str(row["id"]))


def _require_other_admin(conn: Conn, organization_id: UUID, user_id: UUID) -> None:
    row = conn.execute(OTHER_ADMINS, {"org": organization_id, "user": user_id}).fetchone()
    if row is None or row["n"] == 0:
        raise Conflict("The organization needs at least one admin.")
