"""Saved import mappings with options, and saved export fields, filters and format."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.db import Conn
from crmferry.errors import Conflict, NotFound, ValidationFailed
from crmferry.ids import id_or_not_found
from crmferry.imports.options import parse_import_options
from crmferry.records import DATA_TYPES, DataType

_COLUMNS = "id, name, job_type, data_type, mapping, options, created_by, created_at"
_INSERT = f"""
INSERT INTO templates (organization_id, created_by, name, job_type, data_type, mapping, options)
VALUES (crmferry_current_org(), %s, %s, %s, %s, %s, %s)
ON CONFLICT (organization_id, job_type, name) DO NOTHING
RETURNING {_COLUMNS}
"""
_LIST = f"SELECT {_COLUMNS} FROM templates ORDER BY job_type, lower(name), id"
_GET = f"SELECT {_COLUMNS} FROM templates WHERE id = %s"
_DELETE = "DELETE FROM templates WHERE id = %s RETURNING id"


def create_template(conn: Conn, user_id: UUID, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and save a template; 422 names each bad part, 409 for a name already used."""
    name, job_type, data_type = _identity(body)
    if job_type == "import":
        mapping = _import_mapping(data_type, body.get("mapping"))
        options = parse_import_options(body.get("options")).as_dict()
    else:
        mapping = None
        options = _export_options(data_type, body.get("options"))
    row = conn.execute(
        _INSERT,
        [
            user_id,
            name,
            job_type,
            data_type.name,
            Jsonb(mapping) if mapping is not None else None,
            Jsonb(options),
        ],
    ).fetchone()
    if row is None:
        raise Conflict(f"An {job_type} template named '{name}' already exists.")
    return public(row)


def list_templates(conn: Conn) -> list[dict[str, Any]]:
    return [public(row) for row in conn.execute(_LIST)]


def get_template(conn: Conn, template_id: object) -> dict[str, Any]:
    row = conn.execute(_GET, [_uuid(template_id)]).fetchone()
    if row is None:
        raise NotFound(f"No template {template_id}.")
    return public(row)


def delete_template(conn: Conn, template_id: object) -> None:
    if conn.execute(_DELETE, [_uuid(template_id)]).fetchone() is None:
        raise NotFound(f"No template {template_id}.")


def template_for_job(
    conn: Conn, template_id: object, job_type: str, data_type: str
) -> dict[str, Any]:
    """A template a job names; 422 when it is of another job or data type."""
    template = get_template(conn, template_id)
    if template["job_type"] != job_type or template["data_type"] != data_type:
        raise ValidationFailed(
            f"Template {template_id} is a {template['data_type']} {template['job_type']} "
            f"template, not a {data_type} {job_type} one.",
            [{"field": "template_id", "message": "is of another job or data type"}],
        )
    return template


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A template as the API shows it."""
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "job_type": row["job_type"],
        "data_type": row["data_type"],
        "mapping": row["mapping"],
        "options": row["options"],
        "created_by": str(row["created_by"]) if row["created_by"] else None,
        "created_at": row["created_at"].isoformat(),
    }


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
    if job_type not in ("import", "export"):
        raise _invalid("job_type", "must be 'import' or 'export'")
    data_type = DATA_TYPES.get(str(body.get("data_type")))
    if data_type is None:
        raise _invalid("data_type", "must be one of " + ", ".join(DATA_TYPES))
    return name.strip(), job_type, data_type


def _import_mapping(data_type: DataType, mapping: object) -> dict[str, str | None]:
    """Header → field (or null for a column left out); each field at most once."""
    if not isinstance(mapping, dict) or not mapping:
        raise _invalid("mapping", "must be an object of column header → field")
    seen: dict[str, str] = {}
    for header, field in mapping.items():
        if field is None or field == "":
            continue
        if field not in data_type.field_names:
            raise _invalid(f"mapping.{header}", f"names no {data_type.name} field: '{field}'")
        if field in seen:
            raise _invalid(
                f"mapping.{header}", f"maps '{field}', already mapped from '{seen[field]}'"
            )
        seen[field] = header
    return {str(h): (f or None) for h, f in mapping.items()}


def _export_options(data_type: DataType, options: object) -> dict[str, Any]:
    """Export options checked (and normalised) by the exports' own parser."""
    from crmferry.exports.options import options_to_json, parse_export_options

    if options is not None and not isinstance(options, dict):
        raise _invalid("options", "must be an object")
    return options_to_json(parse_export_options(data_type, options))
