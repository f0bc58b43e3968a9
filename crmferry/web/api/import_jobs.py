"""An import job's own routes: revert it, and read what it changed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from crmferry.imports.revert import check_revertible, create_revert_job, list_changes
from crmferry.jobs.model import job_json
from crmferry.jobs.operations import get_job
from crmferry.web.api.models.base import BlankIsNone, Cursor
from crmferry.web.api.models.jobs import ChangePage, Job, RevertRequest
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal

router = APIRouter(tags=["imports"])

JobId = Annotated[str, Path(description="An import job's id (uuid).")]


@router.post(
    "/jobs/{job_id}/revert",
    status_code=201,
    name="jobs_revert",
    response_model=Job,
    responses=problem_responses(403, 404, 409, 422),
)
def revert_import(
    job_id: JobId,
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
    body: Annotated[RevertRequest | None, Body()] = None,
) -> dict[str, Any]:
    """A revert job undoing exactly what the completed import inserted and updated.

    409 when the job is not a completed import, is already reverted, or a later
    import changed the same records (unless `{"force": true}`)."""
    force = body.force if body is not None else False
    with db.tenant(principal.organization_id) as conn:
        target = check_revertible(conn, job_id, force)
        job = create_revert_job(conn, principal, target, force, settings)
    return job_json(job)


@router.get(
    "/jobs/{job_id}/changes",
    name="jobs_changes",
    response_model=ChangePage,
    responses=problem_responses(404, 422),
)
def import_changes(
    job_id: JobId,
    principal: CurrentPrincipal,
    db: DB,
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: Annotated[Cursor | None, BlankIsNone] = None,
) -> dict[str, Any]:
    """What an import changed, oldest first: `{"items": [{"id", "record_id", "action":
    "insert|update", "previous": {...}|null, "created_at"}], "next_cursor"}`."""
    with db.tenant(principal.organization_id) as conn:
        job = get_job(conn, job_id)
        items, next_cursor = list_changes(conn, job["id"], limit, cursor)
    return {"items": items, "next_cursor": next_cursor}
