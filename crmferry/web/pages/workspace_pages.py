"""The live pages: Import/Export, Scheduled Jobs and Schedules.

They are shells rendered on the server; their live parts call the public JSON API
from small scripts in /static/js, so the pages depend only on the API contract.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

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
        min_lead_seconds=settings.min_lead_seconds,
        encodings=CHOOSABLE_ENCODINGS,
    )


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
