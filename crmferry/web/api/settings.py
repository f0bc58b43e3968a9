"""Settings the web pages need: members and roles, API tokens, the caller's time zone.

Members and tokens are admin-only; every id of another organization answers 404.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from crmferry.accounts.admin import normalise_email
from crmferry.accounts.principal import Role
from crmferry.accounts.secrets import hash_password, new_token, token_digest
from crmferry.db import Conn
from crmferry.errors import Conflict, NotFound, ValidationFailed
from crmferry.jobs.timing import zone_named
from crmferry.web.api.me import me
from crmferry.web.deps import DB, AdminPrincipal, CurrentPrincipal

router = APIRouter(tags=["settings"])

LIST_MEMBERS = """
SELECT u.id, u.email, u.name, m.role, m.created_at
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.organization_id = %(org)s
 ORDER BY lower(u.email)
"""

# Runs on the owner connection: the e-mail may belong to a user of another
# organization, invisible to the application role. An existing user keeps
# their name and password; only a new user gets the ones given here.
ADD_USER = """
WITH created AS (
    INSERT INTO users (email, name, password_hash) VALUES (%(email)s, %(name)s, %(hash)s)
    ON CONFLICT (lower(email)) DO NOTHING
    RETURNING id
)
SELECT id FROM created
UNION ALL
SELECT id FROM users WHERE lower(email) = lower(%(email)s)
LIMIT 1
"""

ADD_MEMBERSHIP = """
INSERT INTO memberships (organization_id, user_id, role) VALUES (%(org)s, %(user)s, %(role)s)
ON CONFLICT (organization_id, user_id) DO NOTHING
RETURNING user_id
"""

MEMBER = """
SELECT u.id, u.email, u.name, m.role, m.created_at
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.organization_id = %(org)s AND m.user_id = %(user)s
"""

# Locks the organization's admin memberships so two demotions cannot both pass.
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

REMOVE_MEMBER = """
WITH tokens AS (
    UPDATE api_tokens SET revoked_at = now()
     WHERE organization_id = %(org)s AND user_id = %(user)s AND revoked_at IS NULL
), sessions AS (
    DELETE FROM web_sessions WHERE organization_id = %(org)s AND user_id = %(user)s
)
DELETE FROM memberships WHERE organization_id = %(org)s AND user_id = %(user)s
"""

LIST_TOKENS = """
SELECT t.id, t.name, t.prefix, u.email AS user_email, t.created_at, t.last_used_at, t.revoked_at
  FROM api_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.organization_id = %(org)s
 ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC
"""

TOKEN_OWNER = """
SELECT u.id FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.organization_id = %(org)s AND lower(u.email) = lower(%(email)s)
"""

CREATE_TOKEN = """
INSERT INTO api_tokens (organization_id, user_id, name, token_hash, prefix)
VALUES (%(org)s, %(user)s, %(name)s, %(hash)s, %(prefix)s)
RETURNING id, name, prefix, created_at
"""

REVOKE_TOKEN = """
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
 WHERE organization_id = %(org)s AND id = %(id)s
RETURNING id
"""

SET_TIMEZONE = "UPDATE users SET timezone = %(tz)s WHERE id = %(user)s"


class MemberIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    role: Role = "member"
    name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=200)


class RoleIn(BaseModel):
    role: Role


class TokenIn(BaseModel):
    name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, description="A member's e-mail; default the caller")


class MeIn(BaseModel):
    timezone: str | None = Field(default=None, description="IANA name; null: the organization's")


def _member_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "created_at": row["created_at"].isoformat(),
    }


@router.get("/members")
def list_members(principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    """The organization's members with their roles (admin only)."""
    with db.tenant(principal.organization_id) as conn:
        rows = conn.execute(LIST_MEMBERS, {"org": principal.organization_id}).fetchall()
    return {"items": [_member_json(r) for r in rows]}


