"""Settings the web pages need: members and their invitations, API tokens (admins),
and the caller's time zone. The rules and statements are the `accounts` package's;
these routes check the input, call them, and shape the answer.

Every id of another organization answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crmferry import audit
from crmferry.accounts import invitations, members, profile, tokens
from crmferry.accounts.principal import Role
from crmferry.errors import NotFound, ValidationFailed
from crmferry.jobs.timing import zone_named
from crmferry.web.api.me import me
from crmferry.web.api.models.base import Text
from crmferry.web.deps import DB, AdminPrincipal, AppSettings, CurrentPrincipal

router = APIRouter(tags=["settings"])


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


class MemberOut(BaseModel):
    id: UUID
    email: str
    name: str | None
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, member: members.Member) -> MemberOut:
        return cls(
            id=member.id,
            email=member.email,
            name=member.name,
            role=member.role,
            created_at=member.created_at.astimezone(UTC),
        )


class MembersOut(BaseModel):
    items: list[MemberOut]


class InvitationIn(BaseModel):
    """Who to invite; nothing else (no name, no password: the invitee chooses those)."""

    model_config = ConfigDict(extra="forbid")

    email: Text = Field(min_length=3, max_length=320)
    role: Role = "member"


class InvitationOut(BaseModel):
    """A new invitation: the same shape whether or not the address has an account."""

    id: UUID
    email: str
    role: Role
    status: Literal["invited"] = "invited"
    invite_url: str = Field(description="The one-time link; shown in this answer only")
    expires_at: datetime


class PendingInvitation(BaseModel):
    id: UUID
    email: str
    role: Role
    status: Literal["invited", "expired"]
    created_at: datetime
    expires_at: datetime
    invited_by: str | None = Field(description="The e-mail of the admin who invited")

    @classmethod
    def of(cls, invitation: invitations.Invitation) -> PendingInvitation:
        return cls(
            id=invitation.id,
            email=invitation.email,
            role=invitation.role,
            status=invitation.status,
            created_at=invitation.created_at.astimezone(UTC),
            expires_at=invitation.expires_at.astimezone(UTC),
            invited_by=invitation.invited_by,
        )


class InvitationsOut(BaseModel):
    items: list[PendingInvitation]


class RoleIn(BaseModel):
    role: Role


class TokenIn(BaseModel):
    name: Text = Field(default="", max_length=100)
    email: Text | None = Field(default=None, description="A member's e-mail; default the caller")


class TokenOut(BaseModel):
    id: UUID
    name: str
    prefix: str
    user_email: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> TokenOut:
        return cls(
            id=row["id"],
            name=row["name"],
            prefix=row["prefix"],
            user_email=row["user_email"],
            created_at=row["created_at"].astimezone(UTC),
            last_used_at=_utc(row["last_used_at"]),
            revoked_at=_utc(row["revoked_at"]),
        )


class NewTokenOut(TokenOut):
    token: str = Field(description="The token itself; shown in this answer only")


class TokensOut(BaseModel):
    items: list[TokenOut]


class MeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: Text | None = Field(default=None, description="IANA name; null: the organization's")
    notify: Literal["none", "failed", "all"] | None = Field(
        default=None,
        description="Which outcomes of the jobs you created (and the schedules you own) you "
        "are told of, in the app and by e-mail: none, failed (the default) or all.",
    )

    @field_validator("notify")
    @classmethod
    def _notify_given(cls, value: str | None) -> str | None:
        if value is None:  # only the default may be None: a key sent names a choice
            raise ValueError("must be none, failed or all")
        return value


@router.get("/members")
def list_members(principal: AdminPrincipal, db: DB) -> MembersOut:
    """The organization's members with their roles (admin only)."""
    with db.tenant(principal.organization_id) as conn:
        found = members.list_members(conn, principal.organization_id)
    return MembersOut(items=[MemberOut.of(m) for m in found])


@router.post("/members", status_code=201)
def invite_member(
    body: InvitationIn, principal: AdminPrincipal, db: DB, settings: AppSettings
) -> InvitationOut:
    """Invite an address to become a member with `role`: a one-time link, valid for 7
    days, in `invite_url` (this answer only), also e-mailed to the address when the
    server sends e-mail (CRMFERRY_SMTP_URL). The same answer whether or not the address
    has an account elsewhere; no password is set. 409 if the address is a member here or
    has a pending invitation here (of concurrent invitations of one address, one is made
    and the others are 409s)."""
    with db.tenant(principal.organization_id) as conn:
        made = invitations.create_invitation(conn, principal, body.email, body.role, settings)
        invitation = made.invitation
        details = {"email": invitation.email, "role": invitation.role}
        audit.record(conn, principal, "member.invited", "invitation", invitation.id, details)
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        invite_url=invitations.invite_url(settings.base_url, made.token),
        expires_at=invitation.expires_at.astimezone(UTC),
    )


