"""Template environment shared by every page, and the signed-in layout's context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from crmferry.accounts.principal import Principal
from crmferry.db import Database

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

NAVIGATION = (
    ("import-export", "Import/Export", "/"),
    ("jobs", "Scheduled Jobs", "/jobs"),
    ("schedules", "Schedules", "/schedules"),
    ("contacts", "Contacts", "/records/contacts"),
    ("inventory", "Inventory", "/records/inventory"),
    ("bids", "Bids", "/records/bids"),
    ("settings", "Settings", "/settings"),
)

SHELL = """
SELECT o.name AS organization_name, o.timezone AS organization_timezone,
       u.timezone AS user_timezone
  FROM organizations o, users u
 WHERE o.id = %(org)s AND u.id = %(user)s
"""


@dataclass(frozen=True)
class Shell:
    """What the layout shows around every signed-in page."""

    organization_name: str
    organization_timezone: str
    # the user's own choice; None means "use the browser's time zone"
    user_timezone: str | None


def load_shell(db: Database, principal: Principal) -> Shell:
    """The organization's name and the user's time zone for the layout."""
    with db.tenant(principal.organization_id) as conn:
        row = conn.execute(
            SHELL, {"org": principal.organization_id, "user": principal.user_id}
        ).fetchone()
    if row is None:
        return Shell("", "UTC", None)
    return Shell(row["organization_name"], row["organization_timezone"], row["user_timezone"])


def render(
    request: Request,
    template: str,
    principal: Principal | None = None,
    status_code: int = 200,
    shell: Shell | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the layout's context (user, navigation, CSRF token, organization)."""
    context.update(
        principal=principal,
        navigation=NAVIGATION,
        csrf_token=principal.csrf_token if principal else None,
        shell=shell,
        can_write=bool(principal and principal.can("member")),
        is_admin=bool(principal and principal.can("admin")),
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
