"""The `s3` source type: a schedule's files read from a customer's S3 bucket.

`{"type": "s3", "url": "s3://bucket/path/*.csv", "pick": "newest" | "each_new",
"credentials": {"access_key_id", "secret_access_key", "region"?, "endpoint_url"?}}`.
The key pattern's `*` and `?` match within one path segment (never a `/`); the
listing asks only for the literal prefix before the first wildcard.

* `newest` (the default): each run imports the newest matching object (last
  modified, then key).
* `each_new`: each run makes one import job per matching object not seen before,
  oldest first, at most MAX_NEW_PER_RUN (the rest at the next run). An object's
  revision (its ETag) gets exactly one job, recorded in `source_objects` (unique,
  inserted with the jobs in one transaction). The run that makes them imports nothing
  itself; its options list the objects and jobs (`source_objects`). Each such job
  reads its object at that ETag: an object replaced meanwhile fails it, and the new
  revision gets a job of its own at the next run.

Credentials are sealed when the schedule is saved (`crmferry.credentials`); without
them the bucket is read unsigned (a public bucket), never with the service's own AWS
identity. Every request goes through the outbound guard (`crmferry.buckets`). A gzip
object is decompressed as it streams (`crmferry.imports.gunzip`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from crmferry.buckets import S3Place, bucket_client, bucket_problem, check_endpoint, parse_s3_url
from crmferry.config import Settings
from crmferry.credentials import open_credentials, seal_credentials
from crmferry.errors import PayloadTooLarge, SourceUnavailable, ValidationFailed
from crmferry.imports.gunzip import (
    DecompressedTooLarge,
    fetched_limit,
    limited_chunks,
    maybe_gunzipped,
    plain_name,
)
from crmferry.imports.uploads import CHUNK_BYTES, store_upload
from crmferry.jobs.kinds import JobContext, NewJob
from crmferry.jobs.operations import db_now, insert_job
from crmferry.jobs.sources import SourceType, register_source

EXAMPLE = (
    '{"type": "s3", "url": "s3://bucket/path/*.csv", "pick": "newest" | "each_new", '
    '"credentials": {"access_key_id": "...", "secret_access_key": "..."}}'
)
PICKS = ("newest", "each_new")
MAX_NEW_PER_RUN = 100
_EPOCH = datetime.min.replace(tzinfo=UTC)
_KEYS = ("type", "url", "pick", "credentials")

# the first `limit` listed objects (in the order listed) whose revision this schedule has
# not seen, recorded in one statement; one that a racing run records first is left out
RECORD_NEW_OBJECTS = """
WITH listed AS (
    SELECT o.key, o.etag, o.size, o.modified, o.n
      FROM unnest(%(keys)s::text[], %(etags)s::text[], %(sizes)s::bigint[],
                  %(modified)s::timestamptz[]) WITH ORDINALITY AS o(key, etag, size, modified, n)
), fresh AS (
    SELECT l.* FROM listed AS l
     WHERE NOT EXISTS (SELECT 1 FROM source_objects AS s
                        WHERE s.organization_id = crmferry_current_org()
                          AND s.schedule_id = %(schedule)s AND s.bucket = %(bucket)s
                          AND s.object_key = l.key AND s.etag = l.etag)
     ORDER BY l.n
     LIMIT %(limit)s
)
INSERT INTO source_objects (organization_id, schedule_id, bucket, object_key, etag,
                            size_bytes, last_modified)
SELECT crmferry_current_org(), %(schedule)s, %(bucket)s, f.key, f.etag, f.size, f.modified
  FROM fresh AS f
 ORDER BY f.n
ON CONFLICT DO NOTHING
RETURNING object_key, etag, size_bytes, last_modified
"""

# the schedule whose ledger a run uses: its own, or for a retry (which has none) the
# schedule of the job it retries, if that schedule still exists
LEDGER_SCHEDULE = """
WITH RECURSIVE chain AS (
    SELECT j.id, j.retry_of, j.schedule_id FROM scheduled_jobs AS j WHERE j.id = %(job)s
    UNION ALL
    SELECT j.id, j.retry_of, j.schedule_id
      FROM scheduled_jobs AS j JOIN chain AS c ON j.id = c.retry_of
     WHERE c.schedule_id IS NULL
)
SELECT s.id FROM chain AS c
  JOIN schedules AS s ON s.organization_id = crmferry_current_org() AND s.id = c.schedule_id
 LIMIT 1