@router.get("/invitations")
def list_invitations(principal: AdminPrincipal, db: DB) -> InvitationsOut:
    """Invitations not accepted or revoked yet, newest first (`status` "expired" once
    their link no longer works)."""
    with db.tenant(principal.organization_id) as conn:
        found = invitations.list_invitations(conn, principal.organization_id)
    return InvitationsOut(items=[PendingInvitation.of(i) for i in found])


@router.delete("/invitations/{invitation_id}", status_code=204)
def revoke_invitation(invitation_id: UUID, principal: AdminPrincipal, db: DB) -> Response:
    """Revoke an invitation: its link stops working (idempotent; 409 once accepted)."""
    with db.tenant(principal.organization_id) as conn:
        invitations.revoke_invitation(conn, principal.organization_id, invitation_id)
        audit.record(conn, principal, "invitation.revoked", "invitation", invitation_id)
    return Response(status_code=204)


@router.patch("/members/{user_id}")
def change_role(user_id: UUID, body: RoleIn, principal: AdminPrincipal, db: DB) -> MemberOut:
    """Change a member's role; the last admin cannot be demoted (409)."""
    with db.tenant(principal.organization_id) as conn:
        before = members.get_member(conn, principal.organization_id, user_id)
        member = members.change_role(conn, principal.organization_id, user_id, body.role)
        details = {"email": member.email, "from": before.role, "to": member.role}
        audit.record(conn, principal, "member.role_changed", "member", user_id, details)
    return MemberOut.of(member)


@router.delete("/members/{user_id}", status_code=204)
def remove_member(user_id: UUID, principal: AdminPrincipal, db: DB) -> Response:
    """Remove a member: their tokens are revoked and sessions closed in this
    organization (their open event streams too); the last admin cannot be removed (409)."""
    with db.tenant(principal.organization_id) as conn:
        gone = members.get_member(conn, principal.organization_id, user_id)
        members.remove_member(conn, principal.organization_id, user_id)
        details = {"email": gone.email, "role": gone.role}
        audit.record(conn, principal, "member.removed", "member", user_id, details)
    return Response(status_code=204)


@router.get("/tokens")
def list_tokens(principal: AdminPrincipal, db: DB) -> TokensOut:
    """The organization's API tokens: name, prefix, owner, use; never the token itself."""
    with db.tenant(principal.organization_id) as conn:
        rows = tokens.list_tokens(conn, principal.organization_id)
    return TokensOut(items=[TokenOut.of(r) for r in rows])


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, principal: AdminPrincipal, db: DB) -> NewTokenOut:
    """A new token for the caller or a named member; `token` appears in this response only."""
    email = body.email or principal.email
    with db.tenant(principal.organization_id) as conn:
        created = tokens.create_token(conn, principal.organization_id, email, body.name)
        if created is not None:
            details = {"name": body.name, "for": email}
            audit.record(conn, principal, "token.created", "token", created.row["id"], details)
    if created is None:
        raise ValidationFailed(
            f"{email} is not a member of this organization.",
            [{"field": "email", "message": "not a member"}],
        )
    return NewTokenOut(**TokenOut.of(created.row).model_dump(), token=created.token)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: UUID, principal: AdminPrincipal, db: DB) -> Response:
    """Revoke a token at once (idempotent); it stays listed as revoked."""
    with db.tenant(principal.organization_id) as conn:
        revoked = tokens.revoke_token(conn, principal.organization_id, token_id)
        if revoked:
            audit.record(conn, principal, "token.revoked", "token", token_id)
    if not revoked:
        raise NotFound("No such token.")
    return Response(status_code=204)


@router.patch("/me")
def update_me(body: MeIn, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Set the caller's time zone (null falls back to the organization's) and/or their
    notification preference; a key left out stays as it was."""
    given = body.model_fields_set
    tz = zone_named(body.timezone).key if body.timezone else None  # the one rule for zones
    with db.tenant(principal.organization_id) as conn:
        if "timezone" in given:
            profile.set_user_timezone(conn, principal.user_id, tz)
        if "notify" in given and body.notify is not None:
            profile.set_notify_preference(
                conn, principal.organization_id, principal.user_id, body.notify
            )
    return me(principal, db)
