"""Only the host names the server is meant to answer to (CRMFERRY_ALLOWED_HOSTS).

A forged Host header would otherwise end up in absolute URLs the app builds (a
redirect from `/api/v1/jobs/` to `/api/v1/jobs` names the host), so it is refused
before any route sees it, with a 400 problem that does not repeat it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from crmferry.web.problems import problem


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """True when `host` (no port) is one of `allowed`: exact names, `*.example.com` for
    its subdomains, or `*` for any."""
    host = host.lower().rstrip(".")
    for pattern in allowed:
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def _host_name(header: str) -> str:
    """The name of a Host header without its port ("[::1]:8000" → "::1")."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AllowedHosts:
    """Refuses requests whose Host header names a host outside `allowed`."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = tuple(a.lower().rstrip(".") for a in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host_name(Headers(scope=scope).get("host", ""))
            if not host_allowed(host, self.allowed):
                response = problem(
                    400,
                    "Host not allowed",
                    "This server does not answer to the host name the request names "
                    "(CRMFERRY_ALLOWED_HOSTS).",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
