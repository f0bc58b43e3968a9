"""Recurring schedules of one organization: create, list, read, change, delete.

A schedule is a job input (options, mapping, a template, and a source for kinds
that fetch their file) plus a cron expression in an IANA time zone; its kind
checks the input (`JobKind.check_schedule`), the source's type checks the source.
`next_run_at` (UTC) is recomputed whenever the expression, the zone or the
enabled flag changes. The workers fire due schedules, and "run now" fires one
(see firing.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.audit.log import record
from crmferry.config import Settings
from crmferry.credentials import kept_credentials, redacted
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed
from crmferry.ids import id_or_not_found
from crmferry.jobs.cron import check_cron, next_fire
from crmferry.jobs.kinds import JobKind, SavedInput, described_type, job_types_with, kind_for
from crmferry.jobs.model import rfc3339
from crmferry.jobs.notify_request import parse_schedule_notify
from crmferry.jobs.operations import db_now
from crmferry.jobs.sources import examples, source_for
from crmferry.jobs.templates import apply_template
from crmferry.jobs.timing import zone_named
from crmferry.records import DATA_TYPES

INSERT = """
INSERT INTO schedules (organization_id, created_by, name, job_type, data_type, options,
                       mapping, source, template_id, cron, timezone, enabled, next_run_at,
                       notify)
VALUES (crmferry_current_org(), %(created_by)s, %(name)s, %(job_type)s, %(data_type)s,
        %(options)s, %(mapping)s, %(source)s, %(template_id)s, %(cron)s, %(timezone)s,
        %(enabled)s, %(next_run_at)s, %(notify)s)
RETURNING *, (SELECT coalesce(u.name, u.email) FROM users AS u
               WHERE u.id = schedules.created_by) AS owner_name
"""

UPDATE = """
UPDATE schedules
   SET name = %(name)s, options = %(options)s, mapping = %(mapping)s, source = %(source)s,
       template_id = %(template_id)s, cron = %(cron)s, timezone = %(timezone)s,
       next_run_at = %(next_run_at)s, notify = %(notify)s, updated_at = now(),
       created_by = %(editor)s,
       consecutive_failures = CASE WHEN %(enabled)s AND NOT enabled THEN 0
                                   ELSE consecutive_failures END,
       paused_reason = CASE WHEN %(enabled)s THEN NULL ELSE paused_reason END,
       enabled = %(enabled)s
 WHERE organization_id = crmferry_current_org() AND id = %(id)s
RETURNING *, (SELECT coalesce(u.name, u.email) FROM users AS u
               WHERE u.id = schedules.created_by) AS owner_name
