"""A field's column in `import_rows`: its cleaned cell, typed value and checks, and what a
blank cell becomes (a composed value, the import's default, the organization's or the
field's own; on update per `defaults_on_update` and `blank_cells`). `validate` puts the
columns together into the one statement that builds the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.cell_rules import CellContext, Check, DateChoice, convert_cell
from crmferry.imports.options import ImportOptions
from crmferry.imports.staging import RAW_TABLE
from crmferry.records import Field

DATE_LAYOUTS = ("YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY")

_DATE_FIT = """
SELECT count(v) AS present,
       count(crmferry_parse_date(v, 'YYYY-MM-DD')) AS "YYYY-MM-DD",
       count(crmferry_parse_date(v, 'MM/DD/YYYY')) AS "MM/DD/YYYY",
       count(crmferry_parse_date(v, 'DD/MM/YYYY')) AS "DD/MM/YYYY"
  FROM (SELECT crmferry_clean({column}) AS v FROM {table}) AS cells
"""

# A field's value from the organization (a bid's currency), computed once per statement.
_ORGANIZATION_VALUE = "(SELECT {column} FROM organizations WHERE id = crmferry_current_org())"


@dataclass
class Column:
    name: str
    value: sql.Composable
    checks: list[Check]
    written: bool = True  # False: only checked (an id, a lookup's own cell)


def composed_value(f: Field, fields: list[str]) -> sql.Composable | None:
    """The value composed from the mapped parts of `f` (a contact's first and last name)."""
    parts = [p for p in f.composed_from if p in fields]
    if not parts:
        return None
    joined = sql.SQL(", ").join(cell_of(p) for p in parts)
    return sql.SQL("nullif(concat_ws(' ', {}), '')").format(joined)


def organization_value(f: Field) -> sql.Composable:
    assert f.organization_default is not None
    return sql.SQL(_ORGANIZATION_VALUE).format(column=sql.Identifier(f.organization_default))


def cleaning(f: Field, options: ImportOptions) -> sql.Composable:
    """A staged cell trimmed, empty as NULL, rewritten by the field's value map (their
    values trimmed and case-folded; a value mapped to "" is blank); e-mail addresses
    lower-cased."""
    column = sql.Identifier(f.name)
    cleaned: sql.Composable = sql.SQL("crmferry_clean(raw.{})").format(column)
    value_map = options.value_maps.get(f.name)
    if value_map:
        folded = {k.strip().casefold(): v.strip() for k, v in value_map.items()}
        cleaned = sql.SQL("nullif(coalesce({}::jsonb ->> lower({}), {}), '')").format(
            sql.Literal(json.dumps(folded)), cleaned, cleaned
        )
    if f.type == "email":
        cleaned = sql.SQL("lower({})").format(cleaned)
    return sql.SQL("{} AS {}").format(cleaned, column)


def cell_of(name: str) -> sql.Composable:
    """The cleaned cell of a mapped field (see `cleaning`)."""
    return sql.SQL("r.{}").format(sql.Identifier(name))


def field_columns(
    conn: Conn,
    f: Field,
    names: list[str],
    mapped: list[str],
    options: ImportOptions,
    link_checks: list[Check],
    target: sql.Composable,
) -> list[Column]:
    """A field's typed value for a new record, the checks of its cell (see `cell_rules`),
    and, when an update writes something else, its value for an existing record.

    A blank cell becomes: the value composed from the row's parts, else the option's
    default, else the organization's or field's default. On update the option's
    default only with `defaults_on_update`; with `blank_cells: keep`, no fallback at
    all (NULL: the record keeps its value). A field with a default and no column
    (`staged_fields`) is written on update only with `defaults_on_update`.
    """
    cell = cell_of(f.name)
    date = resolve_date_format(conn, f.name, options) if f.type == "date" else None
    context = CellContext(options.decimal, date)
    converted = convert_cell(f, cell, context)
    # a present cell is checked by type; an absent one only for being required
    guarded: list[Check] = [
        (sql.SQL("{} IS NOT NULL AND ({})").format(cell, cond), message)
        for cond, message in [*converted.checks, *link_checks]
    ]
    composed, fallback = composed_value(f, names), fallback_default(f)
    default = _option_default(f, options, context)
    sql_type = sql.SQL(f.sql_type)
    new_value = _coalesce(converted.value, composed, default, fallback)
    typed = sql.SQL("({})::{}").format(new_value, sql_type)
    keep = options.blank_cells == "keep"
    if f.required:
        # kept on update: an existing record has its value already
        missing = sql.SQL("{} IS NULL AND {} IS NULL").format(typed, target) if keep else None
        guarded.append((missing or sql.SQL("{} IS NULL").format(typed), "is required"))
    columns = [Column(f.name, typed, guarded)]
    on_update = default if options.defaults_on_update else None
    if f.name not in mapped and on_update is None:
        return columns  # written on insert only (see `_derived_columns`' insert_only)
    if keep or (default is not None and on_update is None):
        value = _coalesce(converted.value, composed, on_update, None if keep else fallback)
        columns.append(Column(f"update:{f.name}", sql.SQL("({})::{}").format(value, sql_type), []))
    return columns


def _coalesce(*values: sql.Composable | None) -> sql.Composable:
    present = [v for v in values if v is not None]
    if len(present) == 1:
        return present[0]
    return sql.SQL("coalesce({})").format(sql.SQL(", ").join(present))


def _option_default(
    f: Field, options: ImportOptions, context: CellContext
) -> sql.Composable | None:
    """The import's default for `f`, converted by the field's rule (checked when the job
    was created: `option_checks`)."""
    if f.name not in options.defaults:
        return None
    if f.type == "date":
        layout = options.date_format if options.date_format != "auto" else "YYYY-MM-DD"
        context = CellContext(options.decimal, DateChoice(layout))
    literal: sql.Composable = sql.Literal(options.defaults[f.name].strip())
    if f.type == "email":
        literal = sql.SQL("lower({})").format(literal)
    return convert_cell(f, sql.SQL("{}::text").format(literal), context).value


def fallback_default(f: Field) -> sql.Composable | None:
    """What an empty cell becomes: the organization's value, else the field's default."""
    if f.organization_default is not None:
        return organization_value(f)
    return sql.Literal(f.default) if f.default is not None else None


def resolve_date_format(conn: Conn, name: str, options: ImportOptions) -> DateChoice:
    """The chosen layout, or for `auto` the one the whole column fits.

    Auto never guesses: when both MM/DD/YYYY and DD/MM/YYYY read every value
    (all days ≤ 12) the column's cells are errors asking for a date_format.
    """
    if options.date_format != "auto":
        return DateChoice(options.date_format)
    query = sql.SQL(_DATE_FIT).format(column=sql.Identifier(name), table=sql.Identifier(RAW_TABLE))
    fit = conn.execute(query).fetchone()
    assert fit is not None
    present = fit["present"]
    if present == 0:
        return DateChoice("YYYY-MM-DD")
    best = max(fit[layout] for layout in DATE_LAYOUTS)
    leaders = [layout for layout in DATE_LAYOUTS if fit[layout] == best]
    if best == 0:
        return DateChoice(None, "is not a date (expected YYYY-MM-DD, MM/DD/YYYY or DD/MM/YYYY)")
    if len(leaders) > 1:
        return DateChoice(
            None,
            "is ambiguous: the column reads as both MM/DD/YYYY and DD/MM/YYYY; "
            "choose the date_format option",
        )
    return DateChoice(leaders[0])
