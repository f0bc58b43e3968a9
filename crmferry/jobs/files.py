"""A job's files (results, error reports): where an attempt writes them, how they
enter the store when it commits, and how they go away with it.

Each attempt writes under a prefix of its own (`crmferry.storage.attempt_prefix`), so
a stale attempt cleaning up never touches the files of the attempt that replaced it.
The job row keeps the files' storage keys."""

from __future__ import annotations

import logging
from pathlib import Path
from uuid import UUID

from crmferry.config import Settings
from crmferry.errors import StorageUnavailable
from crmferry.storage import attempt_prefix, job_prefix, store_for

log = logging.getLogger(__name__)


def attempt_dir(settings: Settings, organization_id: object, job_id: UUID, attempt: int) -> Path:
    """The local folder one attempt writes its files into (created on first use)."""
    return store_for(settings).staging_dir(attempt_prefix(organization_id, job_id, attempt))


def attempt_key(organization_id: object, job_id: UUID, attempt: int, name: str) -> str:
    """The storage key of the file `name` of one attempt (a kind writing it into the
    store itself), under the prefix `discard_attempt` removes."""
    return f"{attempt_prefix(organization_id, job_id, attempt)}/{name}"


def publish(
    settings: Settings, organization_id: object, job_id: UUID, attempt: int, path: Path | None
) -> str | None:
    """Put a file an attempt wrote into the store; its key (None for no file). Called
    before the attempt's commit, so the row never names a file that is not stored."""
    if path is None:
        return None
    prefix = attempt_prefix(organization_id, job_id, attempt)
    folder = attempt_dir(settings, organization_id, job_id, attempt)
    try:
        name = path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:  # written elsewhere: kept by its name
        name = path.name
    key = f"{prefix}/{name}"
    store_for(settings).put_file(key, path)
    return key


def release_attempt(
    settings: Settings, organization_id: object, job_id: UUID, attempt: int
) -> None:
    """Remove the attempt's local staging folder where it is not the store itself."""
    store_for(settings).release_staging(attempt_prefix(organization_id, job_id, attempt))


def discard_attempt(
    settings: Settings,
    organization_id: object,
    job_id: UUID,
    attempt: int,
    *,
    keep: tuple[str | None, ...] = (),
    final: bool = False,
) -> None:
    """Remove what an attempt that did not commit wrote, except the keys `keep` (a failed
    attempt's error reports). With `final` (the job ends with this attempt) what is left
    empty goes too, the job's own folder included."""
    store = store_for(settings)
    prefix = attempt_prefix(organization_id, job_id, attempt)
    store.release_staging(prefix)
    try:
        store.delete_prefix(prefix, keep=tuple(k for k in keep if k))
    except StorageUnavailable as exc:  # the attempt already ended; its row names none of it
        log.warning("files of %s left in the store: %s", prefix, exc.detail)
        return
    if final:
        # not while the job may go on: another attempt's folder may be on its way
        store.prune_empty(prefix)


def delete_job_files(
    settings: Settings, organization_id: object, job_id: object, *stored: str | None
) -> None:
    """Remove every file of a job and any file its row names; missing files are fine."""
    store = store_for(settings)
    for key in stored:
        if key:
            store.delete(key)
    store.delete_prefix(job_prefix(organization_id, job_id))
