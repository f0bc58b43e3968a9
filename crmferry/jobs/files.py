"""Where a job's files live (results, error reports) and how they go away with it.

Paths are kept in the job row relative to `settings.files_dir` when inside it.
Each attempt writes into a folder of its own, so a stale attempt cleaning up
never touches the files of the attempt that replaced it.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from uuid import UUID

from crmferry.config import Settings


def job_files_dir(settings: Settings, organization_id: object, job_id: object) -> Path:
    """The folder of one job's files (not created here)."""
    return settings.files_dir / "jobs" / str(organization_id) / str(job_id)


def attempt_dir(settings: Settings, organization_id: object, job_id: UUID, attempt: int) -> Path:
    """One attempt's own folder, created on first use."""
    folder = job_files_dir(settings, organization_id, job_id) / f"attempt-{attempt}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def discard_attempt(
    settings: Settings,
    organization_id: object,
    job_id: UUID,
    attempt: int,
    *paths: Path | None,
    keep_folder: bool = False,
    final: bool = False,
) -> None:
    """Remove what an attempt that did not commit wrote: `paths`, and its folder unless
    `keep_folder` (a failed attempt's error report stays in it). With `final` (the job
    ends with this attempt) the folders left empty go too, the job's own included."""
    for path in paths:
        if path is not None:
            path.unlink(missing_ok=True)
    folder = job_files_dir(settings, organization_id, job_id) / f"attempt-{attempt}"
    if not keep_folder:
        shutil.rmtree(folder, ignore_errors=True)
    if final:
        # not while the job may go on: another attempt's folder may be on its way
        for empty in (folder, folder.parent):
            with contextlib.suppress(OSError):  # not empty, or already gone
                empty.rmdir()


def stored_path(settings: Settings, path: Path | None) -> str | None:
    """A path as kept in the job row."""
    if path is None:
        return None
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(settings.files_dir))
    except ValueError:
        return str(resolved)


def resolve_path(settings: Settings, stored: str) -> Path:
    """The file a job row's path names."""
    path = Path(stored)
    return path if path.is_absolute() else settings.files_dir / path


def delete_job_files(
    settings: Settings, organization_id: object, job_id: object, *stored: str | None
) -> None:
    """Remove a job's folder and any file its row names; missing files are fine."""
    for value in stored:
        if value:
            resolve_path(settings, value).unlink(missing_ok=True)
    shutil.rmtree(job_files_dir(settings, organization_id, job_id), ignore_errors=True)
