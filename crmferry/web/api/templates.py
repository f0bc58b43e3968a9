"""Saved import mappings and export choices: POST/GET /templates, GET/DELETE /templates/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from crmferry.jobs.templates import (
    create_template,
    delete_template,
    get_template,
    list_templates,
)
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.schedules import Template, TemplateBody, TemplateList
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal

router = APIRouter(tags=["templates"])

TemplateId = Annotated[str, Path(description="A template's id (uuid).")]


@router.post(
    "/templates",
    status_code=201,
    name="templates_create",
    response_model=Template,
    responses=problem_responses(403, 409, 422),
)
def create(
    body: Annotated[TemplateBody, Body()],
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """`{"name", "job_type": "import|export", "data_type", "mapping"? (import), "options"}`,
    validated as a job's would be; 409 for a name already used by a template of that job type."""
    with db.tenant(principal.organization_id) as conn:
        return create_template(conn, principal, body.plain(), settings)


@router.get("/templates", name="templates_list", response_model=TemplateList)
def list_all(principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """Every template, by job type and name."""
    with db.tenant(principal.organization_id) as conn:
        return {"items": list_templates(conn)}


@router.get(
    "/templates/{template_id}",
    name="templates_get",
    response_model=Template,
    responses=problem_responses(404),
)
def get_one(template_id: TemplateId, principal: CurrentPrincipal, db: DB) -> dict[str, Any]:
    """One template."""
    with db.tenant(principal.organization_id) as conn:
        return get_template(conn, template_id)


@router.delete(
    "/templates/{template_id}",
    status_code=204,
    name="templates_delete",
    response_class=Response,
    responses=problem_responses(403, 404),
)
def delete(template_id: TemplateId, principal: CurrentPrincipal, db: DB) -> Response:
    """204; jobs that named it keep what they ran with."""
    with db.tenant(principal.organization_id) as conn:
        delete_template(conn, principal, template_id)
    return Response(status_code=204)
