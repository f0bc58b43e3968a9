"""A real SMTP server in the test process (aiosmtpd), keeping what it receives."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Inbox:
    """The handler: every accepted message, parsed; `answer` overrides the reply (e.g.
    "451 try later"), `hold` keeps DATA waiting (a worker killed mid-delivery)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.answer: str | None = None
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold.is_set():
            self.holding.set()
            while self.hold.is_set():
                await asyncio.sleep(0.05)
            return "451 the client went away"
        if self.answer:
            return self.answer
        self.envelopes.append(envelope)
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(
    login: tuple[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
    implicit_tls: bool = False,
) -> Iterator[tuple[Inbox, str]]:
    """(the inbox, its smtp:// or smtps:// URL); with `login`, the server requires that
    user; with `tls`, it offers STARTTLS and requires it (or, `implicit_tls`, speaks TLS
    from the first byte)."""
    inbox = Inbox()
    port = free_port()
    extra: dict[str, Any] = {}
    if tls is not None and implicit_tls:
        extra["ssl_context"] = tls
    elif tls is not None:
        extra.update(tls_context=tls, require_starttls=True)
    if login is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            if ok:
                inbox.logins.append(login)
            return AuthResult(success=ok)

        extra.update(authenticator=authenticate, auth_require_tls=False, auth_required=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield inbox, f"{'smtps' if implicit_tls else 'smtp'}://127.0.0.1:{port}"
    finally:
        inbox.hold.clear()
        controller.stop()
