"""/invite/<token>: the invitee accepts an invitation, choosing a password (a new user)
or signing in with theirs (an existing one), and arrives signed in to the organization
that invited them."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crmferry.accounts import invitations
from crmferry.accounts.auth import open_session
from crmferry.accounts.login import LoginPolicy, verify_user_password
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import CrmFerryError, NotFound, ValidationFailed
from crmferry.web.deps import DB, AppSettings, client_address, cookie_secure
from crmferry.web.pages.rendering import render
from crmferry.web.pages.session_pages import set_session_cookie

router = APIRouter(include_in_schema=False)

FORM_COOKIE = "crmferry_invite_csrf"


@router.get("/invite/{token}")
def invitation_page(request: Request, token: str, db: DB, settings: AppSettings) -> Response:
    try:
        invitation = invitations.open_invitation(db, token)
    except NotFound as exc:
        return _page(request, settings, None, exc.detail, 404)
    return _page(request, settings, invitation)


@router.post("/invite/{token}")
def accept_invitation(
    request: Request,
    token: str,
    db: DB,
    settings: AppSettings,
    password: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    repeat_password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    try:
        invitation = invitations.open_invitation(db, token)
    except NotFound as exc:
        return _page(request, settings, None, exc.detail, 404)
    expected = request.cookies.get(FORM_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        message = "This form expired; please try again."
        return _page(request, settings, invitation, message, 403, name)
    try:
        organization_id, user_id = _accept(
            db, settings, request, token, invitation, name, password, repeat_password
        )
    except CrmFerryError as exc:
        return _page(request, settings, invitation, exc.detail, exc.status, name)
    secret = open_session(
        db, organization_id, user_id, LoginPolicy.from_settings(settings).session_lifetime
    )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, settings, secret)
    response.delete_cookie(FORM_COOKIE)
    return response


def _accept(
    db: Database,
    settings: Settings,
    request: Request,
    token: str,
    invitation: invitations.OpenInvitation,
    name: str,
    password: str,
    repeat_password: str,
) -> tuple[UUID, UUID]:
    """(organization, user) once the invitation is accepted the way its address allows."""
    if invitation.account == "none":
        if password != repeat_password:
            raise ValidationFailed("The two passwords differ.")
        user_id, organization_id = invitations.accept_as_new_user(db, token, name, password)
        return organization_id, user_id
    if invitation.account == "no_password":
        raise ValidationFailed("This account cannot sign in with a password.")
    user = verify_user_password(
        db, invitation.email, password, client_address(request), LoginPolicy.from_settings(settings)
    )
    return invitations.accept_as_existing_user(db, token, user.user_id), user.user_id


def _page(
    request: Request,
    settings: Settings,
    invitation: invitations.OpenInvitation | None,
    error: str | None = None,
    status: int = 200,
    name: str = "",
) -> Response:
    form_token = secrets.token_urlsafe(24)
    response = render(
        request,
        "pages/invite.html",
        status_code=status,
        invitation=invitation,
        expires=invitation.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if invitation
        else None,
        error=error,
        form_token=form_token,
        name=name,
    )
    # the link is a credential: never kept by a cache
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        FORM_COOKIE,
        form_token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, settings),
        max_age=3600,
        path="/invite/",
    )
    return response
