"""Recurring schedules: /schedules CRUD and POST /schedules/{id}/run (one run now)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from crmferry.jobs import schedules
from crmferry.jobs.firing import run_schedule_now
from crmferry.jobs.model import job_json
from crmferry.web.api.models.jobs import Job
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.schedules import (
    Schedule,
    ScheduleBody,
    ScheduleChanges,
    ScheduleList,
)
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal

router = APIRouter(tags=["schedules"])

ScheduleId = Annotated[str, Path(description="A schedule's id (uuid).")]


@router.post(
    "/schedules",
    status_code=201,
    name="schedules_create",
    response_model=Schedule,
    responses=problem_responses(403, 422),
)
def create_schedule(
    body: Annotated[ScheduleBody, Body()],
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """201 with `next_run_at`; 422 for a bad cron expression, zone, type or options."""
    with db.tenant(principal.organization_id) as conn:
        row = schedules.create_schedule(conn, principal, settings, body.plain())
    return schedules.schedule_json(row)


@router.get("/schedules", name="schedules_list", response_model=ScheduleList)
def list_schedules(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Every schedule of the organization, oldest first."""
    with db.tenant(principal.organization_id) as conn:
        return {"items": [schedules.schedule_json(r) for r in schedules.list_schedules(conn)]}


@router.get(
    "/schedules/{schedule_id}",
    name="schedules_get",
    response_model=Schedule,
    responses=problem_responses(404),
)
def get_schedule(schedule_id: ScheduleId, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """One schedule."""
    with db.tenant(principal.organization_id) as conn:
        return schedules.schedule_json(schedules.get_schedule(conn, schedule_id))


@router.patch(
    "/schedules/{schedule_id}",
    name="schedules_update",
    response_model=Schedule,
    responses=problem_responses(403, 404, 422),
)
def update_schedule(
    schedule_id: ScheduleId,
    body: Annotated[ScheduleChanges, Body()],
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """Change name, cron, timezone, enabled, options, mapping or source."""
    with db.tenant(principal.organization_id) as conn:
        row = schedules.update_schedule(conn, principal, settings, schedule_id, body.plain())
    return schedules.schedule_json(row)


@router.delete(
    "/schedules/{schedule_id}",
    status_code=204,
    name="schedules_delete",
    response_class=Response,
    responses=problem_responses(403, 404),
)
def delete_schedule(schedule_id: ScheduleId, principal: CurrentPrincipal, db: DB) -> Response:
    """204; the jobs it made stay."""
    with db.tenant(principal.organization_id) as conn:
        schedules.delete_schedule(conn, principal, schedule_id)
    return Response(status_code=204)


@router.post(
    "/schedules/{schedule_id}/run",
    status_code=201,
    name="schedules_run",
    response_model=Job,
    responses=problem_responses(403, 404, 409),
)
def run_schedule(
    schedule_id: ScheduleId, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """201 with the job of one run now (also for a paused schedule); 409 when its owner
    may no longer create jobs (edit it first to take it over)."""
    with db.tenant(principal.organization_id) as conn:
        return job_json(run_schedule_now(conn, principal, settings, schedule_id))
