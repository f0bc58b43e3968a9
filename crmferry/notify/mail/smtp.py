"""Sending one message through CRMFERRY_SMTP_URL, with the standard library.

* `smtp://[user:password@]host[:port]` (port 25 by default): STARTTLS when the server
  offers it; `?starttls=require` refuses to send without it, `?starttls=off` never
  uses it.
* `smtps://[user:password@]host[:port]` (port 465): TLS from the first byte.

User and password are URL-encoded in the URL. A refused connection, a timeout or a 4xx
answer is passing (`MailDeferred`: the delivery is retried); a 5xx answer is not
(`MailRefused`).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from crmferry.errors import ValidationFailed

STARTTLS = ("auto", "require", "off")


class MailDeferred(Exception):
    """The server could not take the message now: try again later."""


class MailRefused(Exception):
    """The server refused the message for good (a 5xx answer)."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send, from CRMFERRY_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool
    starttls: str
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """The server a URL names; ValidationFailed naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise _bad("must be smtp://host[:port] or smtps://host[:port]")
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        if starttls not in STARTTLS:
            raise _bad(f"starttls must be one of {', '.join(STARTTLS)}")
        try:
            port = parts.port
        except ValueError:
            raise _bad("has a port that is not a number from 1 to 65535") from None
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls="off" if implicit else starttls,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def send(server: SmtpServer, message: EmailMessage, timeout: float) -> None:
    """Send `message` to its To address; MailDeferred or MailRefused when it fails."""
    try:
        with _connect(server, timeout) as smtp:
            _secure(smtp, server)
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        failure = f"the mail server answered {exc.smtp_code} {text}".strip()
        raise (MailRefused if 500 <= exc.smtp_code < 600 else MailDeferred)(failure) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        failure = f"the mail server refused the recipient ({', '.join(map(str, codes))})"
        raise (MailRefused if all(500 <= c < 600 for c in codes) else MailDeferred)(
            failure
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailDeferred(f"the mail server could not be reached: {exc}") from exc


def _connect(server: SmtpServer, timeout: float) -> smtplib.SMTP:
    if server.implicit_tls:
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    return smtplib.SMTP(server.host, server.port, timeout=timeout, local_hostname=_me())


def _secure(smtp: smtplib.SMTP, server: SmtpServer) -> None:
    if server.implicit_tls or server.starttls == "off":
        return
    smtp.ehlo()
    if smtp.has_extn("starttls"):
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo()
    elif server.starttls == "require":
        raise MailDeferred("the mail server does not offer STARTTLS (starttls=require)")


def _me() -> str:
    return socket.getfqdn() or "localhost"


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(
        f"CRMFERRY_SMTP_URL {message}.", [{"field": "smtp_url", "message": message}]
    )
