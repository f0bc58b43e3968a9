"""The e-mail channel: one delivery job per event and address (`deliver_email`), sent
through CRMFERRY_SMTP_URL. Without CRMFERRY_SMTP_URL no mail is planned at all.

A passing failure (the server unreachable, a 4xx answer) is retried with the engine's
backoff until the job's attempts are spent; a 5xx answer fails the delivery at once.
A worker that dies between sending and recording it sends again: the message keeps
its Message-ID (the event id and the address), so a repeat can be told apart.

An invitation's mail opens the link's sealed token for the message only, is not sent
once the invitation was revoked, used or expired, and drops the token from the event
when sent (crmferry/notify/invitation_mail.py).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from crmferry.accounts.invitations import invite_url
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import RetryLater
from crmferry.exports.naming import download_name
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome
from crmferry.notify import invitation_mail
from crmferry.notify.channels import (
    Channel,
    Delivery,
    Event,
    load_event,
    refuse_by_api,
    register_channel,
)
from crmferry.notify.mail.message import Attachment, MailFacts, compose, first_errors
from crmferry.notify.mail.recipients import mail_recipients
from crmferry.notify.mail.smtp import MailDeferred, MailRefused, SmtpServer, send
from crmferry.storage import store_for
from crmferry.storage.base import FileGone, FileStore

JOB_TYPE = "deliver_email"

JOB_FILES = """
SELECT id, data_type, options, completed_at, created_at, result_path, result_size,
       error_report_path
  FROM scheduled_jobs WHERE id = %s
"""


def plan(conn: Conn, settings: Settings, events: list[Event]) -> list[Delivery]:
    """One delivery per event and address (none while no SMTP server is configured)."""
    if not settings.smtp_url:
        return []
    return [
        Delivery(event_id, key=address, options={"attach": attach})
        for event_id, addresses in mail_recipients(conn, events).items()
        for address, attach in sorted(addresses.items())
    ]


def run(ctx: JobContext) -> JobOutcome:
    """Compose and send the one message of this delivery."""
    if not ctx.settings.smtp_url:
        return JobOutcome(failed=True, error_message="CRMFERRY_SMTP_URL is not set.")
    event = load_event(ctx.conn, ctx.job)
    address = str(ctx.job["delivery_key"])
    invitation = event.type == invitation_mail.INVITATION_CREATED
    if invitation and not invitation_mail.still_pending(ctx.conn, event):
        invitation_mail.forget_token(ctx.conn, event)
        return JobOutcome(
            record_count=0,
            error_message="Not sent: the invitation was revoked, accepted or has expired.",
        )
    facts = _facts(ctx, event, bool(ctx.job["options"].get("attach")))
    if invitation:
        token = invitation_mail.invitation_token(event, ctx.settings)
        facts.invite_url = invite_url(ctx.settings.base_url, token)
    message = compose(ctx.settings, event, address, facts)
    server = SmtpServer.parse(ctx.settings.smtp_url)
    try:
        send(server, message, ctx.settings.smtp_timeout_seconds)
    except MailDeferred as exc:
        raise RetryLater(f"Mail to {address} not sent yet: {exc}") from exc
    except MailRefused as exc:
        return JobOutcome(failed=True, error_message=f"Mail to {address} refused: {exc}")
    if invitation:
        invitation_mail.forget_token(ctx.conn, event)
    return JobOutcome(record_count=1)


def _facts(ctx: JobContext, event: Event, attach: bool) -> MailFacts:
    """The import's first errors and the export's file, from the job as it is now."""
    facts = MailFacts()
    job = ctx.conn.execute(JOB_FILES, [event.job_id]).fetchone() if event.job_id else None
    if job is None:
        return facts
    store = store_for(ctx.settings)
    if job["error_report_path"]:
        facts.first_errors = _first_errors(store, job["error_report_path"])
    if attach and event.type == "job.completed" and job["result_path"]:
        facts = _with_attachment(ctx.settings, store, job, facts)
    return facts


def _first_errors(store: FileStore, key: str) -> list[dict[str, str]]:
    try:
        with store.open(key) as report:
            return first_errors(report)
    except FileGone:
        return []


def _with_attachment(
    settings: Settings, store: FileStore, job: dict[str, Any], facts: MailFacts
) -> MailFacts:
    """The export's file attached when it is small enough (read whole: it is at most
    CRMFERRY_MAIL_ATTACH_MAX_BYTES), else the mail says it is too large to attach."""
    key = job["result_path"]
    size = job["result_size"] if job["result_size"] is not None else store.size(key)
    if size is None:
        return facts
    if size > settings.mail_attach_max_bytes:
        facts.attachment_too_large = True
        return facts
    name = download_name(job, Path(key))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    try:
        with store.open(key) as stored:
            content = stored.read(settings.mail_attach_max_bytes + 1)
    except FileGone:
        return facts
    facts.attachment = Attachment(content, name, content_type)
    return facts


KIND = JobKind(JOB_TYPE, refuse_by_api, run, internal=True)
CHANNEL = register_channel(Channel("email", KIND, plan, max_attempts=8))
