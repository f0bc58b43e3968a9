"""Saved import mappings and export choices: POST/GET /templates, GET/DELETE /templates/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from crmferry.jobs.templates import (
    create_template,
    delete_template,
    get_template,
    list_templates,
)
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal, MemberPrincipal

router = APIRouter(tags=["templates"])


@router.post("/templates", status_code=201)
def create(
    principal: MemberPrincipal, db: DB, settings: AppSettings, body: dict[str, Any] = Body()
) -> dict[str, Any]:
    """`{"name", "job_type": "import|export", "data_type", "mapping"? (import), "options"}`,
    validated as a job's would be; 409 for a name already used by a template of that job type."""
    with db.tenant(principal.organization_id) as conn:
        return create_template(conn, principal.user_id, body, settings)


@router.get("/templates")
def list_all(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    with db.tenant(principal.organization_id) as conn:
        return {"items": list_templates(conn)}


@router.get("/templates/{template_id}")
def get_one(template_id: str, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    with db.tenant(principal.organization_id) as conn:
        return get_template(conn, template_id)


@router.delete("/templates/{template_id}", status_code=204)
def delete(template_id: str, principal: MemberPrincipal, db: DB) -> Response:
    with db.tenant(principal.organization_id) as conn:
        delete_template(conn, template_id)
    return Response(status_code=204)
