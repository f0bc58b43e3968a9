"""Sign in and sign out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crmferry.accounts.auth import end_session
from crmferry.accounts.login import LoginPolicy, login
from crmferry.config import Settings
from crmferry.errors import TooManyRequests, Unauthenticated
from crmferry.web.deps import (
    DB,
    SESSION_COOKIE,
    AppSettings,
    client_address,
    cookie_secure,
    optional_principal,
)
from crmferry.web.pages.rendering import render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "crmferry_login_csrf"


def safe_next(target: str) -> str:
    """`target` if it is a path on this site, else "/" (no open redirect)."""
    parsed = urlparse(target)
    return (
        target
        if target.startswith("/") and not parsed.netloc and not target.startswith("//")
        else "/"
    )


def set_session_cookie(
    response: Response, request: Request, settings: Settings, session_secret: str
) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure as CRMFERRY_COOKIE_SECURE says."""
    response.set_cookie(
        SESSION_COOKIE,
        session_secret,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        max_age=settings.session_days * 86400,
    )


@router.get("/login")
def login_page(request: Request, settings: AppSettings, next: str = "/") -> Response:
    if optional_principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, settings, next)


@router.post("/login")
def login_submit(
    request: Request,
    db: DB,
    settings: AppSettings,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        message = "Your sign-in form expired; please try again."
        return _login_form(request, settings, next, email, message, 403)
    try:
        session_secret = login(
            db, email, password, client_address(request), LoginPolicy.from_settings(settings)
        )
    except (Unauthenticated, TooManyRequests) as exc:
        return _login_form(request, settings, next, email, exc.detail, exc.status)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request, settings, session_secret)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: DB) -> Response:
    """End the session the cookie names, whatever its state, and forget the cookie. No
    CSRF check: the worst a forged sign-out can do is sign someone out (and the
    SameSite=Lax cookie is not sent on a cross-site POST anyway)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_session(db, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _login_form(
    request: Request,
    settings: Settings,
    next: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "pages/login.html",
        status_code=status,
        login_csrf=token,
        next=safe_next(next),
        email=email,
        error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        max_age=3600,
    )
    return response
