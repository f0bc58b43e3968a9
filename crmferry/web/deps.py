"""Request dependencies: settings, database, and the authenticated principal."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from crmferry.accounts.auth import principal_from_session, principal_from_token
from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "crmferry_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# where the request gate (web/edge/bodies.py) leaves the principal it authenticated
GATE_PRINCIPAL = "crmferry.principal"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or what a trusted proxy forwarded (see
    CRMFERRY_TRUSTED_PROXIES); "" when unknown."""
    return request.client.host if request.client else ""


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Whether cookies get the Secure flag: CRMFERRY_COOKIE_SECURE, or with `auto` when
    the request came over HTTPS (as a trusted proxy forwarded it)."""
    if settings.cookie_secure == "auto":
        return request.url.scheme == "https"
    return settings.cookie_secure == "true"


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_principal(request: Request) -> Principal | None:
    """The caller from a bearer token or the session cookie, or None when neither is sent."""
    db = get_db(request)
    token = bearer_token(request)
    if token:
        return principal_from_token(db, token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            return principal_from_session(db, cookie)
        except Unauthenticated:
            return None
    return None


def authenticate(request: Request) -> Principal:
    """The authenticated caller, from the headers alone; cookie-authenticated writes must
    carry the CSRF token. Unauthenticated or Forbidden otherwise."""
    principal = optional_principal(request)
    if principal is None:
        raise Unauthenticated("Sign in, or send 'Authorization: Bearer <token>'.")
    if principal.via == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
            raise Forbidden(
                f"Missing or wrong {CSRF_HEADER} header for a cookie-authenticated write."
            )
    return principal


def current_principal(request: Request) -> Principal:
    """The authenticated caller: as the request gate found it before reading the body
    (an API write), or looked up now."""
    found = request.scope.get("state", {}).get(GATE_PRINCIPAL)
    return found if isinstance(found, Principal) else authenticate(request)


def member_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    principal.require("member")
    return principal


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    principal.require("admin")
    return principal


async def _settings_dependency(request: Request) -> Settings:
    """`get_settings` as a dependency: `async`, so that FastAPI runs it in the event loop
    instead of handing it to a worker thread (and back) on every request."""
    return get_settings(request)


async def _db_dependency(request: Request) -> Database:
    """`get_db` as a dependency, in the event loop (see `_settings_dependency`)."""
    return get_db(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
MemberPrincipal = Annotated[Principal, Depends(member_principal)]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
DB = Annotated[Database, Depends(_db_dependency)]
AppSettings = Annotated[Settings, Depends(_settings_dependency)]