@router.post("/members", status_code=201)
def add_member(body: MemberIn, principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    """Add a member; an e-mail already in the organization is a 409."""
    email = normalise_email(body.email)
    password_hash = hash_password(body.password) if body.password else None
    params = {"org": principal.organization_id, "email": email, "role": body.role}
    with db.owner_connect() as conn, conn.transaction():
        user = conn.execute(
            ADD_USER, {"email": email, "name": body.name, "hash": password_hash}
        ).fetchone()
        assert user is not None
        params["user"] = user["id"]
        if conn.execute(ADD_MEMBERSHIP, params).fetchone() is None:
            raise Conflict(
                f"{email} is already a member.", [{"field": "email", "message": "already a member"}]
            )
        row = conn.execute(MEMBER, params).fetchone()
    assert row is not None
    return _member_json(row)


def _require_other_admin(conn: Conn, org: UUID, user: UUID) -> None:
    if conn.execute(OTHER_ADMINS, {"org": org, "user": user}).fetchone()["n"] == 0:  # type: ignore[index]
        raise Conflict("The organization needs at least one admin.")


@router.patch("/members/{user_id}")
def change_role(user_id: UUID, body: RoleIn, principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    """Change a member's role; the last admin cannot be demoted (409)."""
    params = {"org": principal.organization_id, "user": user_id, "role": body.role}
    with db.tenant(principal.organization_id) as conn:
        row = conn.execute(MEMBER, params).fetchone()
        if row is None:
            raise NotFound("No such member.")
        if row["role"] == "admin" and body.role != "admin":
            _require_other_admin(conn, principal.organization_id, user_id)
        conn.execute(SET_ROLE, params)
        row = conn.execute(MEMBER, params).fetchone()
    assert row is not None
    return _member_json(row)


@router.delete("/members/{user_id}", status_code=204)
def remove_member(user_id: UUID, principal: AdminPrincipal, db: DB) -> Response:
    """Remove a member: their tokens are revoked and sessions closed in this organization."""
    params = {"org": principal.organization_id, "user": user_id}
    with db.tenant(principal.organization_id) as conn:
        row = conn.execute(MEMBER, params).fetchone()
        if row is None:
            raise NotFound("No such member.")
        if row["role"] == "admin":
            _require_other_admin(conn, principal.organization_id, user_id)
        conn.execute(REMOVE_MEMBER, params)
    return Response(status_code=204)


def _token_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if k == "id" else v)
        for k, v in row.items()
    }


@router.get("/tokens")
def list_tokens(principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    """The organization's API tokens: name, prefix, owner, use; never the token itself."""
    with db.tenant(principal.organization_id) as conn:
        rows = conn.execute(LIST_TOKENS, {"org": principal.organization_id}).fetchall()
    return {"items": [_token_json(r) for r in rows]}


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, principal: AdminPrincipal, db: DB) -> dict[str, Any]:
    """A new token for the caller or a named member; `token` appears in this response only."""
    email = body.email or principal.email
    with db.tenant(principal.organization_id) as conn:
        owner = conn.execute(
            TOKEN_OWNER, {"org": principal.organization_id, "email": email}
        ).fetchone()
        if owner is None:
            raise ValidationFailed(
                f"{email} is not a member of this organization.",
                [{"field": "email", "message": "not a member"}],
            )
        token = new_token()
        row = conn.execute(
            CREATE_TOKEN,
            {
                "org": principal.organization_id,
                "user": owner["id"],
                "name": body.name.strip(),
                "hash": token_digest(token),
                "prefix": token[:8],
            },
        ).fetchone()
    assert row is not None
    return {**_token_json(row), "user_email": email, "token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: UUID, principal: AdminPrincipal, db: DB) -> Response:
    """Revoke a token at once (idempotent); it stays listed as revoked."""
    with db.tenant(principal.organization_id) as conn:
        row = conn.execute(
            REVOKE_TOKEN, {"org": principal.organization_id, "id": token_id}
        ).fetchone()
    if row is None:
        raise NotFound("No such token.")
    return Response(status_code=204)


@router.patch("/me")
def update_me(body: MeIn, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Set the caller's time zone (null falls back to the organization's)."""
    tz = zone_named(body.timezone).key if body.timezone else None
    with db.tenant(principal.organization_id) as conn:
        conn.execute(SET_TIMEZONE, {"tz": tz, "user": principal.user_id})
    return me(principal, db)
