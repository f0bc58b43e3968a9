"""What an event says, in one place: the in-app title and the e-mail subject are the
same headline, e.g. "Import of contacts.csv completed: 40 inserted, 1 failed"."""

from __future__ import annotations

from typing import Any

from crmferry.notify.channels import Event

MAX_ERROR_CHARS = 160
COUNTED = ("inserted", "updated", "unchanged", "skipped", "failed")


def headline(event: Event) -> str:
    """One line naming the thing and how it went."""
    payload = event.payload
    if event.type == "schedule.paused":
        return f"Schedule “{payload.get('name')}” paused"
    if event.type == "invitation.created":
        return f"{payload.get('invited_by_name')} invited you to {payload.get('organization_name')}"
    outcome = event.type.removeprefix("job.")
    line = f"{job_title(payload)} {outcome}"
    if outcome == "completed":
        summary = job_summary(payload)
        return f"{line}: {summary}" if summary else line
    if outcome == "failed":
        return f"{line}: {short(payload.get('error_message') or 'no reason given')}"
    return line


def detail(event: Event) -> str:
    """A sentence or two under the headline (the in-app body)."""
    payload = event.payload
    if event.type == "schedule.paused":
        return str(payload.get("paused_reason") or "The schedule was paused.")
    if event.type == "job.completed" and payload.get("error_message"):
        return short(str(payload["error_message"]))
    if event.type == "job.cancelled":
        return short(str(payload.get("error_message") or "Cancelled."))
    return job_summary(payload) if event.type == "job.failed" else ""


def job_title(payload: dict[str, Any]) -> str:
    """ "Import of contacts.csv", "Export of contacts", "Revert of contacts"."""
    what = str(payload.get("job_type") or "job").replace("_", " ").capitalize()
    subject = payload.get("file_name") if payload.get("job_type") == "import" else None
    return f"{what} of {subject or payload.get('data_type') or 'records'}"


def job_summary(payload: dict[str, Any]) -> str:
    """The counts that say something ("40 inserted, 1 failed"; an export's rows)."""
    if payload.get("job_type") == "export":
        rows = payload.get("record_count")
        if not isinstance(rows, int):
            return ""
        return f"{rows:,} row" if rows == 1 else f"{rows:,} rows"
    counts = payload.get("counts") or {}
    parts = [f"{counts[c]:,} {c}" for c in COUNTED if counts.get(c)]
    return ", ".join(parts)


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
