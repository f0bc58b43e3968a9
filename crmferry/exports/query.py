"""The SELECT behind an export, composed with psycopg.sql.

Identifiers (table, columns) come only from the data-type description and are quoted
with `sql.Identifier`; filter values are always bound parameters. The record table is
aliased `r`; a linked record that an export-only field is read `through` is
`link_<name>` (a bid's contact, for `contact_name`), joined only when asked for.
Tenancy is row-level security: run the query in a tenant transaction (see
`crmferry.exports.snapshot`), and only that organization's rows exist for it.

Filter semantics: see `crmferry.exports.filters`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from psycopg import sql

from crmferry.exports.changes import changed_condition
from crmferry.exports.filters import Filter
from crmferry.exports.included import (
    csv_column_name,
    includable,
    lines_join,
    lines_json_expr,
    rollup_expr,
    rollups,
)
from crmferry.exports.options import ExportOptions, export_field
from crmferry.records import DATA_TYPES, DataType, Field, Link

# The record a link names, for the fields read through it.
LINK_JOIN = """
LEFT JOIN {table} AS {alias}
       ON {alias}.organization_id = r.organization_id AND {alias}.{id} = r.{link_id}
"""

COMPARISONS = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


@dataclass(frozen=True)
class Column:
    """One exported column: its description and its typed SQL expression."""

    field: Field
    expr: sql.Composable

    @property
    def name(self) -> str:
        return self.field.name


def column_expr(data_type: DataType, name: str) -> sql.Composable:
    """The SQL expression of field `name`: `r.<column>`, or the linked record's column
    for a field read through a link; KeyError for a name the description lacks."""
    through = export_field(data_type, name).through
    if through is None:
        return sql.Identifier("r", name)
    return sql.Identifier(_alias(through.link), through.column)


def export_columns(data_type: DataType, options: ExportOptions) -> list[Column]:
    """The selected columns, in the order the options list them (a derived field, such
    as a bid's amount from its lines, as its derivation)."""
    derived = rollups(data_type)
    columns = []
    for name in options.fields:
        expr = column_expr(data_type, name)
        if name in options.derived:
            expr = rollup_expr(derived[name], expr)
        columns.append(Column(export_field(data_type, name), expr))
    return columns


def included_row_columns(data_type: DataType, options: ExportOptions) -> list[Column]:
    """The columns of the included records when each is a row of its own (CSV), named
    `<included>.<field>`."""
    known = includable(data_type)
    return [
        Column(
            replace(f, name=csv_column_name(known[n], f)),
            sql.Identifier(known[n].alias, f.name),
        )
        for n in options.include
        for f in known[n].fields
    ]


def included_sheet_query(
    data_type: DataType, options: ExportOptions, name: str, select_list: Sequence[sql.Composable]
) -> tuple[sql.Composed, list[Any]]:
    """The included records `name` of the exported records (its own sheet), in the order
    of their key; `select_list` reads them as `i`."""
    included = includable(data_type)[name]
    exported, params = _compose(data_type, options, sql.SQL("r.id"), sql.SQL(""))
    query = sql.SQL(
        "SELECT {select} FROM {table} AS i WHERE i.{link_id} IN ({exported}) ORDER BY {order}"
    ).format(
        select=sql.SQL(", ").join(select_list),
        table=sql.Identifier(included.data_type.table),
        link_id=included.link_id,
        exported=exported,
        order=included.order("i"),
    )
    return query, params


def included_columns(data_type: DataType, name: str) -> list[Column]:
    """Every field of the included records `name`, read as `i`."""
    included = includable(data_type)[name]
    return [Column(f, sql.Identifier("i", f.name)) for f in included.data_type.fields]


def build_export_query(
    data_type: DataType,
    options: ExportOptions,
    select_list: Sequence[sql.Composable] | None = None,
    *,
    included_rows: bool = False,
) -> tuple[sql.Composed, list[Any]]:
    """`SELECT ... FROM ... WHERE ... ORDER BY ...` and its parameters.

    `select_list` replaces the default projection (each column `AS` its field name),
    so that writers can wrap columns (formula neutralisation, booleans as text).
    `included_rows`: one row per included record (CSV; `included_row_columns`).
    """
    if select_list is None:
        select_list = _aliased(export_columns(data_type, options))
    select = sql.SQL(", ").join(select_list)
    if not (included_rows and options.include):
        return _compose(data_type, options, select, sql.SQL(""))
    known = [includable(data_type)[n] for n in options.include]
    joins = sql.SQL(" ").join(lines_join(inc) for inc in known)
    then = [inc.order(inc.alias) for inc in known]
    return _compose(data_type, options, select, joins, order_after=then)


def build_json_export_query(
    data_type: DataType, options: ExportOptions
) -> tuple[sql.Composed, list[Any]]:
    """The export as one text column `json` of compact JSON objects, keys in field
    order, values typed (numbers, booleans, null; dates and times as ISO strings)."""
    return build_export_query(data_type, options, json_export_select_list(data_type, options))


def json_export_select_list(
    data_type: DataType, options: ExportOptions, *, utf8: bool = False, json_scalar: bool = False
) -> list[sql.Composable]:
    """The JSON Lines projection of the export: its fields, then each included kind of
    record as an array (`lines_json_expr`), under its name (`utf8`, `json_scalar`: see
    `json_select_list`)."""
    included = includable(data_type)
    arrays = [(n, lines_json_expr(included[n])) for n in options.include]
    columns = export_columns(data_type, options)
    return json_select_list(columns, arrays, utf8=utf8, json_scalar=json_scalar)


def json_select_list(
    columns: Sequence[Column],
    extra: Sequence[tuple[str, sql.Composable]] = (),
    *,
    utf8: bool = False,
    json_scalar: bool = False,
) -> list[sql.Composable]:
    """One compact JSON object per record, as text: `{"name":value,...}` with each value
    `to_json(v)` (what `row_to_json` writes for it, byte for byte: numbers as stored,
    dates and times ISO 8601 in the session's time zone, text escaped, a json value as
    it is) or `null`; `extra` adds (key, expression) pairs after the columns. A plain
    select list, unlike `row_to_json` over a LATERAL row, so that the split export
    (`build_split_export_queries`) takes it like the CSV one.

    The parts are joined with `||` (every one is non-NULL text), not `concat()`: concat
    looks up and calls an output function for each of its arguments on every row, and
    for 15 text fields that took a third of the export's time in the backend.

    `utf8`: the object as a bytea of its UTF-8 text (`convert_to`), which a binary COPY
    sends as it is, whatever the connection's client encoding.

    `json_scalar` (PostgreSQL 17 and later: `JSON_SCALAR_VERSION`): text columns through
    `JSON_SCALAR(v)`, the same bytes as `to_json(v)` (both escape the text alike) for
    about a tenth less of the backend's time, as it looks the type's output function up
    once per query rather than once per value. Other types keep `to_json` (JSON_SCALAR
    would turn a json value into a string)."""
    pairs = [(c.name, c.expr, c.field.sql_type == "text") for c in columns]
    pairs += [(name, expr, False) for name, expr in extra]
    parts: list[sql.Composable] = []
    for index, (name, expr, text) in enumerate(pairs):
        key = ("{" if index == 0 else ",") + json.dumps(name) + ":"
        function = "JSON_SCALAR" if json_scalar and text else "to_json"
        value = sql.SQL("COALESCE(" + function + "({})::text, 'null')").format(expr)
        parts += [sql.SQL("{}::text").format(sql.Literal(key)), value]
    parts.append(sql.SQL("{}::text").format(sql.Literal("}" if pairs else "{}")))
    line = sql.SQL(" || ").join(parts)
    if utf8:
        return [sql.SQL("convert_to({}, 'UTF8') AS json").format(line)]
    return [sql.SQL("({}) AS json").format(line)]


def _aliased(columns: Sequence[Column]) -> list[sql.Composable]:
    return [sql.SQL("{} AS {}").format(c.expr, sql.Identifier(c.name)) for c in columns]


def build_split_export_queries(
    data_type: DataType,
    options: ExportOptions,
    select_list: Sequence[sql.Composable],
    first_rows: int,
) -> tuple[tuple[sql.Composed, list[Any]], tuple[sql.Composed, list[Any]]]:
    """The export's SELECT as two queries whose rows, one after the other, are exactly
    its rows in its order (in one snapshot): the first `first_rows` rows (LIMIT), and
    the rest, from the sort key of row `first_rows + 1` on (a row comparison with a
    subquery: one InitPlan, then an index range scan, so the second query need not wait
    for the first to find where it starts).

    Only for a `splittable` sort: keys never NULL, one direction, ending with the unique
    id, so that a row comparison with a key splits the order in two contiguous ranges.
    """
    if not splittable(options):
        raise ValueError(f"the sort {options.sort} cannot be split into ranges")
    select = sql.SQL(", ").join(select_list)
    first, first_params = _compose(data_type, options, select, sql.SQL(""))
    keys = sql.SQL(", ").join(column_expr(data_type, key.field) for key in options.sort)
    start, start_params = _compose(data_type, options, keys, sql.SQL(""))
    rest = sql.SQL(
        "ROW({keys}) {op} ({start} OFFSET %s LIMIT 1)"  # the inner `r` is the subquery's own
    ).format(keys=keys, op=sql.SQL("<=" if options.sort[0].descending else ">="), start=start)
    second, second_params = _compose(data_type, options, select, sql.SQL(""), rest)
    return (
        (sql.SQL("{} LIMIT %s").format(first), [*first_params, first_rows]),
        (second, [*start_params, first_rows, *second_params]),
    )


JSON_SCALAR_VERSION = 170000  # the first server_version_num with SQL/JSON's JSON_SCALAR

# Sorts a large export may be split along: never-NULL keys ending with the unique id, in
# the order of every record table's (organization_id, created_at, id) index, so that
# each part is a range scan of it (another order would sort the table twice).
SPLITTABLE_SORTS = (("created_at", "id"),)


def splittable(options: ExportOptions) -> bool:
    """True when the export's order can be cut in contiguous ranges of its sort key."""
    if options.include:
        return False  # one row per included record: the parts would not be ranges
    fields = tuple(key.field for key in options.sort)
    directions = {key.descending for key in options.sort}
    return fields in SPLITTABLE_SORTS and len(directions) == 1


def _compose(
    data_type: DataType,
    options: ExportOptions,
    select: sql.Composable,
    lateral: sql.Composable,
    condition: sql.Composable | None = None,
    order_after: Sequence[sql.Composable] = (),
) -> tuple[sql.Composed, list[Any]]:
    """The SELECT; `condition`, when given, is ANDed to the filters (its parameters
    come before theirs: the caller lists them); `order_after` follows the sort keys."""
    conditions, params = _where(data_type, options.filters)
    if options.window is not None:
        conditions = [_changed(data_type, options), *conditions]
    if condition is not None:
        conditions = [condition, *conditions]
    query = sql.SQL(
        "SELECT {select} FROM {table} AS r {join} {lateral} WHERE {where} ORDER BY {order}"
    ).format(
        select=select,
        table=sql.Identifier(data_type.table),
        join=sql.Composed([_join(link) for link in _links_used(data_type, options)]),
        lateral=lateral,
        where=sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true"),
        order=sql.SQL(", ").join([_order_by(data_type, options), *order_after]),
    )
    return query, params


def _changed(data_type: DataType, options: ExportOptions) -> sql.Composable:
    """The records of the change window; with included records, also those whose
    included records changed (a bid whose lines did)."""
    assert options.window is not None
    own = changed_condition(options.window)
    known = includable(data_type)
    others = [
        sql.SQL(CHANGED_INCLUDED).format(
            table=sql.Identifier(known[n].data_type.table),
            link_id=known[n].link_id,
            changed=changed_condition(options.window, "i"),
        )
        for n in options.include
    ]
    return sql.SQL("({})").format(sql.SQL(" OR ").join([own, *others])) if others else own


# A record whose included records (a bid's lines) were written in the change window.
CHANGED_INCLUDED = "EXISTS (SELECT FROM {table} AS i WHERE i.{link_id} = r.id AND {changed})"


def _links_used(data_type: DataType, options: ExportOptions) -> list[Link]:
    """The links the fields, filters and sort read through, in the description's order."""
    used = {*options.fields, *(f.field for f in options.filters), *(k.field for k in options.sort)}
    fields = data_type.exportable_fields
    names = {t.link for n in used if (t := fields[n].through) is not None}
    return [link for link in data_type.links if link.name in names]


def _join(link: Link) -> sql.Composable:
    assert link.id_column is not None  # the registry allows `through` only such links
    target = DATA_TYPES.link_target(link.target)
    return sql.SQL(LINK_JOIN).format(
        table=sql.Identifier(target.table),
        alias=sql.Identifier(_alias(link.name)),
        id=sql.Identifier(target.id_column),
        link_id=sql.Identifier(link.id_column),
    )


def _alias(link_name: str) -> str:
    return f"link_{link_name}"


def _order_by(data_type: DataType, options: ExportOptions) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} DESC" if key.descending else "{}").format(column_expr(data_type, key.field))
        for key in options.sort
    )


