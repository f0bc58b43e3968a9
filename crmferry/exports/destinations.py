"""Where an export delivers its file after writing it (read back from the file store):
`options.destination`.

`{"type": "s3", "url": "s3://bucket/prefix/{data_type}-{date}.csv", "credentials":
{...}}`. The key is a template of PLACEHOLDERS (`{date}` and `{time}` in the
organization's time zone); a compressed export's key gets `.gz` appended unless it
ends so already. The upload (multipart past 8 MiB, aborted on failure, so no partial
object is left) goes through the outbound guard (`crmferry.buckets`) with the
customer's credentials, sealed when the job, template or schedule was saved. The job
still serves its result; an upload that fails fails the job with DeliveryFailed,
saying why, and keeps no result (a retry exports and delivers again).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig

from crmferry.buckets import bucket_client, bucket_problem, check_endpoint, parse_s3_url
from crmferry.config import Settings
from crmferry.credentials import open_credentials, seal_credentials
from crmferry.errors import CrmFerryError, ValidationFailed
from crmferry.exports.compression import media_type
from crmferry.storage import store_for

TYPES = ("s3",)
PLACEHOLDERS = ("data_type", "date", "time", "job_id", "file_name")
_KEYS = ("type", "url", "credentials")
FIELD = "options.destination"
# single PUT below, multipart above; no threads: the job's own thread does the work
_TRANSFER = TransferConfig(
    multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, use_threads=False
)


class DeliveryFailed(CrmFerryError):
    """The export's file could not be delivered to its destination."""

    status = 502
    title = "Delivery failed"


def check_destination(given: object, settings: Settings) -> dict[str, Any]:
    """The destination as a job keeps it: the URL template checked, the credentials
    sealed and their endpoint checked by the outbound guard; 422 naming the field."""
    if not isinstance(given, Mapping) or given.get("type") not in TYPES:
        raise _invalid(FIELD, 'must be {"type": "s3", "url": "s3://bucket/key", ...}')
    for key in given:
        if key not in _KEYS:
            raise _invalid(f"{FIELD}.{key}", f"unknown; use {', '.join(_KEYS)}")
    place = parse_s3_url(given.get("url"), f"{FIELD}.url")
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(place.key) if f is not None]
        bad = [f for f in fields if f not in PLACEHOLDERS]
        specs = [1 for _, f, spec, conv in string.Formatter().parse(place.key) if spec or conv]
    except ValueError:
        bad, specs = ["{"], []
    if bad or specs:
        names = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise _invalid(f"{FIELD}.url", f"may use the placeholders {names} (and no other braces)")
    kept: dict[str, Any] = {"type": "s3", "url": place.url}
    if given.get("credentials") is not None:
        kept["credentials"] = seal_credentials(
            given["credentials"], settings, f"{FIELD}.credentials"
        )
        check_endpoint(kept["credentials"], settings, f"{FIELD}.credentials")
    return kept


def destination_key(
    template: str,
    *,
    data_type: str,
    when: datetime,
    timezone: str,
    job_id: UUID,
    file_name: str,
) -> str:
    """The object key of one delivery (placeholders filled in; `.gz` kept consistent)."""
    local = when.astimezone(ZoneInfo(timezone))
    key = template.format(
        data_type=data_type,
        date=f"{local:%Y-%m-%d}",
        time=f"{local:%H%M%S}",
        job_id=job_id,
        file_name=file_name,
    )
    if file_name.endswith(".gz") and not key.endswith(".gz"):
        key += ".gz"
    return key


def deliver(
    settings: Settings, destination: Mapping[str, Any], stored_key: str, key: str, file_name: str
) -> str:
    """Upload the file stored as `stored_key` (read from the file store as a stream, in
    bounded memory) to the destination's bucket under `key`; its `s3://bucket/key`.
    DeliveryFailed saying why when it cannot be done."""
    place = parse_s3_url(destination["url"], f"{FIELD}.url")
    target = f"s3://{place.bucket}/{key}"
    stored = destination.get("credentials")
    try:
        opened = open_credentials(stored, settings) if isinstance(stored, Mapping) else None
        client = bucket_client(settings, opened)
        with store_for(settings).open(stored_key) as source:
            client.upload_fileobj(
                source,
                place.bucket,
                key,
                ExtraArgs={"ContentType": media_type(file_name)},
                Config=_TRANSFER,
            )
    except CrmFerryError as exc:
        message = f"The export could not be delivered to {target}: {exc.detail}"
        raise DeliveryFailed(message) from None
    except Exception as exc:
        # boto3 wraps a refusal of the server in S3UploadFailedError: the cause says it
        inner = (exc.__cause__ or exc.__context__) if isinstance(exc, S3UploadFailedError) else None
        cause = inner or exc
        problem = bucket_problem(f"The export could not be delivered to {target}", cause, settings)
        if problem is None:
            raise
        raise DeliveryFailed(problem) from None
    return target


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}.", [{"field": field, "message": message}])
