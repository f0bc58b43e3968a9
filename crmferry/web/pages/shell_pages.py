"""The signed-in shell: navigation to each area (filled by the feature pages)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crmferry.records import DATA_TYPES
from crmferry.web.deps import CurrentPrincipal
from crmferry.web.pages.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def import_export(request: Request, principal: CurrentPrincipal) -> Response:
    return render(
        request,
        "pages/import_export.html",
        principal,
        active="import-export",
        data_types=list(DATA_TYPES.values()),
    )