"""

# the owner's name: a removed owner is no longer visible (RLS on users), hence null.
# Every statement names the organization (row security does too): what a database
# distributed by organization_id routes to one node (docs/scaling.md)
OWNER_NAME = """(SELECT coalesce(u.name, u.email) FROM users AS u
                  WHERE u.id = s.created_by) AS owner_name"""
GET = (
    f"SELECT s.*, {OWNER_NAME} FROM schedules AS s"
    " WHERE s.organization_id = crmferry_current_org() AND s.id = %s"
)
GET_FOR_UPDATE = GET + " FOR UPDATE"
LIST = (
    f"SELECT s.*, {OWNER_NAME} FROM schedules AS s"
    " WHERE s.organization_id = crmferry_current_org() ORDER BY s.created_at, s.id"
)
DELETE = """
DELETE FROM schedules WHERE organization_id = crmferry_current_org() AND id = %s RETURNING id
"""

EDITABLE = (
    "name",
    "options",
    "mapping",
    "source",
    "template_id",
    "cron",
    "timezone",
    "enabled",
    "notify",
)


def schedule_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "organization_id": str(row["organization_id"]),
        "created_by": str(row["created_by"]),
        "owner_name": row.get("owner_name"),
        "name": row["name"],
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "options": redacted(row["options"] or {}),
        "mapping": row["mapping"],
        "source": redacted(row["source"]),
        "template_id": str(row["template_id"]) if row["template_id"] else None,
        "cron": row["cron"],
        "timezone": row["timezone"],
        "enabled": row["enabled"],
        "next_run_at": rfc3339(row["next_run_at"]) if row["enabled"] else None,
        "last_run_at": rfc3339(row["last_run_at"]),
        "last_job_id": str(row["last_job_id"]) if row["last_job_id"] else None,
        "consecutive_failures": row["consecutive_failures"],
        "last_outcome": row["last_outcome"],
        "paused_reason": row["paused_reason"],
        "notify": row["notify"],
        "created_at": rfc3339(row["created_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }


def create_schedule(
    conn: Conn, principal: Principal, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    """A new schedule; 422 for a bad name, type, cron, zone, template, options, mapping or
    source (a schedule of a kind that fetches its file needs a source, others have none)."""
    principal.require("member")
    values = _checked({"enabled": True, **body}, settings, creating=True)
    values = _prepared(conn, settings, values)
    values["next_run_at"] = _next_run(values, db_now(conn))
    row = conn.execute(INSERT, {**_db_values(values), "created_by": principal.user_id}).fetchone()
    assert row is not None
    record(conn, principal, "schedule.created", "schedule", row["id"], _audited(row))
    return row


def update_schedule(
    conn: Conn, principal: Principal, settings: Settings, schedule_id: object, body: dict[str, Any]
) -> dict[str, Any]:
    """Change a schedule (job and data type stay); next_run_at is recomputed. The editor
    becomes its owner (its jobs are made as theirs); enabling it again clears its pause
    and its count of failures in a row."""
    principal.require("member")
    current = get_schedule(conn, schedule_id, for_update=True)
    changes = {k: v for k, v in body.items() if k in EDITABLE}
    if "source" in changes:  # credentials left out (or sent back as shown) are kept
        changes["source"] = kept_credentials(changes["source"], current["source"])
    options, before = changes.get("options"), current["options"] or {}
    if isinstance(options, dict) and "destination" in options:
        kept = kept_credentials(options["destination"], before.get("destination"))
        changes["options"] = {**options, "destination": kept}
    values = _checked({**current, **changes}, settings, creating=False)
    values = _prepared(conn, settings, values)
    values["next_run_at"] = _next_run(values, db_now(conn))
    params = {**_db_values(values), "id": current["id"], "editor": principal.user_id}
    row = conn.execute(UPDATE, params).fetchone()
    assert row is not None
    details = {**_audited(row), "changed": sorted(changes)}
    record(conn, principal, "schedule.changed", "schedule", row["id"], details)
    return row


def get_schedule(conn: Conn, schedule_id: object, for_update: bool = False) -> dict[str, Any]:
    """A schedule of this organization; 404 for another's or a malformed id."""
    parsed = id_or_not_found(schedule_id, "schedule")
    row = conn.execute(GET_FOR_UPDATE if for_update else GET, [parsed]).fetchone()
    if row is None:
        raise NotFound(f"No schedule {schedule_id}.")
    return row


def list_schedules(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(LIST).fetchall()


def delete_schedule(conn: Conn, principal: Principal, schedule_id: object) -> None:
    """Delete a schedule; the jobs it made stay."""
    principal.require("member")
    row = get_schedule(conn, schedule_id)
    conn.execute(DELETE, [UUID(str(schedule_id))])
    record(conn, principal, "schedule.deleted", "schedule", row["id"], _audited(row))


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "job_type", "data_type", "cron", "timezone", "enabled")
    return {k: row[k] for k in keys}


