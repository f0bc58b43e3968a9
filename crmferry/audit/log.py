"""One rule for the audit log: every service that changes something an admin must be
able to account for calls `record` on the transaction that makes the change, so the
entry exists if and only if the change committed.

Entries are append-only for the application roles (migration 0075). The actor's
e-mail and name are copied into the entry, so it still says who acted after that
member is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.cursors import decode_cursor, encode_cursor
from crmferry.db import Conn
from crmferry.jobs.model import rfc3339

# What is recorded (the filter of GET /audit lists them; README, "Audit log").
ACTIONS = (
    "import.created",
    "import.completed",
    "export.created",
    "export.downloaded",
    "job.deleted",
    "job.reverted",
    "member.invited",
    "member.removed",
    "member.role_changed",
    "invitation.revoked",
    "token.created",
    "token.revoked",
    "webhook.created",
    "webhook.changed",
    "webhook.deleted",
    "webhook.secret_rotated",
    "schedule.created",
    "schedule.changed",
    "schedule.deleted",
    "schedule.run",
)

MAX_PAGE = 200

INSERT_ENTRY = """
INSERT INTO audit_log (organization_id, actor_id, actor_email, actor_name, action,
                       target_type, target_id, details)
VALUES (crmferry_current_org(), %(actor_id)s, %(actor_email)s, %(actor_name)s, %(action)s,
        %(target_type)s, %(target_id)s, %(details)s)
"""

# Newest first, keyset-paged on (at, id); each filter is optional.
LIST_ENTRIES = """
SELECT * FROM audit_log
 WHERE (%(action)s::text IS NULL OR action = %(action)s)
   AND (%(actor)s::text IS NULL OR actor_id::text = %(actor)s
        OR lower(actor_email) = lower(%(actor)s))
   AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
   AND (%(after_at)s::timestamptz IS NULL OR (at, id) < (%(after_at)s, %(after_id)s))
 ORDER BY at DESC, id DESC
 LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Actor:
    """Who acted: a member (id, e-mail, name), or None for the service itself."""

    user_id: UUID | None
    email: str | None
    name: str | None


SYSTEM = Actor(None, None, "CRM Ferry")


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.user_id, principal.email, principal.name)


def record(
    conn: Conn,
    actor: Actor | Principal,
    action: str,
    target_type: str | None = None,
    target_id: object = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry on `conn` (the tenant transaction of the change it records)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")  # a programming error
    who = actor_of(actor) if isinstance(actor, Principal) else actor
    conn.execute(
        INSERT_ENTRY,
        {
            "actor_id": who.user_id,
            "actor_email": who.email,
            "actor_name": who.name,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id) if target_id is not None else None,
            "details": Jsonb(details or {}),
        },
    )


def list_entries(
    conn: Conn,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of entries, newest first, and the cursor of the next page (None at the end).
    `actor` is a member's id or e-mail (case-insensitive)."""
    limit = max(1, min(limit, MAX_PAGE))
    after_at, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    rows = conn.execute(
        LIST_ENTRIES,
        {
            "action": action,
            "actor": actor,
            "since": since,
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit + 1,
        },
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["at"], rows[-1]["id"]) if more else None
    return rows, next_cursor


def audit_json(row: dict[str, Any]) -> dict[str, Any]:
    """API.md's audit entry."""
    return {
        "id": str(row["id"]),
        "at": rfc3339(row["at"]),
        "actor": {
            "id": str(row["actor_id"]) if row["actor_id"] else None,
            "email": row["actor_email"],
            "name": row["actor_name"],
        },
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "details": row["details"] or {},
    }


def _job_details(row: dict[str, Any], **more: object) -> dict[str, Any]:
    return {
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "file_name": row.get("file_name"),
        **more,
    }


def record_job_created(conn: Conn, principal: Principal, row: dict[str, Any]) -> None:
    """An import or export was asked for (now, later, or as a retry); other kinds are
    not audited here (a revert is `job.reverted`)."""
    job_type = str(row["job_type"])
    kind = "import" if job_type.startswith("import") else job_type
    if f"{kind}.created" in ACTIONS:
        details = _job_details(
            row,
            scheduled_time=rfc3339(row["scheduled_time"]),
            retry_of=str(row["retry_of"]) if row.get("retry_of") else None,
        )
        record(conn, principal, f"{kind}.created", "job", row["id"], details)


def record_download(conn: Conn, principal: Principal, row: dict[str, Any], via: str) -> None:
    """An export's file was handed to someone (`via`: api, web or cli)."""
    details = _job_details(row, result_size=row.get("result_size"), via=via)
    record(conn, principal, "export.downloaded", "job", row["id"], details)


def record_job_finished(
    conn: Conn, job: dict[str, Any], action: str, counts: dict[str, int]
) -> None:
    """A job's outcome, on its own transaction, in the name of the member who made it."""
    actor = Actor(job["created_by"], None, job.get("creator_name"))
    record(conn, actor, action, "job", job["id"], _job_details(job, counts=counts))
