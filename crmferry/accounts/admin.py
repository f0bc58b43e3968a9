"""Operator actions (CLI): create organizations, users and tokens.

They run on the owner connection because they start outside any organization
(a new organization has no rows to be visible through yet). The rules themselves
are those of `accounts.members` and `accounts.tokens`.
"""

from __future__ import annotations

from uuid import UUID

from crmferry.accounts.members import add_user, member_by_email, normalise_email
from crmferry.accounts.principal import Principal
from crmferry.accounts.tokens import create_token as create_member_token
from crmferry.audit import Actor, record
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed

__all__ = [
    "create_organization",
    "create_token",
    "create_user",
    "member_principal",
    "normalise_email",
]

# The operator acts as no member: the audit log names the command instead.
OPERATOR = Actor(None, None, "Operator (crmferry tokens create)")
# The organization the audit entry belongs to, for this transaction only.
IN_ORGANIZATION = "SELECT set_config('app.current_organization_id', %s, true)"

CREATE_ORGANIZATION = """
INSERT INTO organizations (name, currency, timezone) VALUES (%s, %s, %s) RETURNING id
"""


def create_organization(
    conn: Conn, name: str, currency: str = "USD", timezone: str = "UTC"
) -> UUID:
    """A new organization; its id."""
    name = name.strip()
    if not name:
        raise ValidationFailed(
            "The organization needs a name.", [{"field": "name", "message": "empty"}]
        )
    row = conn.execute(CREATE_ORGANIZATION, [name, currency, timezone]).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def create_user(
    conn: Conn,
    organization_id: UUID,
    email: str,
    role: str,
    name: str | None = None,
    password: str | None = None,
) -> UUID:
    """Add a member (creating the user when the e-mail is new, else giving the name
    and password given); return the user id."""
    return add_user(conn, organization_id, email, role, name=name, password=password)


def create_token(conn: Conn, organization_id: UUID, email: str, name: str = "") -> str:
    """A new API token for a member; the clear token is returned once and not kept.
    Audited (`token.created`, via cli) in the transaction that makes it."""
    with conn.transaction():
        created = create_member_token(conn, organization_id, email, name)
        if created is None:
            raise NotFound(f"No member with e-mail {email} in organization {organization_id}.")
        conn.execute(IN_ORGANIZATION, [str(organization_id)])
        details = {"name": name.strip(), "for": normalise_email(email), "via": "cli"}
        record(conn, OPERATOR, "token.created", "token", created.row["id"], details)
    return created.token


def member_principal(conn: Conn, organization_id: UUID, email: str) -> Principal:
    """The member with this e-mail (any case) acting from the command line; 404 when the
    organization has no such member."""
    member = member_by_email(conn, organization_id, email.strip())
    if member is None:
        raise NotFound(f"{email} is not a member of organization {organization_id}.")
    return Principal(member.id, organization_id, member.role, member.email, member.name, "cli")
