"""Settings pages for admins: webhooks (with their deliveries) and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crmferry.audit import ACTIONS
from crmferry.web.deps import DB, AdminPrincipal
from crmferry.web.pages.rendering import load_shell, render
from crmferry.webhooks.endpoints import EVENT_TYPES

router = APIRouter(include_in_schema=False)


@router.get("/settings/webhooks")
def webhooks_page(request: Request, principal: AdminPrincipal, db: DB) -> Response:
    return render(
        request,
        "pages/webhooks.html",
        principal,
        shell=load_shell(db, principal),
        active="settings",
        event_types=EVENT_TYPES,
    )


@router.get("/settings/audit")
def audit_page(request: Request, principal: AdminPrincipal, db: DB) -> Response:
    return render(
        request,
        "pages/audit.html",
        principal,
        shell=load_shell(db, principal),
        active="settings",
        actions=ACTIONS,
    )
