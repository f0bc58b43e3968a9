"""Retention: finished jobs older than CRMFERRY_RETENTION_DAYS go, with their files,
and then the uploads older than that which no job names any more, with theirs; in
small batches (vacuum-friendly, short locks), by the workers themselves; so do the
deleted records' tombstones, the outbox's events and the in-app notifications (with
their read marks) of that age. Each is a SECURITY DEFINER function only
crmferry_worker may call (migrations 0031, 0060, 0095, 0111). A row goes first and its
file after: a file without a row is harmless, a row without its file would be a broken
download. A file the store refuses to delete (it is down) is queued and tried again at
the next sweep (`deletions`)."""

from __future__ import annotations

import logging

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.deletions import (
    delete_or_queue,
    delete_or_queue_job_files,
    retry_queued_deletions,
)

log = logging.getLogger(__name__)

PRUNE = "SELECT * FROM crmferry_prune_jobs(%s, %s)"
# the deleted records incremental exports read (migration 0095), kept as long as jobs
PRUNE_TOMBSTONES = "SELECT crmferry_prune_tombstones(%s) AS n"
PRUNE_UPLOADS = "SELECT * FROM crmferry_prune_uploads(%s, %s)"
# events once dispatched and with no delivery still to run; notifications, read or not
PRUNE_EVENTS = "SELECT * FROM crmferry_prune_events(%s, %s)"
BATCH = 500


def prune_finished_jobs(db: Database, settings: Settings, batch: int = BATCH) -> int:
    """Delete finished jobs past the retention window and their files, then the uploads
    no job names that are past it too; how many jobs."""
    total = 0
    retry_queued_deletions(db, settings, batch)
    while True:
        with db.anonymous() as conn:
            rows = conn.execute(PRUNE, [settings.retention_days, batch]).fetchall()
        for row in rows:
            delete_or_queue_job_files(
                db,
                settings,
                row["organization_id"],
                row["id"],
                row["result_path"],
                row["error_report_path"],
            )
        total += len(rows)
        if len(rows) < batch:
            break
    with db.anonymous() as conn:
        conn.execute(PRUNE_TOMBSTONES, [settings.retention_days])
    prune_events(db, settings, batch)
    uploads = prune_unused_uploads(db, settings, batch)
    if total or uploads:
        log.info(
            "pruned %d finished job(s) and %d upload(s) older than %d days",
            total,
            uploads,
            settings.retention_days,
        )
    return total


def prune_unused_uploads(db: Database, settings: Settings, batch: int = BATCH) -> int:
    """Delete uploads past the retention window that no job names, and their files."""
    total = 0
    while True:
        with db.anonymous() as conn:
            rows = conn.execute(PRUNE_UPLOADS, [settings.retention_days, batch]).fetchall()
        for row in rows:
            delete_or_queue(db, settings, row["organization_id"], row["storage_path"])
        total += len(rows)
        if len(rows) < batch:
            return total


def prune_events(db: Database, settings: Settings, batch: int = BATCH) -> tuple[int, int]:
    """Delete events and notifications past the retention window, a batch of each per
    transaction; (events, notifications) deleted."""
    events = notifications = 0
    while True:
        with db.anonymous() as conn:
            row = conn.execute(PRUNE_EVENTS, [settings.retention_days, batch]).fetchone()
        assert row is not None
        events, notifications = events + row["events"], notifications + row["notifications"]
        if row["events"] < batch and row["notifications"] < batch:
            break
    if events or notifications:
        log.info(
            "pruned %d event(s) and %d notification(s) older than %d days",
            events,
            notifications,
            settings.retention_days,
        )
    return events, notifications
