"""GET /audit: who did what, when (admins only; others 403)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from crmferry import audit
from crmferry.audit.log import MAX_PAGE
from crmferry.web.api.models.audit import ActionName, AuditPage
from crmferry.web.api.models.base import BlankIsNone, Cursor, Text
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.deps import DB, AdminPrincipal

router = APIRouter(tags=["audit"])

Actor = Annotated[
    Text | None,
    BlankIsNone,
    Query(max_length=320, description="A member's id or e-mail address."),
]


@router.get(
    "/audit", name="audit_list", response_model=AuditPage, responses=problem_responses(403, 422)
)
def list_audit(
    principal: AdminPrincipal,
    db: DB,
    action: Annotated[ActionName | None, BlankIsNone] = None,
    actor: Actor = None,
    since: Annotated[datetime | None, BlankIsNone] = None,
    limit: int = Query(default=50, ge=1, le=MAX_PAGE),
    cursor: Annotated[Cursor | None, BlankIsNone] = None,
) -> dict[str, Any]:
    """`{"items": [entry...], "next_cursor"}`, newest first; `since` is inclusive."""
    with db.tenant(principal.organization_id) as conn:
        rows, next_cursor = audit.list_entries(
            conn, action=action, actor=actor, since=since, limit=limit, cursor=cursor
        )
    return {"items": [audit.audit_json(r) for r in rows], "next_cursor": next_cursor}
