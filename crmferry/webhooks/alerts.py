"""Events this package raises: an endpoint was disabled (`webhook.disabled`), an export
was large (`export.large`). Each is written to the outbox in the transaction of what
caused it and queued for the endpoints that take it at once; the notifications'
dispatch tells the admins."""

from __future__ import annotations

from typing import Any

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.webhooks.endpoints import webhook_json
from crmferry.webhooks.events import DISABLED_EVENT, LARGE_EXPORT_EVENT, write_and_deliver


def endpoint_disabled(conn: Conn, settings: Settings, hook: dict[str, Any]) -> None:
    """Announce, in the transaction that disabled it, that `hook` is disabled (it is
    not told itself: it takes no more deliveries)."""
    write_and_deliver(conn, settings, DISABLED_EVENT, webhook_json(hook))


def export_was_large(
    conn: Conn, settings: Settings, job: dict[str, Any], record_count: int, file_name: str
) -> dict[str, Any] | None:
    """An `export.large` event when an export wrote more than CRMFERRY_EXPORT_ALERT_ROWS
    rows, in the export's own transaction (so only an export that completes tells);
    the event row, or None under the threshold."""
    if record_count <= settings.export_alert_rows:
        return None
    payload = {
        "job_id": str(job["id"]),
        "data_type": job["data_type"],
        "created_by": str(job["created_by"]),
        "creator_name": job["creator_name"],
        "record_count": record_count,
        "threshold": settings.export_alert_rows,
        "file_name": file_name,
        "result_url": f"/api/v1/jobs/{job['id']}/result",
    }
    event, _ = write_and_deliver(conn, settings, LARGE_EXPORT_EVENT, payload, job_id=job["id"])
    return event
