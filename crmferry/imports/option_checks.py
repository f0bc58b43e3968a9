"""An import's defaults and value maps checked against its data type, before the job
exists: each value is read by the cell rule of its field (`cell_fit`), and a default
of a linked field must name a record, so that a bad one is a 422 naming it
(`options.defaults.status`, `options.value_maps.status.Subscriber`), not a file of
row errors later."""

from __future__ import annotations

from psycopg import sql

from crmferry.db import Conn
from crmferry.errors import ValidationFailed
from crmferry.imports.cell_fit import cell_problem
from crmferry.imports.cell_rules import CellContext, DateChoice
from crmferry.imports.options import ImportOptions
from crmferry.records import DATA_TYPES, DataType, Field

# a linked record with this key in the current organization
_NAMES_RECORD = """
SELECT EXISTS (SELECT FROM {table} AS t
                WHERE t.organization_id = crmferry_current_org() AND {match}) AS found
"""


def check_options_fit(conn: Conn, data_type: DataType, options: ImportOptions) -> None:
    """ValidationFailed listing every default and value-map entry the data type refuses."""
    errors: list[dict[str, object]] = []
    context = _context(options)
    for name, value in options.defaults.items():
        where = f"options.defaults.{name}"
        f = _field(data_type, name)
        problem = _default_problem(conn, data_type, f, name, value, context)
        if problem:
            errors.append({"field": where, "message": problem})
    for name, values in options.value_maps.items():
        f = _field(data_type, name)
        if f is None:
            errors.append({"field": f"options.value_maps.{name}", "message": _unknown(data_type)})
            continue
        for theirs, ours in values.items():
            problem = cell_problem(conn, f, ours, context) if ours.strip() else None
            if problem:
                where = f"options.value_maps.{name}.{theirs}"
                errors.append({"field": where, "message": f"'{ours}' {problem}"})
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(
            f"The import options do not fit {data_type.name}: "
            f"{first['field']} {first['message']}{more}.",
            errors,
        )


def _context(options: ImportOptions) -> CellContext:
    """How a default is read: the import's decimal mark; its date format, or ISO dates
    when the format is `auto` (a default has no column to tell the layout from)."""
    layout = "YYYY-MM-DD" if options.date_format == "auto" else options.date_format
    return CellContext(options.decimal, DateChoice(layout))


def _field(data_type: DataType, name: str) -> Field | None:
    return next((f for f in data_type.importable_fields if f.name == name), None)


def _unknown(data_type: DataType) -> str:
    names = ", ".join(f.name for f in data_type.importable_fields)
    return f"is not one of the {data_type.name} fields ({names})"


def _default_problem(
    conn: Conn,
    data_type: DataType,
    f: Field | None,
    name: str,
    value: str,
    context: CellContext,
) -> str | None:
    if f is None:
        return _unknown(data_type)
    if f.key:
        return "is the key: a default would give every row the same one"
    if not value.strip():
        return "must not be empty (leave the field out instead)"
    problem = cell_problem(conn, f, value, context)
    if problem:
        return f"'{value}' {problem}"
    for link in data_type.links:
        if link.fields == (name,) and not _names_record(conn, link.target, link.key[0], value):
            return f"'{value}' {link.message}"
    return None


def _names_record(conn: Conn, target_name: str, key: str, value: str) -> bool:
    target = DATA_TYPES.link_target(target_name)
    column = sql.Identifier("t", key)
    template = "lower({}) = lower({})" if target.key_case_insensitive else "{} = {}"
    match = sql.SQL(template).format(column, sql.Literal(value.strip()))
    query = sql.SQL(_NAMES_RECORD).format(table=sql.Identifier(target.table), match=match)
    row = conn.execute(query).fetchone()
    return bool(row and row["found"])
