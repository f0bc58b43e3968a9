"""An import job's own routes: revert it, and read what it changed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query

from crmferry.imports.revert import check_revertible, create_revert_job, list_changes
from crmferry.jobs.model import job_json
from crmferry.jobs.operations import get_job
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal, MemberPrincipal

router = APIRouter(tags=["imports"])


@router.post("/jobs/{job_id}/revert", status_code=201)
def revert_import(
    job_id: str,
    principal: MemberPrincipal,
    db: DB,
    settings: AppSettings,
    body: dict[str, Any] | None = Body(default=None),
) -> dict[str, Any]:
    """A revert job undoing exactly what the completed import inserted and updated.

    409 when the job is not a completed import, is already reverted, or a later
    import changed the same records (unless `{"force": true}`)."""
    force = bool((body or {}).get("force", False))
    with db.tenant(principal.organization_id) as conn:
        target = check_revertible(conn, job_id, force)
        job = create_revert_job(conn, principal, target, force, settings)
    return job_json(job)


@router.get("/jobs/{job_id}/changes")
def import_changes(
    job_id: str,
    principal: CurrentPrincipal,
    db: DB,
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """What an import changed, oldest first: `{"items": [{"id", "record_id", "action":
    "insert|update", "previous": {...}|null, "created_at"}], "next_cursor"}`."""
    with db.tenant(principal.organization_id) as conn:
        job = get_job(conn, job_id)
        items, next_cursor = list_changes(conn, job["id"], limit, cursor)
    return {"items": items, "next_cursor": next_cursor}