def _prepared(conn: Conn, settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """The schedule's input checked by its kind, as its jobs will use it: the template it
    names must fit its job and data type (its jobs take what the schedule leaves out from
    it when each one is made)."""
    job_type, data_type = values["job_type"], values["data_type"]
    own = SavedInput(values["options"], values.get("mapping"), values.get("source"))
    apply_template(conn, values.get("template_id"), job_type, data_type, own)
    kind = kind_for(job_type)
    check = kind.check_schedule
    assert check is not None  # _checked accepts only kinds that can be scheduled
    saved = check(conn, described_type(kind, data_type), own, settings)
    return {**values, "options": saved.options, "mapping": saved.mapping}


def _next_run(values: dict[str, Any], now: datetime) -> datetime | None:
    if not values["enabled"]:
        return None
    return next_fire(values["cron"], zone_named(values["timezone"]), now)


def _checked(values: dict[str, Any], settings: Settings, creating: bool) -> dict[str, Any]:
    errors: list[dict[str, object]] = []
    name = values.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append({"field": "name", "message": "A name of 1 to 200 characters is required."})
    schedulable = job_types_with("check_schedule")
    own = None
    if values.get("job_type") in schedulable:
        # a kind whose jobs span data types (a batch) names its own
        own = kind_for(values["job_type"]).own_data_type
        values = {**values, "data_type": own or values.get("data_type")}
    if creating:
        if values.get("job_type") not in schedulable:
            errors.append(
                {"field": "job_type", "message": f"must be one of {', '.join(schedulable)}"}
            )
        if own is None and values.get("data_type") not in DATA_TYPES:
            errors.append(
                {"field": "data_type", "message": f"must be one of {', '.join(DATA_TYPES)}"}
            )
    if not isinstance(values.get("enabled"), bool):
        errors.append({"field": "enabled", "message": "must be true or false"})
    options = values.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        errors.append({"field": "options", "message": "must be an object"})
    source = values.get("source")
    if values.get("job_type") in schedulable:
        source, problems = _checked_source(kind_for(values["job_type"]), source, settings)
        errors.extend(problems)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationFailed(f"The schedule is not valid: {detail}.", errors)
    cron = check_cron(values.get("cron"))
    timezone = values.get("timezone") or ""
    zone_named(str(timezone))
    notify = parse_schedule_notify(values.get("notify"))
    return {
        **values,
        "name": str(name).strip(),
        "cron": cron,
        "options": options,
        "source": source,
        "notify": notify,
    }


def _checked_source(
    kind: JobKind, source: object, settings: Settings
) -> tuple[dict[str, Any] | None, list[dict[str, object]]]:
    """A schedule of a kind that fetches its file needs a source to fetch it from, checked
    by its type; other kinds' schedules have none. (The source, the problems.)"""
    if source is None:
        if not kind.needs_source:
            return None, []
        message = f"a{_n(kind.job_type)} {kind.job_type} schedule needs a source to fetch its "
        return None, [{"field": "source", "message": message + f"file from: {examples()}"}]
    if not kind.needs_source:
        message = f"a{_n(kind.job_type)} {kind.job_type} schedule has no source"
        return None, [{"field": "source", "message": message}]
    try:
        return source_for(source).check(cast(dict[str, Any], source), settings), []
    except ValidationFailed as exc:
        return None, exc.errors


def _n(word: str) -> str:
    return "n" if word[:1] in "aeiou" else ""


def _db_values(values: dict[str, Any]) -> dict[str, Any]:
    template_id = values.get("template_id")
    return {
        "name": values["name"],
        "job_type": values.get("job_type"),
        "data_type": values.get("data_type"),
        "options": Jsonb(values["options"]),
        "mapping": Jsonb(values["mapping"]) if values.get("mapping") is not None else None,
        "source": Jsonb(values["source"]) if values.get("source") is not None else None,
        "template_id": str(template_id) if template_id else None,
        "cron": values["cron"],
        "timezone": values["timezone"],
        "enabled": values["enabled"],
        "next_run_at": values["next_run_at"],
        "notify": Jsonb(values["notify"]) if values.get("notify") is not None else None,
    }
