"""The `webhook_delivery` job kind: one attempt to send one event to one endpoint.

The job carries what to send (its options: the endpoint, the event's id and body, the
attempt's number). An attempt signs the body with every secret that signs now, POSTs it
through the outbound guard, and records the attempt in `webhook_deliveries`, all in the
job's transaction: a worker that dies mid-attempt leaves no trace of it, and the
engine's lease gives the job to another worker, which sends the same event (same
`webhook-id`) again — at least once, never lost.

A failed attempt queues the next one, as a job of its own due after the retry
schedule's delay (CRMFERRY_WEBHOOK_RETRY_SECONDS, with ±10% jitter) or the answer's
Retry-After, in the same transaction. A 410 disables the endpoint at once; failing
without a success for CRMFERRY_WEBHOOK_DISABLE_AFTER_SECONDS disables it too.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import ValidationFailed
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob
from crmferry.jobs.model import rfc3339
from crmferry.notify.channels import Channel, Delivery, Event, register_channel
from crmferry.outbound import OutboundPolicy
from crmferry.records import DataType
from crmferry.webhooks import alerts
from crmferry.webhooks.endpoints import signing_secrets
from crmferry.webhooks.events import (
    DELIVERY_JOB_TYPE,
    ENGINE_ATTEMPTS,
    Planned,
    insert_deliveries,
    plan_deliveries,
)
from crmferry.webhooks.sending import Answer, post
from crmferry.webhooks.signature import sign
from crmferry.webhooks.signing_secrets import SecretUnreadable

NOW = "SELECT clock_timestamp() AS now"
HOOK = "SELECT * FROM webhooks WHERE id = %s"

RECORD_ATTEMPT = """
INSERT INTO webhook_deliveries (organization_id, webhook_id, job_id, event_id, event_type,
                                payload, attempt, status, response_status, response_excerpt,
                                error, duration_ms, next_attempt_at, replay)
VALUES (crmferry_current_org(), %(webhook_id)s, %(job_id)s, %(event_id)s, %(event_type)s,
        %(payload)s, %(attempt)s, %(status)s, %(response_status)s, %(excerpt)s, %(error)s,
        %(duration_ms)s, %(next_attempt_at)s, %(replay)s)
"""

# An endpoint's log keeps CRMFERRY_RETENTION_DAYS, like the jobs; pruned a batch at a time
# by its own deliveries (served by webhook_deliveries_hook_idx).
PRUNE = """
DELETE FROM webhook_deliveries
 WHERE id IN (SELECT id FROM webhook_deliveries
               WHERE webhook_id = %(id)s
                 AND created_at < now() - make_interval(days => %(days)s)
               LIMIT 1000)
"""

SUCCEEDED = "UPDATE webhooks SET failing_since = NULL WHERE id = %s AND failing_since IS NOT NULL"

# The failing window starts with the first failure after a success.
FAILED = """
UPDATE webhooks SET failing_since = coalesce(failing_since, %(at)s)
 WHERE id = %(id)s
RETURNING failing_since
"""

DISABLE = """
UPDATE webhooks SET enabled = false, disabled_reason = %(reason)s, disabled_at = now(),
                    updated_at = now()
 WHERE id = %(id)s AND enabled
RETURNING *
"""


def prepare_delivery(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Deliveries are made by events, tests and replays, never asked for through /jobs."""
    raise ValidationFailed(
        "Webhook deliveries are made by the service; use POST /webhooks/{id}/test or "
        "/webhooks/{id}/deliveries/{delivery_id}/replay.",
        [{"field": "job_type", "message": "is made by the service only"}],
    )


