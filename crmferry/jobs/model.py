"""The job object as the API, the events stream and the CLI show it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crmferry.credentials import redacted
from crmferry.ids import id_or_not_found

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
EMPTY_COUNTS = {"inserted": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}


def rfc3339(value: datetime | None) -> str | None:
    """A stored instant as RFC 3339 in UTC, with its offset."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def job_json(row: dict[str, Any]) -> dict[str, Any]:
    """API.md's job object (plus a few extra fields) from a scheduled_jobs row."""
    job_id = str(row["id"])
    return {
        "id": job_id,
        "organization_id": str(row["organization_id"]),
        "created_by": _text(row["created_by"]),
        "creator_name": row["creator_name"],
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "status": row["status"],
        "scheduled_time": rfc3339(row["scheduled_time"]),
        "created_at": rfc3339(row["created_at"]),
        "started_at": rfc3339(row["started_at"]),
        "completed_at": rfc3339(row["completed_at"]),
        "error_message": row["error_message"],
        "record_count": row["record_count"],
        "file_name": row["file_name"],
        "priority": row["priority"],
        "attempts": row["attempts"],
        "max_attempts": row["max_attempts"],
        "cancel_requested": row["cancel_requested"],
        "progress": {"done": row["progress_done"], "total": row["progress_total"]},
        "counts": {**EMPTY_COUNTS, **(row["counts"] or {})},
        "options": redacted(row["options"] or {}),
        "mapping": row["mapping"],
        "timezone": row["timezone"],
        "notify": row["notify"],
        "upload_id": _text(row["upload_id"]),
        "template_id": _text(row["template_id"]),
        "schedule_id": _text(row["schedule_id"]),
        "occurrence_at": rfc3339(row["occurrence_at"]),
        "retry_of": _text(row["retry_of"]),
        "reverts_job_id": _text(row["reverts_job_id"]),
        "updated_at": rfc3339(row["updated_at"]),
        "result_url": f"/api/v1/jobs/{job_id}/result" if row["result_path"] else None,
        "error_report_url": f"/api/v1/jobs/{job_id}/errors" if row["error_report_path"] else None,
        "items": _items(job_id, row),
    }


def _items(job_id: str, row: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A batch's files in the order they run: each one's results once it has run, its
    input before (None for a job of one file)."""
    results = row.get("items")
    planned = (row["options"] or {}).get("items") if row["job_type"] == "import_batch" else None
    if results is None and not isinstance(planned, list):
        return None
    shown = []
    for index, item in enumerate(results if results is not None else planned or []):
        report = item.get("report_path")
        shown.append(
            {
                "file_name": item.get("file_name"),
                "data_type": item.get("data_type"),
                "upload_id": item.get("upload_id"),
                "counts": {**EMPTY_COUNTS, **(item.get("counts") or {})},
                "error_message": item.get("error_message"),
                "error_report_url": f"/api/v1/jobs/{job_id}/errors?item={index + 1}"
                if report
                else None,
            }
        )
    return shown


def parse_job_id(value: object) -> UUID:
    """A job id from a URL; a malformed one is simply not found."""
    return id_or_not_found(value, "job")
