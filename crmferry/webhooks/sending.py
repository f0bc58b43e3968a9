"""One HTTP attempt at a webhook delivery, through the outbound guard.

The answer is reduced to what the delivery log keeps: the status, at most 1 KB of the
body, how long it took, a `Retry-After` (429, 503), or why nothing was answered.
Redirects are not followed (a 3xx is a failed attempt): a signed POST must reach the
address its owner registered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from crmferry.errors import CrmFerryError
from crmferry.outbound import OutboundPolicy, guarded_client

EXCERPT_BYTES = 1024
MAX_RETRY_AFTER = 24 * 3600.0
USER_AGENT = "CRM-Ferry-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What one attempt got back (`status` None: no HTTP answer, see `error`)."""

    status: int | None
    excerpt: str | None
    duration_ms: int
    retry_after: float | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    url: str, body: bytes, headers: dict[str, str], policy: OutboundPolicy, timeout: float
) -> Answer:
    """POST `body` to `url`: the whole exchange within `timeout` seconds."""
    started = time.monotonic()
    try:
        with guarded_client(policy, timeout=timeout, deadline_seconds=timeout) as client:
            request = client.build_request(
                "POST",
                url,
                content=body,
                headers={**headers, "user-agent": USER_AGENT},
            )
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                excerpt = _excerpt(response)
            finally:
                response.close()
    except httpx.TimeoutException:
        return Answer(None, None, _ms(started), error=f"no answer within {timeout:g} seconds")
    except httpx.HTTPError as exc:
        return Answer(
            None, None, _ms(started), error=f"could not be reached ({type(exc).__name__})"
        )
    except CrmFerryError as exc:  # refused by the guard, or past the deadline
        return Answer(None, None, _ms(started), error=exc.detail)
    retry_after = None
    if response.status_code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    return Answer(response.status_code, excerpt, _ms(started), retry_after)


def _excerpt(response: httpx.Response) -> str:
    """The first bytes of the answer as text (at most EXCERPT_BYTES once encoded)."""
    raw = b""
    for chunk in response.iter_raw():
        raw += chunk
        if len(raw) >= EXCERPT_BYTES:
            break
    text = raw[:EXCERPT_BYTES].decode("utf-8", errors="ignore").replace("\x00", "")
    return text


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped at a
    day; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
