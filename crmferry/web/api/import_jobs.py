"""An import job's own routes: revert it, and read what it changed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query

from crmferry.imports.revert import check_revertible, create_revert_job, get_job, list_changes
from crmferry.web.deps import DB, CurrentPrincipal, MemberPrincipal

router = APIRouter(tags=["imports"])


@router.post("/jobs/{job_id}/revert", status_code=201)
def revert_import(
    job_id: str,
    principal: MemberPrincipal,
    db: DB,
    body: dict[str, Any] | None = Body(default=None),
) -> dict[str, Any]:
    """A revert job undoing exactly what the completed import inserted and updated.

    409 when the job is not a completed import, is already reverted, or a later
    import changed the same records (unless `{"force": true}`)."""
    force = bool((body or {}).get("force", False))
    with db.tenant(principal.organization_id) as conn:
        target = check_revertible(conn, job_id, force)
        job = create_revert_job(conn, principal, target, force)
    return _job_json(job)


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


def _job_json(row: dict[str, Any]) -> dict[str, Any]:
    """The job object; the engine's own serialiser when it is there."""
    try:
        from crmferry.jobs.model import job_json  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _fallback_job_json(row)
    return job_json(row)  # type: ignore[no-any-return,unused-ignore]


def _fallback_job_json(row: dict[str, Any]) -> dict[str, Any]:
    def text(value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "id": str(row["id"]),
        "organization_id": row["organization_id"],
        "created_by": str(row["created_by"]),
        "creator_name": row["creator_name"],
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "status": row["status"],
        "scheduled_time": text(row["scheduled_time"]),
        "created_at": text(row["created_at"]),
        "started_at": text(row["started_at"]),
        "completed_at": text(row["completed_at"]),
        "error_message": row["error_message"],
        "record_count": row["record_count"],
        "file_name": row["file_name"],
        "priority": row["priority"],
        "attempts": row["attempts"],
        "cancel_requested": row["cancel_requested"],
        "progress": {"done": row["progress_done"], "total": row["progress_total"]},
        "counts": row["counts"],
        "options": row["options"],
        "schedule_id": str(row["schedule_id"]) if row["schedule_id"] else None,
        "reverts_job_id": str(row["reverts_job_id"]) if row["reverts_job_id"] else None,
        "result_url": None,
        "error_report_url": None,
    }
