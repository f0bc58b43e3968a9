"""Server-rendered pages (Jinja2)."""

from __future__ import annotations

from fastapi import APIRouter

from crmferry.web.pages import session_pages, shell_pages


def page_routers() -> list[APIRouter]:
    """Every page router; a feature adds its router here."""
    return [session_pages.router, shell_pages.router]
