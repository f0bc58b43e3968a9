"""The message about one event for one address: subject, plain text and HTML from the
Jinja templates beside this module, the counts, the first errors, a link to the job on
CRMFERRY_BASE_URL and, for an export, a link to its file (sign-in required) or the
file itself attached.

Headers are made by the standard library's `email` package (its default policy refuses
a line break in a header), and every address was validated when it was stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from crmferry.config import Settings
from crmferry.notify.channels import Event
from crmferry.notify.wording import headline, job_summary, job_title

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
FIRST_ERRORS = 5
SUBJECT_PREFIX = "[CRM Ferry] "
TEMPLATE_OF = {"schedule.paused": "schedule_paused", "invitation.created": "invitation"}


@dataclass(frozen=True)
class Attachment:
    content: bytes  # at most CRMFERRY_MAIL_ATTACH_MAX_BYTES
    file_name: str
    content_type: str


@dataclass
class MailFacts:
    """What the message says beyond the event: the import's first errors, the file."""

    first_errors: list[dict[str, str]] = field(default_factory=list)
    attachment: Attachment | None = None
    attachment_too_large: bool = False
    invite_url: str | None = None  # an invitation's link, opened for this message only


def compose(settings: Settings, event: Event, address: str, facts: MailFacts) -> EmailMessage:
    """The message to `address` about `event`."""
    context = _context(settings, event, facts)
    name = TEMPLATE_OF.get(event.type, "job")
    message = EmailMessage()
    message["Subject"] = SUBJECT_PREFIX + headline(event)
    message["From"] = settings.smtp_from
    message["To"] = address
    message["Date"] = formatdate(localtime=False)
    # the same on every retry of this delivery: a receiver can tell a repeat
    digest = hashlib.sha256(address.encode()).hexdigest()[:16]
    message["Message-ID"] = f"<{event.id}.{digest}@crmferry>"
    message["X-CRM-Ferry-Event"] = f"{event.type} {event.id}"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(TEMPLATES.get_template(f"{name}.txt").render(context))
    message.add_alternative(TEMPLATES.get_template(f"{name}.html").render(context), subtype="html")
    if facts.attachment is not None:
        maintype, _, subtype = facts.attachment.content_type.partition("/")
        message.add_attachment(
            facts.attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=facts.attachment.file_name,
        )
    return message


def first_errors(report: BinaryIO) -> list[dict[str, str]]:
    """The first rows of an import's error report (row, column, value, message), read
    a few lines only from its stream."""
    handle = io.TextIOWrapper(report, newline="", encoding="utf-8-sig")
    rows = csv.DictReader(handle)
    return [
        {k: str(row.get(k) or "") for k in ("row_number", "column", "value", "message")}
        for row in itertools.islice(rows, FIRST_ERRORS)
    ]


def _context(settings: Settings, event: Event, facts: MailFacts) -> dict[str, Any]:
    payload = event.payload
    base = settings.base_url.rstrip("/")
    job_id = payload.get("id") if event.type.startswith("job.") else None
    return {
        "event": event,
        "headline": headline(event),
        "payload": payload,
        "title": job_title(payload) if job_id else payload.get("name"),
        "summary": job_summary(payload) if job_id else "",
        "counts": payload.get("counts") or {},
        "outcome": event.type.removeprefix("job."),
        "job_url": f"{base}/jobs?job={job_id}" if job_id else None,
        "schedules_url": f"{base}/schedules",
        "result_url": f"{base}{payload['result_url']}" if payload.get("result_url") else None,
        "error_report_url": f"{base}{payload['error_report_url']}"
        if payload.get("error_report_url")
        else None,
        "first_errors": facts.first_errors,
        "attached": facts.attachment.file_name if facts.attachment else None,
        "attachment_too_large": facts.attachment_too_large,
        "attach_limit_mb": round(settings.mail_attach_max_bytes / 1024 / 1024, 1),
        "invite_url": facts.invite_url,
    }
