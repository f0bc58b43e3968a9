"""Jobs: POST/GET /jobs, GET /jobs/{id}, cancel, delete, retry, result and error report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import FileResponse, JSONResponse

from crmferry.config import Settings
from crmferry.errors import NotFound
from crmferry.exports import naming
from crmferry.jobs import operations
from crmferry.jobs.files import resolve_path
from crmferry.jobs.model import job_json
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal, MemberPrincipal

router = APIRouter(tags=["jobs"])


@router.post("/jobs", status_code=201)
def create_job(
    principal: MemberPrincipal, db: DB, settings: AppSettings, body: dict[str, Any] = Body()
) -> dict[str, Any]:
    """Schedule an import or export (API.md's body); 201 with the job, 422 for a bad request."""
    with db.tenant(principal.organization_id) as conn:
        row = operations.create_job(conn, principal, body, settings)
    return job_json(row)


@router.get("/jobs")
def list_jobs(
    principal: CurrentPrincipal,
    db: DB,
    status: str | None = None,
    job_type: str | None = None,
    data_type: str | None = None,
    limit: int = Query(default=50, ge=1, le=operations.MAX_PAGE),
    cursor: str | None = None,
) -> dict[str, Any]:
    """`{"items": [job...], "next_cursor"}`, newest first."""
    with db.tenant(principal.organization_id) as conn:
        rows, next_cursor = operations.list_jobs(
            conn,
            status=status or None,
            job_type=job_type or None,
            data_type=data_type or None,
            limit=limit,
            cursor=cursor or None,
        )
    return {"items": [job_json(r) for r in rows], "next_cursor": next_cursor}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    with db.tenant(principal.organization_id) as conn:
        return job_json(operations.get_job(conn, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=None)
def cancel_job(job_id: str, principal: MemberPrincipal, db: DB) -> JSONResponse:
    """200 cancelled (was pending), 202 cancel_requested (running), 409 finished."""
    with db.tenant(principal.organization_id) as conn:
        row, stopped = operations.cancel_job(conn, job_id)
    return JSONResponse(job_json(row), status_code=200 if stopped else 202)


@router.delete("/jobs/{job_id}", status_code=204)
def delete_job(job_id: str, principal: MemberPrincipal, db: DB, settings: AppSettings) -> Response:
    """204 for a finished job (its files go too); 409 while pending or running."""
    with db.tenant(principal.organization_id) as conn:
        operations.delete_job(conn, settings, job_id)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/retry", status_code=201)
def retry_job(
    job_id: str, principal: MemberPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """201 with a new job, same input, `retry_of` set; 409 unless failed or cancelled."""
    with db.tenant(principal.organization_id) as conn:
        return job_json(operations.retry_job(conn, principal, settings, job_id))


@router.get("/jobs/{job_id}/result", response_class=FileResponse)
def job_result(
    job_id: str, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> FileResponse:
    """The export file; 404 when the job has none."""
    with db.tenant(principal.organization_id) as conn:
        row = operations.get_job(conn, job_id)
    path = _existing(settings, row["result_path"], "This job has no result file.")
    return FileResponse(path, filename=_download_name(row, path))


@router.get("/jobs/{job_id}/errors", response_class=FileResponse)
def job_errors(
    job_id: str, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> FileResponse:
    """The error report (CSV); 404 when the job has none."""
    with db.tenant(principal.organization_id) as conn:
        row = operations.get_job(conn, job_id)
    path = _existing(settings, row["error_report_path"], "This job has no error report.")
    return FileResponse(
        path, media_type="text/csv", filename=f"{row['data_type']}-{str(row['id'])[:8]}-errors.csv"
    )


def _download_name(row: dict[str, Any], path: Path) -> str:
    """options["result_file_name"] when the kind chose one, else
    `<data_type>-<YYYYMMDD-HHMMSS>.<ext>` from when the job finished (UTC)."""
    chosen = (row["options"] or {}).get("result_file_name")
    if isinstance(chosen, str) and chosen:
        return chosen
    when: datetime = row["completed_at"] or row["created_at"]
    return naming.result_file_name(row["data_type"], when, "UTC", path.suffix)


def _existing(settings: Settings, stored: str | None, message: str) -> Path:
    if not stored:
        raise NotFound(message)
    path = resolve_path(settings, stored)
    if not path.is_file():
        raise NotFound(message + " (the file is gone)")
    return path