"""

LINK_OBJECTS = """
UPDATE source_objects AS s SET job_id = l.job
  FROM unnest(%(keys)s::text[], %(etags)s::text[], %(jobs)s::uuid[]) AS l(key, etag, job)
 WHERE s.organization_id = crmferry_current_org() AND s.schedule_id = %(schedule)s
   AND s.bucket = %(bucket)s AND s.object_key = l.key AND s.etag = l.etag
"""


def check_s3_source(source: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The source as a schedule keeps it: the URL checked, `pick` defaulted, the
    credentials sealed and their endpoint checked by the outbound guard (422s)."""
    for key in source:
        if key not in _KEYS:
            message = f"unknown; use {', '.join(_KEYS)}"
            raise ValidationFailed(
                f"source.{key} {message}.", [{"field": f"source.{key}", "message": message}]
            )
    place = parse_s3_url(source.get("url"), "source.url")
    pick = source.get("pick") or "newest"
    if pick not in PICKS:
        message = f"must be one of {', '.join(PICKS)}"
        raise ValidationFailed(
            f"source.pick {message}.", [{"field": "source.pick", "message": message}]
        )
    kept: dict[str, Any] = {"type": "s3", "url": place.url, "pick": pick}
    if source.get("credentials") is not None:
        kept["credentials"] = seal_credentials(
            source["credentials"], settings, "source.credentials"
        )
        check_endpoint(kept["credentials"], settings, "source.credentials")
    return kept


def _file_name(source: Mapping[str, Any]) -> str:
    pinned = source.get("object")
    key = pinned["key"] if isinstance(pinned, Mapping) else str(source["url"])
    return plain_name(PurePosixPath(str(key)).name[:255] or "download")


def _location(source: Mapping[str, Any]) -> str:
    pinned = source.get("object")
    if isinstance(pinned, Mapping):
        return f"s3://{parse_s3_url(source['url'], 'source.url').bucket}/{pinned['key']}"
    return str(source["url"])


def _client(ctx: JobContext, source: Mapping[str, Any]) -> Any:
    stored = source.get("credentials")
    opened = open_credentials(stored, ctx.settings) if isinstance(stored, Mapping) else None
    return bucket_client(ctx.settings, opened)


def _fetch(ctx: JobContext, source: Mapping[str, Any]) -> dict[str, Any]:
    """Download the object (the pinned one, or the newest matching) as an upload."""
    place = parse_s3_url(source["url"], "source.url")
    client = _client(ctx, source)
    pinned = source.get("object")
    where = _location(source)
    try:
        if isinstance(pinned, Mapping):
            key, etag = str(pinned["key"]), str(pinned["etag"])
        else:
            matching = _matching(client, place, ctx)
            if not matching:
                raise SourceUnavailable(f"No object in the bucket matches {place.url}.")
            newest = max(matching, key=lambda o: (o["LastModified"], o["Key"]))
            key, etag = newest["Key"], newest["ETag"]
        where = f"s3://{place.bucket}/{key}"
        answer = client.get_object(Bucket=place.bucket, Key=key, IfMatch=etag)
        return _store(ctx, where, key, answer["Body"])
    except (DecompressedTooLarge, PayloadTooLarge, ValidationFailed, SourceUnavailable):
        raise
    except Exception as exc:
        problem = bucket_problem(f"The source {where}", exc, ctx.settings)
        if problem is None:
            raise
        raise SourceUnavailable(problem) from None


def _store(ctx: JobContext, where: str, key: str, body: Any) -> dict[str, Any]:
    settings = ctx.settings
    try:
        return store_upload(
            ctx.conn,
            settings,
            organization_id=ctx.organization_id,
            created_by=ctx.job["created_by"],
            file_name=plain_name(PurePosixPath(key).name[:255] or "download"),
            chunks=maybe_gunzipped(
                limited_chunks(_body_chunks(body, ctx), settings.max_upload_bytes),
                settings.max_decompressed_bytes,
            ),
            data_type=ctx.job["data_type"],
            limit=fetched_limit(settings),
        )
    except DecompressedTooLarge as exc:
        raise DecompressedTooLarge(f"The file {where} is refused. {exc.detail}") from None
    except PayloadTooLarge:
        raise PayloadTooLarge(
            f"The source {where} is larger than the limit of {settings.max_upload_bytes:,} "
            "bytes (CRMFERRY_MAX_UPLOAD_BYTES); the download was stopped there."
        ) from None
    except ValidationFailed as exc:
        raise type(exc)(f"The file {where} cannot be imported. {exc.detail}", exc.errors) from None
    finally:
        body.close()