def run_delivery(ctx: JobContext) -> JobOutcome:
    """One attempt (see the module's docstring); the job completes whatever the answer:
    the attempt is what it records, and a later attempt is a job of its own."""
    options = ctx.job["options"]
    hook = ctx.conn.execute(HOOK, [options["webhook_id"]]).fetchone()
    if hook is None:
        return JobOutcome(error_message="The webhook was deleted; nothing was sent.")
    test = bool(options.get("test"))
    if not hook["enabled"] and not test:
        _record(ctx, options, "failed", None, error="The endpoint is disabled; not sent.")
        return JobOutcome(error_message="The endpoint is disabled; nothing was sent.")
    ctx.check()
    now = _now(ctx.conn)
    try:
        answer = _send(ctx, hook, options, now)
    except SecretUnreadable as exc:
        answer = Answer(None, None, 0, error=f"not signed: {exc}")
    if answer.succeeded:
        if not test:
            ctx.conn.execute(SUCCEEDED, [hook["id"]])
        _record(ctx, options, "succeeded", answer)
        return JobOutcome(record_count=1)
    return _failed(ctx, hook, options, answer, now, test)


def _send(ctx: JobContext, hook: dict[str, Any], options: dict[str, Any], now: datetime) -> Answer:
    body = json.dumps(options["payload"], separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(now.timestamp())
    event_id = str(options["event_id"])
    headers = {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            event_id, timestamp, body, signing_secrets(hook, ctx.settings, now)
        ),
    }
    policy = OutboundPolicy.from_settings(ctx.settings)
    return post(hook["url"], body, headers, policy, ctx.settings.webhook_timeout_seconds)


def _failed(
    ctx: JobContext,
    hook: dict[str, Any],
    options: dict[str, Any],
    answer: Answer,
    now: datetime,
    test: bool,
) -> JobOutcome:
    """Record the failed attempt; queue the next, or give up (and maybe disable)."""
    summary = _summary(answer)
    if test:  # a test is one attempt and changes nothing of the endpoint
        _record(ctx, options, "failed", answer)
        return JobOutcome(record_count=1, error_message=summary)
    if answer.status == 410:
        _disable(ctx, hook, "The endpoint answered 410 Gone.")
        _record(ctx, options, "failed", answer)
        return JobOutcome(record_count=1, error_message=f"{summary}; the endpoint is disabled.")
    row = ctx.conn.execute(FAILED, {"id": hook["id"], "at": now}).fetchone()
    failing_since: datetime = row["failing_since"] if row else now
    window = timedelta(seconds=ctx.settings.webhook_disable_after_seconds)
    if now - failing_since >= window:
        days = ctx.settings.webhook_disable_after_seconds / 86400
        _disable(ctx, hook, f"Every delivery failed for {days:g} days (last: {summary}).")
        _record(ctx, options, "failed", answer)
        return JobOutcome(record_count=1, error_message=f"{summary}; the endpoint is disabled.")
    delay = _next_delay(ctx.settings, int(options["attempt"]), answer)
    if delay is None:
        _record(ctx, options, "failed", answer)
        return JobOutcome(record_count=1, error_message=f"{summary}; no attempts left.")
    next_at = now + timedelta(seconds=delay)
    _queue_next(ctx, options, next_at)
    _record(ctx, options, "retrying", answer, next_attempt_at=next_at)
    return JobOutcome(record_count=1, error_message=f"{summary}; next attempt {next_at:%H:%M:%S}.")


def _next_delay(settings: Settings, attempt: int, answer: Answer) -> float | None:
    """Seconds until the attempt after `attempt` (1-based); None when none is left."""
    delays = settings.webhook_retry_delays
    if attempt > len(delays):
        return None
    if answer.retry_after is not None:
        return answer.retry_after  # the receiver said when: honoured as given
    return delays[attempt - 1] * random.uniform(0.9, 1.1)


def _queue_next(ctx: JobContext, options: dict[str, Any], when: datetime) -> None:
    """The next attempt: a delivery job of the same event and series, due `when`."""
    attempt = int(options["attempt"]) + 1
    series = options.get("series") or options["webhook_id"]
    planned = Planned(
        UUID(str(options["event_id"])),
        f"{series}:{attempt}",
        {**options, "attempt": attempt},
        ctx.job["created_by"],
        ctx.job["file_name"] or options["event_type"],
        due=when,
    )
    insert_deliveries(ctx.conn, [planned])


def _disable(ctx: JobContext, hook: dict[str, Any], reason: str) -> None:
    row = ctx.conn.execute(DISABLE, {"id": hook["id"], "reason": reason}).fetchone()
    if row is not None:  # this attempt disabled it (not a concurrent one)
        alerts.endpoint_disabled(ctx.conn, ctx.settings, row)


