"""Who am I, and what can I import and export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from crmferry.accounts import profile
from crmferry.accounts.auth import change_password
from crmferry.accounts.login import LoginPolicy, verify_user_password
from crmferry.errors import Unauthenticated, ValidationFailed
from crmferry.records import DATA_TYPES
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.records import DataTypeInfo, Me
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal, client_address

router = APIRouter(tags=["account"])


@router.get("/me", name="me_get", response_model=Me)
def me(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """The caller, their role and their organization."""
    with db.tenant(principal.organization_id) as conn:
        org = profile.organization_of(conn, principal.organization_id)
        timezone = profile.user_timezone(conn, principal.user_id)
        notify = profile.notify_preference(conn, principal.organization_id, principal.user_id)
    return {
        "id": str(principal.user_id),
        "email": principal.email,
        "name": principal.name,
        "role": principal.role,
        "timezone": timezone or org["timezone"],
        "notify": notify,
        "organization": {k: str(v) for k, v in org.items()},
    }


@router.get("/data-types", name="data_types_list", response_model=list[DataTypeInfo])
def data_types(principal: CurrentPrincipal) -> list[dict[str, object]]:
    """The importable/exportable types with their fields, types, keys and choices."""
    return [t.as_public() for t in DATA_TYPES.values()]


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(description="The caller's other web sessions, now ended")


@router.post(
    "/me/password",
    name="me_change_password",
    responses=problem_responses(422, 429),
)
def change_my_password(
    body: PasswordChange,
    request: Request,
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
) -> PasswordChanged:
    """Change the caller's password. The current one is checked like a sign-in (and
    counted against the same limits); every other session of the caller, in every
    organization, ends; the session or token making the change stays valid."""
    policy = LoginPolicy.from_settings(settings)
    try:
        verify_user_password(
            db, principal.email, body.current_password, client_address(request), policy
        )
    except Unauthenticated:
        raise ValidationFailed(
            "The current password is not right.",
            [{"field": "current_password", "message": "is not your current password"}],
        ) from None
    return PasswordChanged(sessions_ended=change_password(db, principal, body.new_password))