def _body_chunks(body: Any, ctx: JobContext) -> Iterator[bytes]:
    for chunk in body.iter_chunks(CHUNK_BYTES):
        ctx.check()
        yield chunk


def _matching(client: Any, place: S3Place, ctx: JobContext) -> list[dict[str, Any]]:
    """Every object whose key matches the pattern (listed by its literal prefix)."""
    pattern = _key_pattern(place.key)
    prefix = re.split(r"[*?\[]", place.key, maxsplit=1)[0]
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=place.bucket, Prefix=prefix
    ):
        ctx.check()
        found.extend(o for o in page.get("Contents", []) if pattern.fullmatch(o["Key"]))
    return found


def _key_pattern(pattern: str) -> re.Pattern[str]:
    parts = ("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts))


def _fan_out(ctx: JobContext, source: Mapping[str, Any]) -> dict[str, Any] | None:
    """For `each_new` (not yet pinned to an object): one job per new object, recorded in
    the ledger with it; what the run did, for its options. None: fetch as usual."""
    if source.get("pick") != "each_new" or isinstance(source.get("object"), Mapping):
        return None
    place = parse_s3_url(source["url"], "source.url")
    try:
        matching = _matching(_client(ctx, source), place, ctx)
    except Exception as exc:
        problem = bucket_problem(f"The source {place.url}", exc, ctx.settings)
        if problem is None:
            raise
        raise SourceUnavailable(problem) from None
    matching.sort(key=lambda o: (o["LastModified"], o["Key"]))
    schedule_id = _ledger_schedule(ctx)
    new = _record_new(ctx, schedule_id, place, matching)
    made = [_object_job(ctx, schedule_id, source, o) for o in new]
    _link(ctx, schedule_id, place, new, made)
    return {
        "matching": len(matching),
        "objects": [
            {"key": o["object_key"], "etag": o["etag"], "job_id": str(job)}
            for o, job in zip(new, made, strict=True)
        ],
    }


def _ledger_schedule(ctx: JobContext) -> Any:
    row = ctx.conn.execute(LEDGER_SCHEDULE, {"job": ctx.job_id}).fetchone()
    if row is None:
        raise SourceUnavailable(
            "This job's schedule no longer exists: an each_new source keeps what it "
            "imported per schedule, so it runs only for a schedule."
        )
    return row["id"]


def _record_new(
    ctx: JobContext, schedule_id: Any, place: S3Place, matching: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = ctx.conn.execute(
        RECORD_NEW_OBJECTS,
        {
            "schedule": schedule_id,
            "bucket": place.bucket,
            "keys": [o["Key"] for o in matching],
            "etags": [o["ETag"] for o in matching],
            "sizes": [o.get("Size") for o in matching],
            "modified": [o["LastModified"] for o in matching],
            "limit": MAX_NEW_PER_RUN,
        },
    ).fetchall()
    rows.sort(
        key=lambda r: (r["last_modified"] or datetime.min.replace(tzinfo=UTC), r["object_key"])
    )
    return rows


def _object_job(
    ctx: JobContext, schedule_id: Any, source: Mapping[str, Any], row: dict[str, Any]
) -> Any:
    job = ctx.job
    pinned = {**source, "object": {"key": row["object_key"], "etag": row["etag"]}}
    options = {**(job["options"] or {}), "source": pinned}
    new = NewJob(options=options, mapping=job["mapping"], file_name=_file_name(pinned))
    made = insert_job(
        ctx.conn,
        ctx.settings,
        created_by=job["created_by"],
        creator_name=job["creator_name"],
        job_type=job["job_type"],
        data_type=job["data_type"],
        new=new,
        scheduled_time=db_now(ctx.conn),
        timezone=job["timezone"],
        priority=job["priority"],
        template_id=job["template_id"],
        schedule_id=schedule_id,
    )
    return made["id"]


def _link(
    ctx: JobContext,
    schedule_id: Any,
    place: S3Place,
    rows: list[dict[str, Any]],
    jobs: list[Any],
) -> None:
    ctx.conn.execute(
        LINK_OBJECTS,
        {
            "schedule": schedule_id,
            "bucket": place.bucket,
            "keys": [r["object_key"] for r in rows],
            "etags": [r["etag"] for r in rows],
            "jobs": jobs,
        },
    )


register_source(
    SourceType("s3", check_s3_source, _file_name, _location, _fetch, EXAMPLE, fan_out=_fan_out)
)
