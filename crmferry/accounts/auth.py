"""Turning a bearer token or a session cookie into a Principal; opening and closing
web sessions (the password check itself is in `login`)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.accounts.secrets import new_token, token_digest
from crmferry.db import Database
from crmferry.errors import Unauthenticated


def principal_from_token(db: Database, token: str) -> Principal:
    """The member an API token belongs to; Unauthenticated if unknown or revoked."""
    with db.anonymous() as conn:
        row = conn.execute(
            "SELECT * FROM crmferry_auth_token(%s)", [token_digest(token)]
        ).fetchone()
    if row is None:
        raise Unauthenticated("The API token is not valid.")
    return _principal(row, "token")


def principal_from_session(db: Database, session_secret: str) -> Principal:
    with db.anonymous() as conn:
        row = conn.execute(
            "SELECT * FROM crmferry_auth_session(%s)", [token_digest(session_secret)]
        ).fetchone()
    if row is None:
        raise Unauthenticated("Your session has expired; please sign in again.")
    return _principal(row, "session", csrf=str(row["csrf_token"]))


def open_session(db: Database, organization_id: UUID, user_id: UUID, lifetime: timedelta) -> str:
    session_secret = new_token()
    with db.tenant(organization_id) as conn:
        conn.execute(
            """
            INSERT INTO web_sessions
                   (organization_id, user_id, session_hash, csrf_token, expires_at)
            VALUES (%s, %s, %s, %s, now() + %s)
            """,
            [
                organization_id,
                user_id,
                token_digest(session_secret),
                secrets.token_urlsafe(24),
                lifetime,
            ],
        )
    return session_secret


def close_session(db: Database, principal: Principal, session_secret: str) -> None:
    with db.tenant(principal.organization_id) as conn:
        conn.execute(
            "DELETE FROM web_sessions WHERE session_hash = %s", [token_digest(session_secret)]
        )


def _principal(
    row: dict[str, Any], via: Literal["token", "session"], csrf: str | None = None
) -> Principal:
    return Principal(
        user_id=UUID(str(row["user_id"])),
        organization_id=UUID(str(row["organization_id"])),
        role=row["role"],
        email=str(row["email"]),
        name=row["user_name"],
        via=via,
        csrf_token=csrf,
    )
