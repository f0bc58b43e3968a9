"""Deletes of stored files that retention could not make while the file store was
down: queued by key (`storage_deletions`, migration 0160) and tried again at the
start of every retention sweep, so that no file outlives its row for good.

The queue is retention's: its rows are already gone when it deletes their files. A
`DELETE /jobs/{id}` with the store down still answers 503 and deletes nothing."""

from __future__ import annotations

import logging
from uuid import UUID

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import StorageUnavailable
from crmferry.jobs.files import delete_job_files
from crmferry.storage import job_prefix, store_for

log = logging.getLogger(__name__)

QUEUE_DELETION = "SELECT crmferry_queue_deletion(%s, %s, %s)"
QUEUED_DELETIONS = "SELECT * FROM crmferry_queued_deletions(%s)"
DELETION_DONE = "SELECT crmferry_deletion_done(%s, %s)"


def delete_or_queue_job_files(
    db: Database, settings: Settings, organization_id: UUID, job_id: UUID, *stored: str | None
) -> None:
    """`delete_job_files`, or, when the store refuses, the job's keys and prefix queued."""
    try:
        delete_job_files(settings, organization_id, job_id, *stored)
    except StorageUnavailable as exc:
        log.warning("files of job %s queued for deletion: %s", job_id, exc.detail)
        keys = [(key, False) for key in stored if key]
        _queue(db, organization_id, [*keys, (job_prefix(organization_id, job_id), True)])


def delete_or_queue(db: Database, settings: Settings, organization_id: UUID, key: str) -> None:
    """Delete one stored file, or queue its key when the store refuses."""
    try:
        store_for(settings).delete(key)
    except StorageUnavailable as exc:
        log.warning("%s queued for deletion: %s", key, exc.detail)
        _queue(db, organization_id, [(key, False)])


def retry_queued_deletions(db: Database, settings: Settings, batch: int) -> int:
    """Try the queued deletes again, oldest first, until one fails (the store is still
    down: it is counted and the rest wait); how many went through."""
    store, done = store_for(settings), 0
    while True:
        with db.anonymous() as conn:
            rows = conn.execute(QUEUED_DELETIONS, [batch]).fetchall()
        for row in rows:
            org, key = row["organization_id"], row["storage_key"]
            try:
                store.delete_prefix(key) if row["whole_prefix"] else store.delete(key)
            except StorageUnavailable as exc:
                log.warning("queued deletes wait: %s", exc.detail)
                _queue(db, org, [(key, row["whole_prefix"])])
                return done
            with db.anonymous() as conn:
                conn.execute(DELETION_DONE, [org, key])
            done += 1
        if len(rows) < batch:
            return done


def _queue(db: Database, organization_id: UUID, keys: list[tuple[str, bool]]) -> None:
    with db.anonymous() as conn:
        for key, whole_prefix in keys:
            conn.execute(QUEUE_DELETION, [organization_id, key, whole_prefix])
