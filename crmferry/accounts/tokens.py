"""API tokens: created for a member (shown once, kept as a SHA-256), listed, revoked.
The one place these rules live, for the web and the operator's command alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crmferry.accounts.members import member_with_email
from crmferry.accounts.secrets import new_token, token_digest
from crmferry.db import Conn

LIST_TOKENS = """
SELECT t.id, t.name, t.prefix, u.email AS user_email, t.created_at, t.last_used_at, t.revoked_at
  FROM api_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.organization_id = %(org)s
 ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC
"""

CREATE_TOKEN = """
INSERT INTO api_tokens (organization_id, user_id, name, token_hash, prefix)
VALUES (%(org)s, %(user)s, %(name)s, %(hash)s, %(prefix)s)
RETURNING id, name, prefix, created_at, last_used_at, revoked_at
"""

REVOKE_TOKEN = """
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
 WHERE organization_id = %(org)s AND id = %(id)s
RETURNING id
"""


@dataclass(frozen=True)
class NewToken:
    """A token just created: its row (no secret in it) and the token, shown once."""

    row: dict[str, Any]
    token: str


def list_tokens(conn: Conn, organization_id: UUID) -> list[dict[str, Any]]:
    """The organization's tokens, live ones first: name, prefix, owner, use; never the
    token itself."""
    return conn.execute(LIST_TOKENS, {"org": organization_id}).fetchall()


def create_token(conn: Conn, organization_id: UUID, email: str, name: str = "") -> NewToken | None:
    """A new token for the member with `email`; None when no member has that e-mail
    (the caller says so in its own terms: a 422, an exit code)."""
    user_id = member_with_email(conn, organization_id, email.strip())
    if user_id is None:
        return None
    token = new_token()
    row = conn.execute(
        CREATE_TOKEN,
        {
            "org": organization_id,
            "user": user_id,
            "name": name.strip(),
            "hash": token_digest(token),
            "prefix": token[:8],
        },
    ).fetchone()
    assert row is not None
    return NewToken({**row, "user_email": email.strip()}, token)


def revoke_token(conn: Conn, organization_id: UUID, token_id: UUID) -> bool:
    """Revoke a token at once (idempotent); False when the organization has no such token."""
    return (
        conn.execute(REVOKE_TOKEN, {"org": organization_id, "id": token_id}).fetchone() is not None
    )
