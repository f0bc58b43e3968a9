"""Server-rendered pages (Jinja2)."""

from __future__ import annotations

from fastapi import APIRouter

from crmferry.web.pages import (
    admin_pages,
    api_docs,
    invite_pages,
    record_pages,
    session_pages,
    settings_pages,
    workspace_pages,
)


def page_routers() -> list[APIRouter]:
    """Every page router; a feature adds its router here."""
    return [
        session_pages.router,
        workspace_pages.router,
        record_pages.router,
        settings_pages.router,
        admin_pages.router,
        api_docs.router,
        invite_pages.router,
    ]
