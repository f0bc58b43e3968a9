"""The `export` job kind: check the options (prepare), stream the file (run).

The file is read from one REPEATABLE READ snapshot (its own transaction) and
written straight into the file store under the attempt's key (`FileStore.writing`:
the bytes reach the store as they are written, gzip-compressed with
`options.compression`), then delivered to `options.destination` when there is one
(`destinations`, read back from the store: a failed delivery fails the job); the
outcome names its key and its download name, which the engine records in the job's own
transaction together with "completed". If that commit never happens, the engine
discards the attempt's files.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, BinaryIO, cast

from psycopg import sql

from crmferry.accounts.principal import Principal
from crmferry.buckets import parse_s3_url
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import ValidationFailed
from crmferry.exports.changes import (
    LAST_RUN,
    ChangeWindow,
    Watermark,
    current_snapshot,
    deleted_rows,
    job_schedule,
    lock_watermark,
    move_watermark,
    refuse_last_run_outside_schedule,
)
from crmferry.exports.compression import compressed
from crmferry.exports.compression import extension as compressed_extension
from crmferry.exports.destinations import (
    DeliveryFailed,
    check_destination,
    deliver,
    destination_key,
)
from crmferry.exports.naming import result_file_name
from crmferry.exports.options import (
    DESTINATION_KEY,
    OPTION_KEYS,
    ExportOptions,
    options_to_json,
    parse_export_options,
)
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.exports.writers import write_export_to
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, SavedInput, register
from crmferry.records import DataType, get_data_type
from crmferry.storage import store_for
from crmferry.webhooks import alerts

COUNT_ROWS = "SELECT count(*) AS n FROM {table} WHERE organization_id = crmferry_current_org()"

ORGANIZATION_CLOCK = """
SELECT o.timezone, now() AS now FROM organizations o WHERE o.id = %(org)s
"""


def prepare_export(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Validate fields, filters, format, CSV options, compression and destination (422
    naming what is wrong; a destination's credentials sealed)."""
    principal.require("member")
    options = _normalised(data_type, body.get("options"), settings)
    refuse_last_run_outside_schedule(options.get("changed_since"))
    return NewJob(options=options)


