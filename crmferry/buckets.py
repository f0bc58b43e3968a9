"""A customer's S3 bucket (an import source, an export destination), reached through
the outbound guard.

`bucket_client` is a boto3 S3 client whose every request, signed by botocore as
usual, is sent by the guard's httpx client (`crmferry.outbound.guarded_client`):
the endpoint's host is resolved and checked on each request (no loopback, private or
link-local address unless CRMFERRY_OUTBOUND_ALLOW allows it, no DNS rebinding),
with CRMFERRY_FETCH_TIMEOUT_SECONDS between reads and CRMFERRY_FETCH_DEADLINE_SECONDS
for each request. It never uses the service's own AWS credentials: a place without
credentials is read unsigned (a public bucket), so that a customer cannot borrow the
service's identity. Failures are told in words by `bucket_problem`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from botocore import UNSIGNED
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crmferry.config import Settings
from crmferry.errors import ValidationFailed
from crmferry.outbound import (
    OutboundDeadline,
    OutboundPolicy,
    OutboundRefused,
    check_url,
    guarded_client,
)

DEFAULT_REGION = "us-east-1"
# bucket names as S3 allows them (lower case, digits, dots and hyphens)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# not forwarded: httpx does not do 100-continue, and sets its own framing
_DROPPED_HEADERS = frozenset({"expect", "transfer-encoding", "content-length"})


@dataclass(frozen=True)
class S3Place:
    """`s3://bucket/key`: the bucket and the rest (a key, a pattern or a template)."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_url(url: object, field: str) -> S3Place:
    """The bucket and key of `s3://bucket/key`; ValidationFailed naming `field`."""
    text = url if isinstance(url, str) else ""
    bucket, _, key = text.removeprefix("s3://").partition("/")
    if not text.startswith("s3://") or not _BUCKET.fullmatch(bucket) or not key or len(text) > 1024:
        message = "must be s3://bucket/key (a bucket name of 3 to 63 a-z, 0-9, . and -)"
        raise ValidationFailed(f"{field} {message}.", [{"field": field, "message": message}])
    return S3Place(bucket, key)


def check_endpoint(credentials: Mapping[str, Any] | None, settings: Settings, field: str) -> None:
    """Refuse now (422, `field.endpoint_url`) an endpoint the outbound guard refuses."""
    endpoint = (credentials or {}).get("endpoint_url")
    if endpoint is not None:
        check_url(
            str(endpoint), OutboundPolicy.from_settings(settings), field=f"{field}.endpoint_url"
        )


def bucket_client(settings: Settings, credentials: Mapping[str, str] | None) -> Any:
    """A boto3 S3 client for a customer's bucket (see the module's docstring);
    `credentials` are the opened ones (`crmferry.credentials.open_credentials`)."""
    given = credentials or {}
    endpoint = given.get("endpoint_url")
    config = Config(
        signature_version=None if given.get("access_key_id") else UNSIGNED,
        s3={"addressing_style": "path" if endpoint else "auto"},
        retries={"max_attempts": 2, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=settings.fetch_timeout_seconds,
        read_timeout=settings.fetch_timeout_seconds,
    )
    session = boto3.session.Session(
        aws_access_key_id=given.get("access_key_id") or "unused",
        aws_secret_access_key=given.get("secret_access_key") or "unused",
        aws_session_token=given.get("session_token"),
        region_name=given.get("region") or DEFAULT_REGION,
    )
    client = session.client("s3", endpoint_url=endpoint, config=config)
    client.meta.events.register("before-send.s3", _GuardedSender(settings))
    return client


class _GuardedSender:
    """botocore's `before-send` hook: the signed request sent through the guard."""

    def __init__(self, settings: Settings) -> None:
        self.policy = OutboundPolicy.from_settings(settings)
        self.timeout = settings.fetch_timeout_seconds
        self.deadline = settings.fetch_deadline_seconds

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        client = guarded_client(
            self.policy, timeout=self.timeout, deadline_seconds=self.deadline, max_redirects=0
        )
        body = request.body
        if hasattr(body, "read"):
            body = body.read()  # one part at most (botocore splits large uploads)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED_HEADERS}
        # bodies as stored (botocore checks their length): never decoded on the way
        headers["Accept-Encoding"] = "identity"
        try:
            sent = client.build_request(
                request.method, request.url, headers=headers, content=body or b""
            )
            response = client.send(sent, stream=True)
        except BaseException:
            client.close()
            raise
        return AWSResponse(
            request.url, response.status_code, dict(response.headers), _Body(response, client)
        )


class _Body:
    """An httpx response as botocore reads a raw body (`stream()`, `read(n)`)."""

    def __init__(self, response: httpx.Response, client: httpx.Client) -> None:
        self._response, self._client = response, client
        self._chunks = response.iter_raw()  # an object stored gzip-encoded stays gzip
        self._left = b""

    def stream(self, **_: Any) -> Iterator[bytes]:
        if self._left:
            yield self._left
            self._left = b""
        yield from self._chunks
        self.close()

    def read(self, amt: int | None = None) -> bytes:
        if amt is None:
            return b"".join(self.stream())
        parts, size = [self._left], len(self._left)
        while size < amt:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            size += len(chunk)
        data = b"".join(parts)
        self._left = data[amt:]
        return data[:amt]

    def close(self) -> None:
        self._response.close()
        self._client.close()


def bucket_problem(where: str, exc: BaseException, settings: Settings) -> str | None:
    """What went wrong with the bucket at `where`, in words; None for an error that is
    not the bucket's (it propagates)."""
    if isinstance(exc, OutboundRefused):
        return f"{where} is refused: {exc.explanation}"
    if isinstance(exc, OutboundDeadline):
        return (
            f"{where} did not answer within {settings.fetch_deadline_seconds:g} s "
            "(CRMFERRY_FETCH_DEADLINE_SECONDS)."
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} timed out after {settings.fetch_timeout_seconds:g} s."
    if isinstance(exc, httpx.HTTPError):
        return f"{where} could not be reached."
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        reasons = {
            "NoSuchBucket": "the bucket does not exist",
            "NoSuchKey": "the object does not exist",
            "AccessDenied": "access was denied (check the credentials and the bucket policy)",
            "InvalidAccessKeyId": "the access key id is not known to the server",
            "SignatureDoesNotMatch": "the secret access key does not match the key id",
            "PreconditionFailed": "the object changed while it was being read",
            "403": "access was denied (check the credentials and the bucket policy)",
            "404": "the object does not exist",
        }
        return f"{where}: {reasons.get(str(code), f'the server answered {code}')}."
    if isinstance(exc, BotoCoreError):
        return f"{where} could not be used: {exc}."
    return None
