"""Recurring schedules of one organization: create, list, read, change, delete, run now.

A schedule is a job template plus a cron expression in an IANA time zone;
`next_run_at` (UTC) is recomputed whenever the expression, the zone or the
enabled flag changes. The workers fire due schedules (see scheduler.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed
from crmferry.ids import id_or_not_found
from crmferry.imports.mapping import validate_mapping_for_mode
from crmferry.imports.options import parse_import_options
from crmferry.jobs.cron import check_cron, next_fire
from crmferry.jobs.kinds import kind_for
from crmferry.jobs.model import rfc3339
from crmferry.jobs.operations import db_now
from crmferry.jobs.timing import zone_named
from crmferry.records import DATA_TYPES, DataType, get_data_type

INSERT = """
INSERT INTO schedules (organization_id, created_by, name, job_type, data_type, options,
                       mapping, source, template_id, cron, timezone, enabled, next_run_at)
VALUES (crmferry_current_org(), %(created_by)s, %(name)s, %(job_type)s, %(data_type)s,
        %(options)s, %(mapping)s, %(source)s, %(template_id)s, %(cron)s, %(timezone)s,
        %(enabled)s, %(next_run_at)s)
RETURNING *
"""

UPDATE = """
UPDATE schedules
   SET name = %(name)s, options = %(options)s, mapping = %(mapping)s, source = %(source)s,
       template_id = %(template_id)s, cron = %(cron)s, timezone = %(timezone)s,
       enabled = %(enabled)s, next_run_at = %(next_run_at)s, updated_at = now()
 WHERE id = %(id)s
RETURNING *
"""

GET = "SELECT * FROM schedules WHERE id = %s"
GET_FOR_UPDATE = "SELECT * FROM schedules WHERE id = %s FOR UPDATE"
LIST = "SELECT * FROM schedules ORDER BY created_at, id"
DELETE = "DELETE FROM schedules WHERE id = %s RETURNING id"

EDITABLE = ("name", "options", "mapping", "source", "template_id", "cron", "timezone", "enabled")


def schedule_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "organization_id": str(row["organization_id"]),
        "created_by": str(row["created_by"]),
        "name": row["name"],
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "options": row["options"] or {},
        "mapping": row["mapping"],
        "source": row["source"],
        "template_id": str(row["template_id"]) if row["template_id"] else None,
        "cron": row["cron"],
        "timezone": row["timezone"],
        "enabled": row["enabled"],
        "next_run_at": rfc3339(row["next_run_at"]) if row["enabled"] else None,
        "last_run_at": rfc3339(row["last_run_at"]),
        "last_job_id": str(row["last_job_id"]) if row["last_job_id"] else None,
        "created_at": rfc3339(row["created_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }


def create_schedule(
    conn: Conn, principal: Principal, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    """A new schedule; 422 for a bad name, type, cron, zone, options, mapping or source
    (an import schedule needs a URL source; an export schedule has none)."""
    principal.require("member")
    values = _checked({"enabled": True, **body}, creating=True)
    values["options"] = _prepared_options(conn, principal, settings, values)
    values["next_run_at"] = _next_run(values, db_now(conn))
    row = conn.execute(INSERT, {**_db_values(values), "created_by": principal.user_id}).fetchone()
    assert row is not None
    return row


def update_schedule(
    conn: Conn, principal: Principal, settings: Settings, schedule_id: object, body: dict[str, Any]
) -> dict[str, Any]:
    """Change a schedule (job and data type stay); next_run_at is recomputed."""
    principal.require("member")
    current = get_schedule(conn, schedule_id, for_update=True)
    changes = {k: v for k, v in body.items() if k in EDITABLE}
    values = _checked({**current, **changes}, creating=False)
    values["options"] = _prepared_options(conn, principal, settings, values)
    values["next_run_at"] = _next_run(values, db_now(conn))
    row = conn.execute(UPDATE, {**_db_values(values), "id": current["id"]}).fetchone()
    assert row is not None
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
    get_schedule(conn, schedule_id)
    conn.execute(DELETE, [UUID(str(schedule_id))])


def _prepared_options(
    conn: Conn, principal: Principal, settings: Settings, values: dict[str, Any]
) -> dict[str, Any]:
    """Options checked as a job's would be. An export's kind normalises them now. An
    import's file comes from its URL source at run time, which the import kind fetches
    (the source is kept in the options for it): its options, and its mapping as far as
    that can be checked without the file, are checked now."""
    options: dict[str, Any] = dict(values["options"])
    if values["job_type"] == "import":
        data_type = get_data_type(values["data_type"])
        parsed = parse_import_options(options)
        if values.get("mapping") is not None:
            _check_import_mapping(data_type, values["mapping"], parsed.mode)
        # kept as given, not with defaults filled in: a template's options still apply
        options["source"] = values["source"]
        return options
    try:
        kind = kind_for(values["job_type"])
    except KeyError:
        return options
    body = {"job_type": values["job_type"], "data_type": values["data_type"], "options": options}
    return kind.prepare(conn, principal, get_data_type(values["data_type"]), body, settings).options


def _check_import_mapping(data_type: DataType, mapping: object, mode: str) -> None:
    """A mapping checked as far as it can be without the file: known fields, each once,
    the required ones mapped. Its headers are checked against each downloaded file."""
    if not isinstance(mapping, dict):
        message = 'must be an object {"Header": "field" | null}'
        raise ValidationFailed(f"mapping {message}.", [{"field": "mapping", "message": message}])
    validate_mapping_for_mode(data_type, list(mapping), mapping, mode)


def _next_run(values: dict[str, Any], now: datetime) -> datetime | None:
    if not values["enabled"]:
        return None
    return next_fire(values["cron"], zone_named(values["timezone"]), now)


def _checked(values: dict[str, Any], creating: bool) -> dict[str, Any]:
    errors: list[dict[str, object]] = []
    name = values.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append({"field": "name", "message": "A name of 1 to 200 characters is required."})
    if creating:
        if values.get("job_type") not in ("import", "export"):
            errors.append({"field": "job_type", "message": "must be import or export"})
        if values.get("data_type") not in DATA_TYPES:
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
    errors.extend(_source_errors(values.get("job_type"), values.get("source")))
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationFailed(f"The schedule is not valid: {detail}.", errors)
    cron = check_cron(values.get("cron"))
    timezone = values.get("timezone") or ""
    zone_named(str(timezone))
    return {**values, "name": str(name).strip(), "cron": cron, "options": options}


def _source_errors(job_type: object, source: object) -> list[dict[str, object]]:
    """An import schedule fetches its file from a URL at each run, so it needs one;
    an export schedule has nothing to fetch."""
    if source is None:
        if job_type != "import":
            return []
        message = (
            'an import schedule needs a source to fetch its file from: {"type": "url", '
            '"url": "https://..."} (a CSV or XLSX file)'
        )
        return [{"field": "source", "message": message}]
    if not _is_url_source(source):
        return [{"field": "source", "message": 'must be {"type": "url", "url": "https://..."}'}]
    if job_type == "export":
        return [{"field": "source", "message": "only an import schedule has a source"}]
    return []


def _is_url_source(source: object) -> bool:
    if not isinstance(source, dict) or source.get("type") != "url":
        return False
    url = source.get("url")
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


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
    }
