"""Settings: members and roles, API tokens (admins), and the user's time zone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crmferry.accounts.profile import notify_preference
from crmferry.jobs.timing import zone_names
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal
from crmferry.web.pages.rendering import load_shell, render

router = APIRouter(include_in_schema=False)

TIMEZONES = zone_names()


@router.get("/settings")
def settings_page(
    request: Request, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> Response:
    with db.tenant(principal.organization_id) as conn:
        notify = notify_preference(conn, principal.organization_id, principal.user_id)
    return render(
        request,
        "pages/settings.html",
        principal,
        shell=load_shell(db, principal),
        active="settings",
        timezones=TIMEZONES,
        notify=notify,
        invitations_mailed=bool(settings.smtp_url),  # the invitee gets the link by mail too
    )
