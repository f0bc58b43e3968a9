"""JSON API routers, mounted under /api/v1 (health probes at the root)."""

from __future__ import annotations

from fastapi import APIRouter

from crmferry.web.api import (
    audit,
    batch_uploads,
    events,
    import_jobs,
    jobs,
    me,
    notifications,
    records,
    schedules,
    settings,
    templates,
    uploads,
    webhooks,
)


def api_routers() -> list[APIRouter]:
    """Every router of /api/v1; a feature adds its router here."""
    return [
        me.router,
        settings.router,
        uploads.router,
        batch_uploads.router,
        records.router,
        templates.router,
        import_jobs.router,
        jobs.router,
        schedules.router,
        events.router,
        notifications.router,
        audit.router,
        webhooks.router,
    ]
