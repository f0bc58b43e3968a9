"""The `revert` job kind: undo a completed import from its change log."""

from __future__ import annotations

from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import Conflict, ValidationFailed
from crmferry.imports.revert import check_revertible, revert_changes, written_types
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, register
from crmferry.records import DataType


def prepare_revert(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Body: {"reverts_job_id", "options": {"force": bool}}; 404/409 as `check_revertible`."""
    principal.require("member")
    target = body.get("reverts_job_id")
    if target is None:
        raise ValidationFailed(
            "A revert needs reverts_job_id.",
            [{"field": "reverts_job_id", "message": "is required"}],
        )
    force = bool((body.get("options") or {}).get("force", body.get("force", False)))
    job = check_revertible(conn, target, force)
    return NewJob(options={"force": force}, file_name=job["file_name"], reverts_job_id=job["id"])


def run_revert(ctx: JobContext) -> JobOutcome:
    """Check again (things may have changed since the request), then undo."""
    force = bool((ctx.job["options"] or {}).get("force"))
    try:
        target = check_revertible(ctx.conn, ctx.job["reverts_job_id"], force, ctx.job_id)
    except Conflict as exc:
        return JobOutcome(failed=True, error_message=exc.detail)
    deleted = restored = 0
    # a batch's files undone in reverse order: bid lines before their bids, and so on
    for data_type in reversed(written_types(target)):
        gone, back = revert_changes(ctx.conn, data_type, target["id"])
        deleted, restored = deleted + gone, restored + back
    ctx.progress(deleted + restored, deleted + restored)
    counts = {"inserted": 0, "updated": restored, "unchanged": 0, "skipped": 0, "failed": 0}
    return JobOutcome(record_count=deleted + restored, counts={**counts, "deleted": deleted})


register(JobKind("revert", prepare_revert, run_revert))
