"""Incremental exports: the records created, changed or deleted since a point.

`options.changed_since` is an RFC 3339 time, or `"last_run"` for a schedule's
export. With a time, the export carries the records whose `updated_at` (the writing
transaction's start) is at or after it, and the deletions since.

With `"last_run"` the point is not a time but the snapshot of the schedule's
previous successful export (its *watermark*, kept in `export_watermarks`, written in
the job's own transaction, so only a committed run moves it). A record is carried
when the transaction that last wrote it (`changed_xid`, migration 0095) is one that
watermark did not see, and this export's snapshot does. An import in flight while
the previous export took its snapshot is invisible to it whenever it commits, so it
lands in the next export; one the previous snapshot saw is never carried again.
Runs of one schedule take their watermark in turn: the row lock on it is held until
the run's job commits, and the run takes its snapshot after the lock.

Deleted records come from `record_tombstones`, read the same way: JSON Lines exports
end with one `{"deleted": {...}}` line per deleted record; for every format
`GET /jobs/{id}/deleted` serves them as CSV, from the watermarks the job recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from crmferry.db import Conn
from crmferry.errors import ValidationFailed
from crmferry.records import DataType

LAST_RUN = "last_run"

# The schedule a job belongs to: its own, or that of the job it retries (a retry has none).
JOB_SCHEDULE = """
WITH RECURSIVE chain AS (
    SELECT id, schedule_id, retry_of, 0 AS depth FROM scheduled_jobs WHERE id = %(job)s
    UNION ALL
    SELECT j.id, j.schedule_id, j.retry_of, c.depth + 1
      FROM scheduled_jobs AS j JOIN chain AS c ON j.id = c.retry_of
     WHERE c.schedule_id IS NULL
)
SELECT schedule_id FROM chain WHERE schedule_id IS NOT NULL ORDER BY depth LIMIT 1
"""

ENSURE_WATERMARK = """
INSERT INTO export_watermarks (schedule_id, organization_id)
VALUES (%(schedule)s, crmferry_current_org())
ON CONFLICT (organization_id, schedule_id) DO NOTHING
"""

# The row lock is held until the job's transaction ends: runs of one schedule queue here.
LOCK_WATERMARK = """
SELECT snapshot::text AS snapshot, job_id FROM export_watermarks
 WHERE organization_id = crmferry_current_org() AND schedule_id = %(schedule)s FOR UPDATE
"""

MOVE_WATERMARK = """
UPDATE export_watermarks
   SET snapshot = %(snapshot)s::pg_snapshot, job_id = %(job)s, updated_at = clock_timestamp()
 WHERE organization_id = crmferry_current_org() AND schedule_id = %(schedule)s
"""

CURRENT_SNAPSHOT = "SELECT pg_current_snapshot()::text AS snapshot"

# what a snapshot did not see: every xid below its xmin it saw
_UNSEEN = "({xid} >= pg_snapshot_xmin({since}) AND NOT pg_visible_in_snapshot({xid}, {since}))"

DELETED = """
SELECT d.record_id AS id, {keys}, d.deleted_at
  FROM record_tombstones AS d
 WHERE d.organization_id = crmferry_current_org() AND d.table_name = {table}
   AND {window} {upto}
 ORDER BY d.deleted_at, d.record_id
