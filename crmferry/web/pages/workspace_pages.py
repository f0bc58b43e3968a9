"""The live pages: Import/Export, Scheduled Jobs, Schedules and Notifications.

They are shells rendered on the server; their live parts call the public JSON API
from small scripts in /static/js, so the pages depend only on the API contract.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crmferry.exports.options import DERIVED_OPTIONS
from crmferry.imports.reading.charset import CHOOSABLE_ENCODINGS
from crmferry.records import DATA_TYPES
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal
from crmferry.web.pages.rendering import load_shell, render

router = APIRouter(include_in_schema=False)


@router.get("/")
def import_export(
    request: Request, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> Response:
    return render(
        request,
        "pages/import_export.html",
        principal,
        shell=load_shell(db, principal),
        active="import-export",
        data_types=list(DATA_TYPES.values()),
        data_types_public=[t.as_public() for t in DATA_TYPES.values()],
        included={t.name: _included_choices(t.name) for t in DATA_TYPES.values()},
        min_lead_seconds=settings.min_lead_seconds,
        encodings=CHOOSABLE_ENCODINGS,
    )


def _included_choices(name: str) -> list[dict[str, str | None]]:
    """What an export of type `name` may include (a bid's lines), and the option deriving
    a field from them, for the export form's check boxes."""
    choices: list[dict[str, str | None]] = []
    for included, (child, link) in DATA_TYPES.included(name).items():
        derived = link.rollup[0] if link.rollup else None
        option = DERIVED_OPTIONS.get(derived) if derived else None
        choices.append({"name": included, "label": child.label, "derive": option, "field": derived})
    return choices


@router.get("/jobs")
def scheduled_jobs(request: Request, principal: CurrentPrincipal, db: DB) -> Response:
    return render(
        request,
        "pages/jobs.html",
        principal,
        shell=load_shell(db, principal),
        active="jobs",
    )


@router.get("/schedules")
def schedules(request: Request, principal: CurrentPrincipal, db: DB) -> Response:
    return render(
        request,
        "pages/schedules.html",
        principal,
        shell=load_shell(db, principal),
        active="schedules",
        data_types=list(DATA_TYPES.values()),
    )


@router.get("/notifications")
def notifications(request: Request, principal: CurrentPrincipal, db: DB) -> Response:
    return render(
        request,
        "pages/notifications.html",
        principal,
        shell=load_shell(db, principal),
        active="notifications",
    )
