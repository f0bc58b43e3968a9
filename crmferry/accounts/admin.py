"""Operator actions (CLI): create organizations, users and tokens.

They run on the owner connection because they start outside any organization
(a new organization has no rows to be visible through yet).
"""

from __future__ import annotations

from uuid import UUID

from email_validator import EmailNotValidError, validate_email

from crmferry.accounts.principal import ROLES, Principal
from crmferry.accounts.secrets import hash_password, new_token, token_digest
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed

MEMBER_BY_EMAIL = """
SELECT u.id AS user_id, u.email, u.name, m.role
  FROM memberships AS m JOIN users AS u ON u.id = m.user_id
 WHERE m.organization_id = %s AND lower(u.email) = lower(%s)
"""


def create_organization(
    conn: Conn, name: str, currency: str = "USD", timezone: str = "UTC"
) -> UUID:
    name = name.strip()
    if not name:
        raise ValidationFailed(
            "The organization needs a name.", [{"field": "name", "message": "empty"}]
        )
    row = conn.execute(
        "INSERT INTO organizations (name, currency, timezone) VALUES (%s, %s, %s) RETURNING id",
        [name, currency, timezone],
    ).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"'{email}' is not a valid e-mail address: {exc}",
            [{"field": "email", "message": str(exc)}],
        ) from exc


def create_user(
    conn: Conn,
    organization_id: UUID,
    email: str,
    role: str,
    name: str | None = None,
    password: str | None = None,
) -> UUID:
    """Add a member (creating the user when the e-mail is new); return the user id."""
    if role not in ROLES:
        raise ValidationFailed(
            f"Unknown role '{role}'; use one of {', '.join(ROLES)}.",
            [{"field": "role", "message": "unknown role"}],
        )
    _require_organization(conn, organization_id)
    email = normalise_email(email)
    password_hash = hash_password(password) if password else None
    with conn.transaction():
        row = conn.execute(
            """
            INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s)
            ON CONFLICT (lower(email)) DO UPDATE
               SET name = coalesce(EXCLUDED.name, users.name),
                   password_hash = coalesce(EXCLUDED.password_hash, users.password_hash)
            RETURNING id
            """,
            [email, name, password_hash],
        ).fetchone()
        assert row is not None
        conn.execute(
            """
            INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, %s)
            ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role
            """,
            [organization_id, row["id"], role],
        )
    return UUID(str(row["id"]))


def create_token(conn: Conn, organization_id: UUID, email: str, name: str = "") -> str:
    """A new API token for a member; the clear token is returned once and not kept."""
    member = conn.execute(
        """
        SELECT u.id FROM users u
          JOIN memberships m ON m.user_id = u.id AND m.organization_id = %s
         WHERE lower(u.email) = lower(%s)
        """,
        [organization_id, email.strip()],
    ).fetchone()
    if member is None:
        raise NotFound(f"No member with e-mail {email} in organization {organization_id}.")
    token = new_token()
    conn.execute(
        """
        INSERT INTO api_tokens (organization_id, user_id, name, token_hash, prefix)
        VALUES (%s, %s, %s, %s, %s)
        """,
        [organization_id, member["id"], name, token_digest(token), token[:8]],
    )
    return token


def member_principal(conn: Conn, organization_id: UUID, email: str) -> Principal:
    """The member with this e-mail (any case) acting from the command line; 404 when the
    organization has no such member."""
    row = conn.execute(MEMBER_BY_EMAIL, [organization_id, email.strip()]).fetchone()
    if row is None:
        raise NotFound(f"{email} is not a member of organization {organization_id}.")
    return Principal(row["user_id"], organization_id, row["role"], row["email"], row["name"], "cli")


def _require_organization(conn: Conn, organization_id: UUID) -> None:
    if (
        conn.execute("SELECT 1 FROM organizations WHERE id = %s", [organization_id]).fetchone()
        is None
    ):
        raise NotFound(f"No organization {organization_id}.")