def _record(
    ctx: JobContext,
    options: dict[str, Any],
    status: str,
    answer: Answer | None,
    *,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    ctx.conn.execute(PRUNE, {"id": options["webhook_id"], "days": ctx.settings.retention_days})
    ctx.conn.execute(
        RECORD_ATTEMPT,
        {
            "webhook_id": options["webhook_id"],
            "job_id": ctx.job_id,
            "event_id": UUID(str(options["event_id"])),
            "event_type": options["event_type"],
            "payload": Jsonb(options["payload"]),
            "attempt": int(options["attempt"]),
            "status": status,
            "response_status": answer.status if answer else None,
            "excerpt": answer.excerpt if answer else None,
            "error": error or (answer.error if answer else None),
            "duration_ms": answer.duration_ms if answer else None,
            "next_attempt_at": next_attempt_at,
            "replay": bool(options.get("replay")),
        },
    )


def _summary(answer: Answer) -> str:
    if answer.status is not None:
        return f"HTTP {answer.status}"
    return answer.error or "no answer"


def _now(conn: Conn) -> datetime:
    row = conn.execute(NOW).fetchone()
    assert row is not None
    value: datetime = row["now"]
    return value


def plan_channel(conn: Conn, settings: Settings, events: list[Event]) -> list[Delivery]:
    """The outbox dispatch's question: which endpoints take each of these events."""
    rows = [
        {
            "id": e.id,
            "type": e.type,
            "payload": e.payload,
            "context": e.context,
            "created_at": e.created_at,
        }
        for e in events
    ]
    return [Delivery(p.event_id, p.key, p.options) for p in plan_deliveries(conn, rows)]


KIND = JobKind(DELIVERY_JOB_TYPE, prepare=prepare_delivery, run=run_delivery, internal=True)
# The jobs page's "Notified": each attempt's endpoint and outcome. The endpoint's URL
# (from the job's options or name when it was deleted since); an attempt's job completes whatever
# the answer, so its outcome is the logged attempt's: delivered only when it succeeded.
SHOWN = """
SELECT d.id, w.url, a.status AS attempt_status, a.created_at AS attempted_at
  FROM unnest(%(jobs)s::uuid[], %(hooks)s::uuid[], %(events)s::uuid[])
       AS d(id, webhook_id, event_id)
  LEFT JOIN webhooks AS w ON w.id = d.webhook_id
  LEFT JOIN LATERAL (SELECT wd.status, wd.created_at FROM webhook_deliveries AS wd
                      WHERE wd.webhook_id = d.webhook_id AND wd.event_id = d.event_id
                        AND wd.job_id = d.id
                      ORDER BY wd.created_at DESC LIMIT 1) AS a ON true
"""


def shown(conn: Conn, jobs: list[dict[str, Any]]) -> dict[UUID, dict[str, Any]]:
    """For the jobs page: each attempt's endpoint URL, attempt number and outcome."""
    params = {
        "jobs": [j["id"] for j in jobs],
        "hooks": [UUID(str(j["options"]["webhook_id"])) for j in jobs],
        "events": [j["event_id"] for j in jobs],
    }
    found = {r["id"]: r for r in conn.execute(SHOWN, params).fetchall()}
    out: dict[UUID, dict[str, Any]] = {}
    for job in jobs:
        row = found.get(job["id"]) or {}
        named = job["options"].get("url") or str(job.get("file_name") or "").partition(" to ")[2]
        line: dict[str, Any] = {
            "recipient": row.get("url") or named or "a deleted endpoint",
            "attempts": int(job["options"].get("attempt") or 1),
        }
        if job["status"] == "completed":
            delivered = row.get("attempt_status") == "succeeded"
            line["status"] = "completed" if delivered else "failed"
            line["delivered_at"] = rfc3339(row["attempted_at"]) if delivered else None
        out[job["id"]] = line
    return out


CHANNEL = register_channel(
    Channel("webhooks", KIND, plan_channel, max_attempts=ENGINE_ATTEMPTS, shown=shown)
)
