"""The caller's in-app notifications (list, mark one read, mark all read), and who was
told of a job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from crmferry.jobs.operations import get_job
from crmferry.notify import in_app
from crmferry.notify.deliveries import job_deliveries
from crmferry.web.api.models.base import Cursor
from crmferry.web.api.models.notifications import (
    JobDeliveryList,
    MarkedRead,
    Notification,
    NotificationPage,
)
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.deps import DB, CurrentPrincipal

router = APIRouter(tags=["notifications"])

NotificationId = Annotated[str, Path(description="A notification's id (uuid).")]


@router.get(
    "/notifications",
    name="notifications_list",
    response_model=NotificationPage,
    responses=problem_responses(422),
)
def list_notifications(
    principal: CurrentPrincipal,
    db: DB,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=in_app.MAX_PAGE)] = 20,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> dict[str, Any]:
    """The caller's notifications in this organization, newest first, with the unread count."""
    with db.tenant(principal.organization_id) as conn:
        return in_app.list_notifications(conn, principal, unread, limit, cursor)


@router.post(
    "/notifications/read-all",
    name="notifications_read_all",
    response_model=MarkedRead,
)
def read_all(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Mark every unread notification of the caller read."""
    with db.tenant(principal.organization_id) as conn:
        marked = in_app.mark_all_read(conn, principal)
        return {"marked": marked, "unread_count": in_app.unread_count(conn, principal.user_id)}


@router.post(
    "/notifications/{notification_id}/read",
    name="notifications_read",
    response_model=Notification,
    responses=problem_responses(404),
)
def read_one(
    notification_id: NotificationId, principal: CurrentPrincipal, db: DB
) -> dict[str, Any]:
    """Mark one notification read (again is harmless); 404 for anyone else's."""
    with db.tenant(principal.organization_id) as conn:
        return in_app.notification_json(in_app.mark_read(conn, principal, notification_id))


@router.get(
    "/jobs/{job_id}/deliveries",
    name="jobs_deliveries",
    response_model=JobDeliveryList,
    responses=problem_responses(404),
)
def deliveries(
    job_id: Annotated[str, Path(description="A job's id (uuid).")],
    principal: CurrentPrincipal,
    db: DB,
) -> dict[str, Any]:
    """Who was notified of the job's outcome: each e-mail address, each member told in
    the app (and each endpoint, for channels that deliver to endpoints), with the
    delivery's status."""
    with db.tenant(principal.organization_id) as conn:
        job = get_job(conn, job_id)
        return {"items": job_deliveries(conn, job["id"])}
