"""Sign in and sign out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crmferry.accounts.auth import close_session
from crmferry.accounts.login import LoginPolicy, login
from crmferry.errors import TooManyRequests, Unauthenticated
from crmferry.web.deps import (
    DB,
    SESSION_COOKIE,
    AppSettings,
    client_address,
    optional_principal,
)
from crmferry.web.pages.rendering import render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "crmferry_login_csrf"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str) -> str:
    parsed = urlparse(target)
    return (
        target
        if target.startswith("/") and not parsed.netloc and not target.startswith("//")
        else "/"
    )


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if optional_principal(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = secrets.token_urlsafe(24)
    response = render(request, "pages/login.html", login_csrf=token, next=_safe_next(next))
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=3600,
    )
    return response


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
        return _login_error(
            request, email, next, "Your sign-in form expired; please try again.", 403
        )
    try:
        session_secret = login(
            db, email, password, client_address(request), LoginPolicy.from_settings(settings)
        )
    except (Unauthenticated, TooManyRequests) as exc:
        return _login_error(request, email, next, exc.detail, exc.status)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_secret,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=settings.session_days * 86400,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: DB, csrf_token: Annotated[str, Form()] = "") -> Response:
    principal = optional_principal(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if (
        principal
        and cookie
        and principal.csrf_token
        and hmac.compare_digest(principal.csrf_token, csrf_token)
    ):
        close_session(db, principal, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _login_error(request: Request, email: str, next: str, message: str, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "pages/login.html",
        status_code=status,
        login_csrf=token,
        next=_safe_next(next),
        email=email,
        error=message,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=3600,
    )
    return response
