"""The FastAPI application: API under /api/v1, pages, static files, problem+json errors."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web import problems
from crmferry.web.api import api_routers, health, metrics
from crmferry.web.pages import page_routers

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings, db: Database) -> FastAPI:
    """A ready application bound to one database (migrations already applied)."""
    app = FastAPI(
        title="CRM Ferry",
        version="0.1.0",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    problems.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in api_routers():
        app.include_router(router, prefix="/api/v1")
    for router in page_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