def _where(
    data_type: DataType, filters: Sequence[Filter]
) -> tuple[list[sql.Composable], list[Any]]:
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    for flt in filters:
        field = export_field(data_type, flt.field)
        condition, values = _condition(field, column_expr(data_type, flt.field), flt)
        conditions.append(condition)
        params.extend(values)
    return conditions, params


def _condition(field: Field, expr: sql.Composable, flt: Filter) -> tuple[sql.Composable, list[Any]]:
    """One filter as SQL with `%s` placeholders, and the values they bind."""
    if flt.op == "is_null":
        return sql.SQL("{} IS NULL" if flt.value else "{} IS NOT NULL").format(expr), []
    if flt.op == "contains":
        # ::text: the id is a uuid column, searched by its text form like the rest
        return sql.SQL("{}::text ILIKE %s").format(expr), [contains_pattern(flt.value)]
    if field.type == "email":
        expr = sql.SQL("lower({})").format(expr)  # values were lower-cased when parsed
    if flt.op == "in":
        return sql.SQL("{} = ANY(%s)").format(expr), [[_param(field, v) for v in flt.value]]
    if flt.op == "ne":
        return sql.SQL("{} IS DISTINCT FROM %s").format(expr), [_param(field, flt.value)]
    operator = sql.SQL(COMPARISONS[flt.op])
    return sql.SQL("{} {} %s").format(expr, operator), [_param(field, flt.value)]


def _param(field: Field, value: Any) -> Any:
    """The value as the column's type binds it (ids as UUID, the rest already typed)."""
    return UUID(value) if field.sql_type == "uuid" else value


def contains_pattern(text: str) -> str:
    """The LIKE pattern of "contains `text`": its `%`, `_` and `\\` match only themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
