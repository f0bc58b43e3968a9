"""Templates: a job input saved under a name (an import's mapping and options, an
export's fields, filters and format), and the one rule that applies one to a job.

Each kind checks its own templates (`JobKind.check_template`); a kind without that
hook has none. A job or a schedule naming a template takes what it leaves out from
it (`apply_template`): the template's mapping when it has none of its own, the
template's options under its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.credentials import redacted
from crmferry.db import Conn
from crmferry.errors import Conflict, NotFound, ValidationFailed
from crmferry.ids import id_or_not_found
from crmferry.jobs.kinds import SavedInput, job_types_with, kind_for
from crmferry.records import DATA_TYPES, DataType

INSERT = """
INSERT INTO templates (organization_id, created_by, name, job_type, data_type, mapping, options)
VALUES (crmferry_current_org(), %s, %s, %s, %s, %s, %s)
ON CONFLICT (organization_id, job_type, name) DO NOTHING
RETURNING id, name, job_type, data_type, mapping, options, created_by, created_at
"""
LIST = """
SELECT id, name, job_type, data_type, mapping, options, created_by, created_at
  FROM templates WHERE organization_id = crmferry_current_org()
 ORDER BY job_type, lower(name), id
"""
GET = """
SELECT id, name, job_type, data_type, mapping, options, created_by, created_at
  FROM templates WHERE organization_id = crmferry_current_org() AND id = %s
"""
DELETE = """
DELETE FROM templates WHERE organization_id = crmferry_current_org() AND id = %s RETURNING id
"""


def create_template(
    conn: Conn, principal: Principal, body: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Validate and save a template; 422 names each bad part, 409 for a name already used,
    403 for a viewer."""
    principal.require("member")
    name, job_type, data_type = _identity(body)
    check = kind_for(job_type).check_template
    assert check is not None  # _identity accepts only kinds that have templates
    options = body.get("options")
    if options is not None and not isinstance(options, dict):
        raise _invalid("options", "must be an object")
    saved = check(conn, data_type, SavedInput(options or {}, body.get("mapping")), settings)
    row = conn.execute(
        INSERT,
        [
            principal.user_id,
            name,
            job_type,
            data_type.name,
            Jsonb(saved.mapping) if saved.mapping is not None else None,
            Jsonb(saved.options),
        ],
    ).fetchone()
    if row is None:
        raise Conflict(f"An {job_type} template named '{name}' already exists.")
    return public(row)


def list_templates(conn: Conn) -> list[dict[str, Any]]:
    """This organization's templates, by job type and name."""
    return [public(row) for row in conn.execute(LIST)]


def get_template(conn: Conn, template_id: object) -> dict[str, Any]:
    """One template of this organization; 404 for another's, a missing or a malformed id."""
    row = conn.execute(GET, [_uuid(template_id)]).fetchone()
    if row is None:
        raise NotFound(f"No template {template_id}.")
    return public(row)


def delete_template(conn: Conn, principal: Principal, template_id: object) -> None:
    """Delete a template (jobs and schedules naming it keep their own input); 404 as `get`,
    403 for a viewer."""
    principal.require("member")
    if conn.execute(DELETE, [_uuid(template_id)]).fetchone() is None:
        raise NotFound(f"No template {template_id}.")


def apply_template(
    conn: Conn, template_id: object, job_type: str, data_type: str, own: SavedInput
) -> SavedInput:
    """`own` with what it leaves out taken from the template `template_id` names (none:
    `own` as it is): the template's mapping when `own` has none, the template's options
    under `own`'s. 422 (field `template_id`) for a template that does not exist here or
    is of another job or data type."""
    if not template_id:
        return own
    template = _template_for(conn, template_id, job_type, data_type)
    options = own.options
    if isinstance(options, Mapping) and isinstance(template["options"], Mapping):
        options = {**template["options"], **options}
    return replace(own, options=options, mapping=own.mapping or template["mapping"])


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A template as the API shows it."""
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "mapping": row["mapping"],
        "options": redacted(row["options"]),
        "created_by": str(row["created_by"]) if row["created_by"] else None,
        "created_at": row["created_at"].isoformat(),
    }


def _template_for(conn: Conn, template_id: object, job_type: str, data_type: str) -> dict[str, Any]:
    try:
        template = get_template(conn, template_id)
    except NotFound:
        message = f"No template {template_id}."
        raise ValidationFailed(message, [{"field": "template_id", "message": message}]) from None
    if (template["job_type"], template["data_type"]) != (job_type, data_type):
        message = (
            f"Template {template_id} is a {template['data_type']} {template['job_type']} "
            f"template, not a {data_type} {job_type} one."
        )
        raise ValidationFailed(message, [{"field": "template_id", "message": message}])
    return template


def _uuid(value: object) -> UUID:
    return id_or_not_found(value, "template")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"The template is not valid: {field} {message}.", [{"field": field, "message": message}]
    )


def _identity(body: dict[str, Any]) -> tuple[str, str, DataType]:
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        raise _invalid("name", "must be 1 to 200 characters")
    job_type = body.get("job_type")
    choices = job_types_with("check_template")
    if job_type not in choices:
        raise _invalid("job_type", "must be one of " + ", ".join(f"'{c}'" for c in choices))
    data_type = DATA_TYPES.get(str(body.get("data_type")))
    if data_type is None:
        raise _invalid("data_type", "must be one of " + ", ".join(DATA_TYPES))
    return name.strip(), str(job_type), data_type
