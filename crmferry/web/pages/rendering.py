"""Template environment shared by every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from crmferry.accounts.principal import Principal

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

NAVIGATION = (
    ("import-export", "Import/Export", "/"),
    ("jobs", "Scheduled Jobs", "/jobs"),
    ("contacts", "Contacts", "/records/contacts"),
    ("inventory", "Inventory", "/records/inventory"),
    ("bids", "Bids", "/records/bids"),
)


def render(
    request: Request,
    template: str,
    principal: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the layout's context (user, navigation, CSRF token)."""
    context.update(
        principal=principal,
        navigation=NAVIGATION,
        csrf_token=principal.csrf_token if principal else None,
        organization_name=getattr(request.state, "organization_name", None),
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