"""


@dataclass(frozen=True)
class ChangeWindow:
    """Since when an export carries changes: after a snapshot, or from a time."""

    after_snapshot: str | None = None
    after_time: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        if self.after_snapshot is not None:
            return {"snapshot": self.after_snapshot}
        assert self.after_time is not None
        return {"time": self.after_time.isoformat()}


def parse_changed_since(value: object) -> datetime | str | ValueError | None:
    """None, "last_run", or an aware datetime; a ValueError saying what is wrong."""
    if value is None:
        return None
    if value == LAST_RUN:
        return LAST_RUN
    if not isinstance(value, str):
        return ValueError('must be an RFC 3339 time (2026-12-01T00:00:00Z) or "last_run"')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ValueError(f'{value!r} is not an RFC 3339 time (2026-12-01T00:00:00Z) or "last_run"')
    if moment.tzinfo is None:
        return ValueError(f"{value!r} has no UTC offset; RFC 3339 needs one (Z or +01:00)")
    return moment


def refuse_last_run_outside_schedule(changed_since: object) -> None:
    """A job made by hand has no previous run to start from: 422."""
    if changed_since == LAST_RUN:
        message = 'is "last_run", which only a schedule\'s export has; give an RFC 3339 time'
        raise ValidationFailed(
            f"options.changed_since {message}.",
            [{"field": "options.changed_since", "message": message}],
        )


def job_schedule(conn: Conn, job_id: UUID) -> UUID | None:
    row = conn.execute(JOB_SCHEDULE, {"job": job_id}).fetchone()
    return row["schedule_id"] if row else None


@dataclass(frozen=True)
class Watermark:
    """A schedule's watermark, locked for this run: the previous run's snapshot."""

    schedule_id: UUID
    snapshot: str | None
    job_id: UUID | None


def lock_watermark(conn: Conn, schedule_id: UUID) -> Watermark:
    """The schedule's watermark, row-locked in `conn`'s transaction (the job's own)."""
    conn.execute(ENSURE_WATERMARK, {"schedule": schedule_id})
    row = conn.execute(LOCK_WATERMARK, {"schedule": schedule_id}).fetchone()
    assert row is not None
    return Watermark(schedule_id, row["snapshot"], row["job_id"])


def move_watermark(conn: Conn, mark: Watermark, snapshot: str, job_id: UUID) -> None:
    conn.execute(
        MOVE_WATERMARK, {"schedule": mark.schedule_id, "snapshot": snapshot, "job": job_id}
    )


def current_snapshot(snapshot_conn: Conn) -> str:
    row = snapshot_conn.execute(CURRENT_SNAPSHOT).fetchone()
    assert row is not None
    return str(row["snapshot"])


def changed_condition(window: ChangeWindow, alias: str = "r") -> sql.Composable:
    """The records of the window: written by a transaction the watermark did not see,
    or (a time) updated at or after it."""
    if window.after_snapshot is not None:
        return sql.SQL("({xid} IS NOT NULL AND {unseen})").format(
            xid=sql.Identifier(alias, "changed_xid"),
            unseen=_unseen(sql.Identifier(alias, "changed_xid"), window.after_snapshot),
        )
    return sql.SQL("{} >= {}").format(
        sql.Identifier(alias, "updated_at"), sql.Literal(window.after_time)
    )


def _unseen(xid: sql.Composable, snapshot: str) -> sql.Composable:
    since = sql.SQL("{}::pg_snapshot").format(sql.Literal(snapshot))
    return sql.SQL(_UNSEEN).format(xid=xid, since=since)


def deleted_query(
    data_type: DataType, window: ChangeWindow, upto_snapshot: str | None
) -> sql.Composed:
    """The deletions of the window (id, the natural key, deleted_at), oldest first;
    with `upto_snapshot`, only those that snapshot saw (for reading them later)."""
    if window.after_snapshot is not None:
        condition = _unseen(sql.Identifier("d", "deleted_xid"), window.after_snapshot)
    else:
        condition = sql.SQL("d.deleted_at >= {}").format(sql.Literal(window.after_time))
    upto: sql.Composable = sql.SQL("")
    if upto_snapshot is not None:
        upto = sql.SQL("AND pg_visible_in_snapshot(d.deleted_xid, {}::pg_snapshot)").format(
            sql.Literal(upto_snapshot)
        )
    keys = sql.SQL(", ").join(
        sql.SQL("d.record ->> {} AS {}").format(sql.Literal(k), sql.Identifier(k))
        for k in data_type.key_fields
    )
    return sql.SQL(DELETED).format(
        keys=keys, table=sql.Literal(data_type.table), window=condition, upto=upto
    )


def deleted_rows(
    conn: Conn, data_type: DataType, window: ChangeWindow, upto_snapshot: str | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the deletions of the window (a server-side cursor: never all in memory)."""
    with conn.cursor(name="crmferry_deleted") as cur:
        cur.execute(deleted_query(data_type, window, upto_snapshot))
        yield from cur


def window_of_job(options: dict[str, Any]) -> tuple[ChangeWindow, str] | None:
    """The window a finished incremental export used and its own snapshot, from what it
    recorded (`options.watermark`); None for a full export."""
    mark = options.get("watermark")
    if not isinstance(mark, dict) or not isinstance(mark.get("snapshot"), str):
        return None
    since = mark.get("since")
    if not isinstance(since, dict):
        return None
    if isinstance(since.get("snapshot"), str):
        return ChangeWindow(after_snapshot=since["snapshot"]), mark["snapshot"]
    if isinstance(since.get("time"), str):
        return ChangeWindow(after_time=datetime.fromisoformat(since["time"])), mark["snapshot"]
    return None
