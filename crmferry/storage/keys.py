"""How stored files are named: one key layout for every backend.

`uploads/<org>/<upload>` for uploads, `jobs/<org>/<job>/attempt-<n>/<name>` for what
an attempt of a job wrote, so that a stale attempt cleaning up never touches the
files of the attempt that replaced it, and a job's files go with one prefix."""

from __future__ import annotations

from pathlib import PurePosixPath


def upload_key(organization_id: object, upload_id: object) -> str:
    return f"uploads/{organization_id}/{upload_id}"


def job_prefix(organization_id: object, job_id: object) -> str:
    """The prefix of every file of one job (no trailing slash)."""
    return f"jobs/{organization_id}/{job_id}"


def attempt_prefix(organization_id: object, job_id: object, attempt: int) -> str:
    """The prefix of the files one attempt of a job wrote (no trailing slash)."""
    return f"{job_prefix(organization_id, job_id)}/attempt-{attempt}"


def checked_key(key: str) -> str:
    """`key` if it is a plain relative key (no `..`, not absolute, not empty);
    ValueError otherwise: a key from a row never reaches outside the store."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key
