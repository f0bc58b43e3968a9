"""/api/docs: Swagger UI for the OpenAPI document, started by a static script (the
Content-Security-Policy allows no inline script; this page alone may load Swagger UI
from its CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crmferry.web.pages.rendering import TEMPLATES

router = APIRouter(include_in_schema=False)

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"


@router.get("/api/docs")
def api_docs(request: Request) -> Response:
    """The interactive API documentation."""
    return TEMPLATES.TemplateResponse(
        request,
        "pages/api_docs.html",
        {"swagger_ui": SWAGGER_UI, "openapi_url": request.app.openapi_url},
    )
