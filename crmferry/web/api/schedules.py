"""Recurring schedules: /schedules CRUD and POST /schedules/{id}/run (one run now)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from crmferry.jobs import schedules
from crmferry.jobs.firing import fire_schedule
from crmferry.jobs.model import job_json
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal, MemberPrincipal

router = APIRouter(tags=["schedules"])


@router.post("/schedules", status_code=201)
def create_schedule(
    principal: MemberPrincipal, db: DB, settings: AppSettings, body: dict[str, Any] = Body()
) -> dict[str, Any]:
    """201 with `next_run_at`; 422 for a bad cron expression, zone, type or options."""
    with db.tenant(principal.organization_id) as conn:
        row = schedules.create_schedule(conn, principal, settings, body)
    return schedules.schedule_json(row)


@router.get("/schedules")
def list_schedules(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    with db.tenant(principal.organization_id) as conn:
        return {"items": [schedules.schedule_json(r) for r in schedules.list_schedules(conn)]}


@router.get("/schedules/{schedule_id}")
def get_schedule(schedule_id: str, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    with db.tenant(principal.organization_id) as conn:
        return schedules.schedule_json(schedules.get_schedule(conn, schedule_id))


@router.patch("/schedules/{schedule_id}")
def update_schedule(
    schedule_id: str,
    principal: MemberPrincipal,
    db: DB,
    settings: AppSettings,
    body: dict[str, Any] = Body(),
) -> dict[str, Any]:
    """Change name, cron, timezone, enabled, options, mapping or source."""
    with db.tenant(principal.organization_id) as conn:
        row = schedules.update_schedule(conn, principal, settings, schedule_id, body)
    return schedules.schedule_json(row)


@router.delete("/schedules/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: str, principal: MemberPrincipal, db: DB) -> Response:
    """204; the jobs it made stay."""
    with db.tenant(principal.organization_id) as conn:
        schedules.delete_schedule(conn, principal, schedule_id)
    return Response(status_code=204)


@router.post("/schedules/{schedule_id}/run", status_code=201)
def run_schedule(
    schedule_id: str, principal: MemberPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """201 with the job of one run now (also for a paused schedule)."""
    with db.tenant(principal.organization_id) as conn:
        job = fire_schedule(conn, settings, schedule_id, now_please=True)
    assert job is not None  # a run now has a fresh occurrence time
    return job_json(job)
