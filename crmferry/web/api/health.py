"""Liveness and readiness probes (outside /api/v1: operators' URLs)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crmferry.db import migrate
from crmferry.web.deps import DB

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no database call)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(db: DB) -> JSONResponse | dict[str, str]:
    """The database answers and every migration is applied."""
    try:
        with db.anonymous() as conn:
            current = migrate.is_current(conn)
    except Exception as exc:  # any failure to reach the database means not ready
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    if not current:
        return JSONResponse(
            {"status": "unavailable", "detail": "migrations pending"}, status_code=503
        )
    return {"status": "ready"}
