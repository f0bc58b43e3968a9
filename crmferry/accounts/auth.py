"""Turning a bearer token or a session cookie into a Principal; opening and ending web
sessions; changing a password (the password check itself is in `login`)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.accounts.secrets import hash_password, new_token, token_digest
from crmferry.db import Database
from crmferry.errors import Unauthenticated

AUTH_TOKEN = "SELECT * FROM crmferry_auth_token(%s)"
AUTH_SESSION = "SELECT * FROM crmferry_auth_session(%s)"

OPEN_SESSION = """
INSERT INTO web_sessions (organization_id, user_id, session_hash, csrf_token, expires_at)
VALUES (%(org)s, %(user)s, %(hash)s, %(csrf)s, now() + %(lifetime)s)
"""

END_SESSION = "SELECT crmferry_end_session(%s) AS ended"

CHANGE_PASSWORD = "SELECT crmferry_change_password(%(credential)s, %(hash)s) AS ended"

Via = Literal["token", "session"]


def principal_from_token(db: Database, token: str) -> Principal:
    """The member an API token belongs to; Unauthenticated if unknown or revoked."""
    return principal_from_credential(db, "token", token_digest(token))


def principal_from_session(db: Database, session_secret: str) -> Principal:
    """The member a live session belongs to; Unauthenticated if unknown or expired."""
    return principal_from_credential(db, "session", token_digest(session_secret))


def principal_from_credential(db: Database, via: Via, digest: bytes) -> Principal:
    """The member a token's or session's SHA-256 stands for, as of now (revocation,
    expiry, a removed membership and a changed role all show at once). One statement
    in autocommit, its own transaction: one round trip, where BEGIN, the look-up and
    COMMIT took three on every request."""
    with db.autocommit() as conn:
        row = conn.execute(AUTH_TOKEN if via == "token" else AUTH_SESSION, [digest]).fetchone()
    if row is None:
        if via == "token":
            raise Unauthenticated("The API token is not valid.")
        raise Unauthenticated("Your session has expired; please sign in again.")
    return Principal(
        user_id=UUID(str(row["user_id"])),
        organization_id=UUID(str(row["organization_id"])),
        role=row["role"],
        email=str(row["email"]),
        name=row["user_name"],
        via=via,
        csrf_token=_csrf(row, via),
        credential=digest,
    )


def open_session(db: Database, organization_id: UUID, user_id: UUID, lifetime: timedelta) -> str:
    """A new web session of `user_id` in `organization_id`; its secret (the cookie)."""
    session_secret = new_token()
    with db.tenant(organization_id) as conn:
        conn.execute(
            OPEN_SESSION,
            {
                "org": organization_id,
                "user": user_id,
                "hash": token_digest(session_secret),
                "csrf": secrets.token_urlsafe(24),
                "lifetime": lifetime,
            },
        )
    return session_secret


def end_session(db: Database, session_secret: str) -> bool:
    """Delete the session this secret names, valid or not; True if there was one."""
    with db.anonymous() as conn:
        row = conn.execute(END_SESSION, [token_digest(session_secret)]).fetchone()
    return bool(row and row["ended"])


def change_password(db: Database, principal: Principal, new_password: str) -> int:
    """Set the caller's password (already checked to be theirs) and end every other
    session of theirs, in every organization; the number of sessions ended. The session
    or token the caller used stays valid."""
    assert principal.credential is not None, "a password change needs a token or session"
    with db.anonymous() as conn:
        row = conn.execute(
            CHANGE_PASSWORD,
            {"credential": principal.credential, "hash": hash_password(new_password)},
        ).fetchone()
    return int(row["ended"]) if row else 0


def _csrf(row: dict[str, Any], via: Via) -> str | None:
    return str(row["csrf_token"]) if via == "session" else None
