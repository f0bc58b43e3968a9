"""GET /events: Server-Sent Events of the caller's organization's jobs.

One LISTEN connection per stream, as the application role. A notification
carries only a job id and organization; the job is re-read through a tenant
transaction, so RLS decides what is sent. A comment line every 15 seconds
keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from crmferry.accounts.principal import Principal
from crmferry.db import Database
from crmferry.errors import NotFound
from crmferry.jobs.model import job_json
from crmferry.jobs.operations import get_job
from crmferry.web.deps import DB, CurrentPrincipal

router = APIRouter(tags=["jobs"])

KEEP_ALIVE_SECONDS = 15.0


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request, principal: CurrentPrincipal, db: DB) -> StreamingResponse:
    """`event: job` with the job object on every status or progress change."""
    return StreamingResponse(
        _stream(request, principal, db),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(request: Request, principal: Principal, db: Database) -> AsyncIterator[str]:
    org = str(principal.organization_id)
    async with await psycopg.AsyncConnection.connect(db.app_url, autocommit=True) as conn:
        await conn.execute("LISTEN crmferry_jobs")
        yield ": connected\n\n"
        while not await request.is_disconnected():
            sent = False
            async for note in conn.notifies(timeout=KEEP_ALIVE_SECONDS, stop_after=1):
                payload = _payload(note.payload)
                if payload.get("org") != org:
                    continue
                job = await asyncio.to_thread(_read_job, db, org, payload.get("id"))
                if job is not None:
                    sent = True
                    yield f"event: job\ndata: {json.dumps(job)}\n\n"
            if not sent:
                yield ": keep-alive\n\n"


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _read_job(db: Database, org: str, job_id: object) -> dict[str, Any] | None:
    try:
        with db.tenant(org) as conn:
            return job_json(get_job(conn, job_id))
    except NotFound:
        return None  # deleted meanwhile