def check_export_template(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> SavedInput:
    """A template's options, normalised (an export has no mapping: it is not kept)."""
    return SavedInput(_normalised(data_type, saved.options, settings))


def check_export_schedule(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> SavedInput:
    """A schedule's options, checked but kept as given, so that a template the schedule
    names still supplies what it leaves out; an export has no mapping."""
    if saved.mapping is not None:
        message = "an export has no mapping"
        raise ValidationFailed(f"mapping: {message}.", [{"field": "mapping", "message": message}])
    normalised = _normalised(data_type, saved.options, settings)
    kept = dict(saved.options)
    if DESTINATION_KEY in normalised:  # kept as given, but never with plain credentials
        kept[DESTINATION_KEY] = normalised[DESTINATION_KEY]
    return SavedInput(kept)


def export_schedule_job(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> NewJob:
    """A schedule's job: its options (with its template's) normalised as a request's are."""
    return NewJob(options=_normalised(data_type, saved.options, settings))


def _normalised(data_type: DataType, options: Any, settings: Settings) -> dict[str, Any]:
    normalised = options_to_json(parse_export_options(data_type, options))
    destination = options.get(DESTINATION_KEY) if isinstance(options, dict) else None
    if destination is not None:
        normalised[DESTINATION_KEY] = check_destination(destination, settings)
    return normalised


def run_export(ctx: JobContext) -> JobOutcome:
    """Write the file from one snapshot; name it in the organization's time zone."""
    data_type = get_data_type(ctx.job["data_type"])
    stored = {k: v for k, v in (ctx.job["options"] or {}).items() if k in OPTION_KEYS}
    options = parse_export_options(data_type, stored)
    mark = _watermark(ctx, options)  # before the snapshot: runs of a schedule queue here
    if isinstance(mark, str):
        return JobOutcome(failed=True, error_message=mark)
    options = replace(options, window=_window(options, mark))
    clock = ctx.conn.execute(ORGANIZATION_CLOCK, {"org": ctx.organization_id}).fetchone()
    assert clock is not None
    extension = compressed_extension(options.format, options.compression)
    name = result_file_name(data_type, clock["now"], clock["timezone"], extension)
    key = ctx.file_key(name)
    deleted = 0
    with snapshot_transaction(ctx.db, ctx.organization_id) as snapshot:
        seen = current_snapshot(snapshot)
        # the total is exact without filters; with them it is unknown until the end
        total = None
        if not options.filters and options.window is None:
            query = sql.SQL(COUNT_ROWS).format(table=sql.Identifier(data_type.table))
            row = snapshot.execute(query).fetchone()
            total = int(row["n"]) if row else None
        ctx.progress(0, total)
        # stored when the block ends; a failure or a cancel leaves nothing of it
        with store_for(ctx.settings).writing(key) as written:
            out = cast(BinaryIO, written)
            count = write_export_to(
                snapshot,
                data_type,
                options,
                out,
                ctx.progress,
                connect=ctx.db.app_connect,
                expected_rows=total,
                scratch=ctx.files_dir(),
            )
            if options.window is not None and options.format == "jsonl":
                deleted = _append_deleted(snapshot, data_type, options, out)
    if mark is not None:
        move_watermark(ctx.conn, mark, seen, ctx.job_id)
    ctx.progress(count, count)
    recorded = _recorded_options(ctx.job["options"], options, seen, mark)
    alerts.export_was_large(ctx.conn, ctx.settings, ctx.job, count, name)
    outcome = JobOutcome(
        record_count=count,
        counts={"deleted": deleted} if options.window is not None else {},
        result_key=key,
        result_size=written.size,
        result_file_name=name,
        options=recorded,
    )
    destination = (ctx.job["options"] or {}).get(DESTINATION_KEY)
    if destination is not None:
        _deliver(ctx, destination, outcome, clock)
    return outcome


def _deliver(
    ctx: JobContext, destination: dict[str, Any], outcome: JobOutcome, clock: dict[str, Any]
) -> None:
    """Upload the stored file; the job keeps where it went, or fails saying why."""
    name = str(outcome.result_file_name)
    key = destination_key(
        parse_s3_url(destination["url"], "options.destination.url").key,
        data_type=ctx.job["data_type"],
        when=clock["now"],
        timezone=clock["timezone"],
        job_id=ctx.job_id,
        file_name=name,
    )
    try:
        assert outcome.result_key is not None
        delivered = deliver(ctx.settings, destination, outcome.result_key, key, name)
    except DeliveryFailed as exc:
        outcome.failed, outcome.error_message = True, exc.detail  # the file is discarded
        return
    outcome.options = {**(outcome.options or ctx.job["options"] or {}), "delivered_to": delivered}


def _watermark(ctx: JobContext, options: ExportOptions) -> Watermark | str | None:
    """A "last_run" export's schedule watermark, locked in the job's transaction (or
    why there is none)."""
    if options.changed_since != LAST_RUN:
        return None
    schedule_id = job_schedule(ctx.conn, ctx.job_id)
    if schedule_id is None:
        return (
            'options.changed_since is "last_run", but this job belongs to no schedule; '
            "run the schedule, or export with an RFC 3339 time."
        )
    return lock_watermark(ctx.conn, schedule_id)


def _window(options: ExportOptions, mark: Watermark | None) -> ChangeWindow | None:
    """What the export carries: changes since the schedule's last run's snapshot (all
    records on a first run), or since the time given; None for everything."""
    if mark is not None:
        return ChangeWindow(after_snapshot=mark.snapshot) if mark.snapshot else None
    if isinstance(options.changed_since, datetime):
        return ChangeWindow(after_time=options.changed_since)
    return None


def _append_deleted(
    snapshot: Conn, data_type: DataType, options: ExportOptions, stream: BinaryIO
) -> int:
    """JSON Lines: one `{"deleted": {...}}` line per deleted record after the records,
    written to the export's `stream` (a gzip member of their own when compressed); how
    many."""
    count = 0
    assert options.window is not None
    with compressed(stream, options) as out:
        for row in deleted_rows(snapshot, data_type, options.window):
            line = {
                k: (v.isoformat() if isinstance(v, datetime) else str(v) if k == "id" else v)
                for k, v in row.items()
            }
            out.write(json.dumps({"deleted": line}, ensure_ascii=False).encode() + b"\n")
            count += 1
    return count


def _recorded_options(
    stored: dict[str, Any] | None,
    options: ExportOptions,
    seen: str,
    mark: Watermark | None,
) -> dict[str, Any] | None:
    """The job's options plus, for an incremental export, the watermark it used: its
    own snapshot and where it started (`since`: a snapshot, a time, or null for all)."""
    if options.changed_since is None:
        return None
    since = None if options.window is None else options.window.as_json()
    if mark is not None and since is not None:
        since["job_id"] = str(mark.job_id) if mark.job_id else None
    return {**(stored or {}), "watermark": {"snapshot": seen, "since": since}}


register(
    JobKind(
        "export",
        prepare_export,
        run_export,
        check_template=check_export_template,
        check_schedule=check_export_schedule,
        schedule_job=export_schedule_job,
    )
)
