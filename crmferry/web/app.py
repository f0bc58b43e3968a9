"""The FastAPI application: API under /api/v1, pages, static files, problem+json errors,
and the web edge around all of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web import openapi, problems
from crmferry.web.api import api_routers, health, metrics
from crmferry.web.deps import authenticate
from crmferry.web.edge.bodies import RequestGate
from crmferry.web.edge.headers import SecurityHeaders
from crmferry.web.edge.hosts import AllowedHosts
from crmferry.web.event_hub import EventHub
from crmferry.web.pages import page_routers

STATIC_DIR = Path(__file__).parent / "static"
# bodies that stream to the file store under CRMFERRY_MAX_UPLOAD_BYTES instead
UPLOAD_PATHS = frozenset({"/api/v1/uploads", "/api/v1/uploads/batch"})


class CrmFerryApp(FastAPI):
    """FastAPI with the edge outside its error handling, so that a refused host and
    a 500 get the security headers too. From the outside in: forwarded headers (from
    CRMFERRY_TRUSTED_PROXIES only), security headers, allowed hosts, then FastAPI's
    own stack, whose first middleware inside the error handling is the request gate
    (authentication before the body, body limits)."""

    settings: Settings

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = super().build_middleware_stack()
        app = AllowedHosts(app, self.settings.allowed_host_names)
        app = SecurityHeaders(app)
        if self.settings.trusted_proxy_list:
            proxied = ProxyHeadersMiddleware(cast(Any, app), list(self.settings.trusted_proxy_list))
            app = cast(ASGIApp, proxied)
        return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.event_hub.close()


def create_app(settings: Settings, db: Database) -> FastAPI:
    """A ready application bound to one database (migrations already applied)."""
    app = CrmFerryApp(
        lifespan=_lifespan,
        title="CRM Ferry",
        version="0.1.0",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by pages.api_docs, without inline script
        redoc_url=None,
        generate_unique_id_function=openapi.operation_id,
    )
    app.settings = settings
    app.state.settings = settings
    app.state.db = db
    app.state.event_hub = EventHub(db, settings.sse_max_streams_per_user)
    problems.install(app)
    app.add_middleware(
        RequestGate,
        max_body_bytes=settings.max_body_bytes,
        authenticate=authenticate,
        streamed_paths=UPLOAD_PATHS,
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in api_routers():
        app.include_router(router, prefix="/api/v1")
    for router in page_routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    openapi.install(app)
    problems.install_outer(app)  # last: outside every other middleware
    return app
