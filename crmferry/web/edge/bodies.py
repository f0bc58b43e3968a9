"""Request bodies: read only after authentication, and never more than the limit.

A write to the API (any method but GET, HEAD and OPTIONS under /api/) is
authenticated from its headers first, CSRF included; a caller who is not let in gets
the 401/403 without a byte of the body being read. The principal found is kept for
the route (`deps.current_principal` uses it: one look-up). Every body except an
upload's (which streams to the file store under CRMFERRY_MAX_UPLOAD_BYTES) is then
read here, up to CRMFERRY_MAX_BODY_BYTES: a declared Content-Length past it is refused unread, and a
body without one (chunked) is read until it passes the limit and refused there.
What is within the limit (at most a megabyte by default) is handed to the route as
it arrived.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmferry.accounts.principal import Principal
from crmferry.errors import CrmFerryError, PayloadTooLarge
from crmferry.web.deps import GATE_PRINCIPAL, SAFE_METHODS
from crmferry.web.problems import crmferry_error


class RequestGate:
    """Authenticates API writes before their body, then bounds every body but
    `streamed_paths`' (uploads, with their own limit)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        authenticate: Callable[[Request], Principal],
        streamed_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.authenticate = authenticate
        self.streamed_paths = streamed_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/api/") and scope["method"] not in SAFE_METHODS:
            request = Request(scope)
            try:
                scope.setdefault("state", {})[GATE_PRINCIPAL] = await run_in_threadpool(
                    self.authenticate, request
                )
            except CrmFerryError as exc:
                await _answer(request, exc, scope, receive, send)
                return
        if scope["path"] in self.streamed_paths:
            await self.app(scope, receive, send)
            return
        await self._bounded(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _answer(Request(scope), self._too_large(), scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nobody to answer
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                await _answer(Request(scope), self._too_large(), scope, receive, send)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(messages, receive), send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The request body is larger than the limit of {self.max_body_bytes:,} bytes "
            "(CRMFERRY_MAX_BODY_BYTES); it was not read further."
        )


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The body as it arrived, then whatever the client sends next (a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _answer(
    request: Request, exc: CrmFerryError, scope: Scope, receive: Receive, send: Send
) -> None:
    """The error as the app's one handler renders it (problem+json). The connection is
    closed after it when the body was left unread, so no client sends it in vain."""
    response = await crmferry_error(request, exc)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
