"""URL sources of recurring imports: when the job runs, the schedule's file is
downloaded into the file store (decompressed on the fly when it is gzip, see
`gunzip`) and recorded as an upload of the job's organization,
exactly as `POST /uploads` stores a file (size limit, SHA-256, sniffing).

The download goes through the outbound guard (`crmferry.outbound`: no loopback,
private or link-local address, on the first request and on every redirect, unless
CRMFERRY_OUTBOUND_ALLOW allows it). It streams in chunks (never whole in memory), with
CRMFERRY_FETCH_TIMEOUT_SECONDS to connect and between reads,
CRMFERRY_FETCH_DEADLINE_SECONDS for the whole download, CRMFERRY_MAX_UPLOAD_BYTES as
for uploads, and at most MAX_REDIRECTS redirects. Every failure raises a
CrmFerryError whose message names the source and what went wrong (a connection that
fails "could not be reached", whichever way it failed); the partial file is removed
first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import httpx

from crmferry import __version__
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import FileUnreadable, PayloadTooLarge, SourceUnavailable, ValidationFailed
from crmferry.imports.gunzip import (
    DecompressedTooLarge,
    fetched_limit,
    limited_chunks,
    maybe_gunzipped,
    plain_name,
)
from crmferry.imports.uploads import store_upload
from crmferry.outbound import OutboundDeadline, OutboundPolicy, OutboundRefused, guarded_client

MAX_REDIRECTS = 5
USER_AGENT = f"crmferry/{__version__} (scheduled import)"


def source_file_name(url: str) -> str:
    """The file name a URL's path ends with ("contacts.csv"), or "download"."""
    return PurePosixPath(unquote(urlsplit(url).path)).name[:255] or "download"


def fetch_upload(
    conn: Conn,
    settings: Settings,
    *,
    url: str,
    organization_id: UUID,
    created_by: UUID,
    data_type: str | None,
    check: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Download `url` and record it as an upload on `conn`; the upload row (`headers` a
    list). `check` runs before each chunk is stored (a job's cancel and lease checks).

    SourceUnavailable for a source the outbound guard refuses (also on a redirect), one
    that cannot be reached, a timeout or the deadline, too many redirects or an answer
    other than 2xx; PayloadTooLarge past the size limit;
    FileUnreadable or ValidationFailed for a file that is not a usable CSV or XLSX.
    """
    client = guarded_client(
        OutboundPolicy.from_settings(settings),
        timeout=settings.fetch_timeout_seconds,
        deadline_seconds=settings.fetch_deadline_seconds,
        headers={"User-Agent": USER_AGENT},
        max_redirects=MAX_REDIRECTS,
    )
    try:
        with client, client.stream("GET", url) as response:
            _check_answer(url, response, settings.max_upload_bytes)
            try:
                return store_upload(
                    conn,
                    settings,
                    organization_id=organization_id,
                    created_by=created_by,
                    file_name=plain_name(source_file_name(url)),
                    chunks=maybe_gunzipped(
                        limited_chunks(_chunks(response, check), settings.max_upload_bytes),
                        settings.max_decompressed_bytes,
                    ),
                    data_type=data_type,
                    limit=fetched_limit(settings),
                )
            except DecompressedTooLarge as exc:
                raise DecompressedTooLarge(
                    f"The file from {url} is refused. {exc.detail}"
                ) from None
            except PayloadTooLarge:
                raise PayloadTooLarge(
                    f"The source {url} sent more than the limit of "
                    f"{settings.max_upload_bytes:,} bytes (CRMFERRY_MAX_UPLOAD_BYTES); "
                    "the download was stopped there."
                ) from None
            except (FileUnreadable, ValidationFailed) as exc:
                raise type(exc)(
                    f"The file from {url} cannot be imported. {exc.detail}", exc.errors
                ) from None
    except (httpx.HTTPError, httpx.InvalidURL, OutboundRefused, OutboundDeadline) as exc:
        raise SourceUnavailable(_transport_problem(url, exc, settings)) from None


def _check_answer(url: str, response: httpx.Response, limit: int) -> None:
    """Refuse a non-2xx answer, and one whose declared size is past the limit (unread)."""
    if not response.is_success:
        moved = f" (redirected to {response.url})" if response.history else ""
        raise SourceUnavailable(
            f"The source {url} answered {response.status_code} {response.reason_phrase}{moved}."
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"The source {url} announced {int(declared):,} bytes, more than the limit of "
            f"{limit:,} bytes (CRMFERRY_MAX_UPLOAD_BYTES); nothing was downloaded."
        )


def _chunks(response: httpx.Response, check: Callable[[], None]) -> Iterator[bytes]:
    # as the network delivers them (tens of KiB), so the size limit stops reading promptly
    for chunk in response.iter_bytes():
        check()
        yield chunk


def _transport_problem(url: str, exc: Exception, settings: Settings) -> str:
    """What went wrong on the way to the source, in words (no traceback). A connection
    that fails is "could not be reached", never how: refused, timed out and unknown to
    DNS look alike, so a message tells nothing of what listens where."""
    seconds = f"{settings.fetch_timeout_seconds:g} s (CRMFERRY_FETCH_TIMEOUT_SECONDS)"
    if isinstance(exc, OutboundRefused):
        if exc.url in (None, url):
            return f"The source {url} is refused: {exc.explanation}"
        return f"The source {url} redirected to {exc.url}, which is refused: {exc.explanation}"
    if isinstance(exc, OutboundDeadline):
        return (
            f"The download from {url} did not finish within "
            f"{settings.fetch_deadline_seconds:g} s (CRMFERRY_FETCH_DEADLINE_SECONDS) "
            "and was stopped."
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return f"The source {url} could not be reached."
    if isinstance(exc, httpx.ReadTimeout):
        return f"The source {url} timed out: no data for {seconds}."
    if isinstance(exc, httpx.TimeoutException):
        return f"The source {url} timed out after {seconds}."
    if isinstance(exc, httpx.TooManyRedirects):
        return f"The source {url} redirected more than {MAX_REDIRECTS} times."
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"The source {url} is not a URL that can be fetched: {exc}."
    return f"The download from {url} failed: {exc or type(exc).__name__}."
