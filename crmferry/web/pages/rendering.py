"""Template environment shared by every page, and the signed-in layout's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from crmferry.accounts.principal import Principal
from crmferry.accounts.profile import Profile, load_profile
from crmferry.db import Database
from crmferry.exports.filters import OPERATOR_LABELS
from crmferry.jobs.model import FINISHED
from crmferry.records import DATA_TYPES

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

# The layout's navigation: these pages, then one page per registered data type, then these.
NAVIGATION_BEFORE = (
    ("import-export", "Import/Export", "/"),
    ("jobs", "Scheduled Jobs", "/jobs"),
    ("schedules", "Schedules", "/schedules"),
)
NAVIGATION_AFTER = (("settings", "Settings", "/settings"),)

# What the page scripts share with the server (api.js reads it as CF.vocabulary).
VOCABULARY = {
    "finished_statuses": list(FINISHED),
    "filter_operators": [{"op": op, "label": label} for op, label in OPERATOR_LABELS.items()],
}


def navigation() -> list[tuple[str, str, str]]:
    """(key, label, path) of each entry of the main navigation."""
    records = [(t.name, t.label, f"/records/{t.name}") for t in DATA_TYPES.values()]
    return [*NAVIGATION_BEFORE, *records, *NAVIGATION_AFTER]


def load_shell(db: Database, principal: Principal) -> Profile:
    """The organization's name and the user's time zone for the layout."""
    with db.tenant(principal.organization_id) as conn:
        profile = load_profile(conn, principal.organization_id, principal.user_id)
    return profile or Profile("", "UTC", None)


def render(
    request: Request,
    template: str,
    principal: Principal | None = None,
    status_code: int = 200,
    shell: Profile | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the layout's context (user, navigation, CSRF token, organization)."""
    context.update(
        principal=principal,
        navigation=navigation(),
        vocabulary=VOCABULARY,
        csrf_token=principal.csrf_token if principal else None,
        shell=shell,
        can_write=bool(principal and principal.can("member")),
        is_admin=bool(principal and principal.can("admin")),
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
