"""Validate and convert the staged cells set-based: one statement builds `import_rows`.

Every mapped field becomes a typed column (trimmed, empty → NULL, converted by the
rule of its field type in `cell_rules`) and a message when the cell is bad; what the
data type's description adds is read from it: composed fields, organization
defaults, and links (each mapped link joined to the record its values name, whose
id fills the link's column, or the cell is an error). A row's
messages are gathered in `errors` (text[], each "field<US>message"); a good row
has none. The same statement resolves each row's key to the record it matches
(`target_id`, NULL for a new row), before anything is written: the write then
joins on primary keys, and no plan can scan the table it is filling. Then two
checks that need the whole file or the database: a key repeated inside the file
(the later rows are errors) and, in insert mode, a key that already exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.cell_rules import Check, DateChoice
from crmferry.imports.columns import (
    Column,
    cell_of,
    cleaning,
    composed_value,
    field_columns,
    organization_value,
)
from crmferry.imports.mapping import RECORD_ID
from crmferry.imports.matching import ORG, by_id_join, id_checks, lookup_parts
from crmferry.imports.options import ImportOptions
from crmferry.imports.staging import RAW_TABLE
from crmferry.records import DATA_TYPES, TEXT_LIKE, DataType, Field, Link

__all__ = [
    "ORG",
    "ROWS_TABLE",
    "SEP",
    "DateChoice",
    "RowsPlan",
    "build_rows",
    "key_match",
    "staged_fields",
]

ROWS_TABLE = "import_rows"
SEP = "\x1f"  # between a field name and its message inside `errors`
WORK_MEM = "64MB"
# The organization, computed once per statement (an InitPlan): called per row, it
# was about a tenth of a million-row INSERT. (Defined with the other joins, in `matching`.)

# For this job's transaction only: room to hash and sort a whole file in memory, and no
# JIT compilation. Its cost is per statement, not per row (about 0.6 s for each of the
# three largest statements of an import on a server built with LLVM, a tenth of a
# 200,000-row import), and the row counts of a temporary table are guesses that set
# it off on statements that then run in milliseconds.
SET_PLANNING = "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)"

DROP_ROWS = "DROP TABLE IF EXISTS {rows}"

_BUILD_ROWS = """
CREATE TEMP TABLE {rows} ON COMMIT DROP AS
SELECT b.row_number, {kept_columns}, b.target_id, b.errors, {unchanged} AS unchanged
  FROM (SELECT r.row_number, {columns}, {target_id} AS target_id,
               array_remove(ARRAY[{checks}]::text[], NULL) AS errors, {old_columns}
          FROM (SELECT raw.row_number, {cleaned} FROM {raw} AS raw OFFSET 0) AS r {joins}
        OFFSET 0) AS b
"""
# OFFSET 0 keeps the cleaning in its own step: each cell is trimmed (and an
# e-mail lower-cased) once, not once per expression that reads it; the second keeps
# each typed value computed once, for its column and for the comparison that reads it.
# `unchanged`: the row's update would leave its record as it is (its values as the
# record had them when validated). The write skips such rows without joining the
# record again: the join that found the record has read its values already, and a
# second hash of a million records was a sixth of a re-import.

# The record a mapped link names (see records/links.py), matched on its target's key.
_LINK_JOIN = "LEFT JOIN {table} AS {alias} ON {match}"

# The record a row's key matches (NULL keys never match).
_TARGET = "LEFT JOIN {table} AS target ON {match}"

_ANALYZE = "ANALYZE {rows} ({columns})"

# Later rows that repeat a key seen earlier in the file. One pass groups the keys; a
# file without repeats leaves the join nothing to hash, and the rows are not read again.
_MARK_REPEATED_KEYS = """
UPDATE {rows} AS r
   SET errors = r.errors || ({key_name} || {sep} || 'repeats row ' || d.first_row
                              || ' of this file (a key may appear only once)')
  FROM (SELECT {keys}, min(row_number) AS first_row FROM {rows} WHERE {present}
         GROUP BY {keys} HAVING count(*) > 1) AS d
 WHERE ({row_keys}) = ({repeated_keys}) AND d.first_row < r.row_number
"""

_MARK_EXISTING_KEYS = """
UPDATE {rows}
   SET errors = errors
                || ({key_name} || {sep} || 'already exists (insert mode adds new records only)')
 WHERE target_id IS NOT NULL AND cardinality(errors) = 0
"""

# Later rows that name (by id or key) the record an earlier good row names.
_MARK_REPEATED_TARGETS = """
UPDATE {rows} AS r
   SET errors = r.errors || ('id' || {sep} || 'names the record of row ' || d.first_row
                             || ' of this file (a record may be written once)')
  FROM (SELECT row_number, min(row_number) OVER (PARTITION BY target_id) AS first_row
          FROM {rows} WHERE target_id IS NOT NULL AND cardinality(errors) = 0) AS d
 WHERE d.row_number = r.row_number AND d.first_row < r.row_number
"""


@dataclass
class RowsPlan:
    """What the built `import_rows` table holds and how it matches the target table.

    A column's update may differ from its insert (a default only for new records, or
    `blank_cells: keep`): it is then written on update from `update_sources[column]`
    (another column of `import_rows`), and a column in `kept` keeps the record's value
    where that source is NULL.
    """

    data_type: DataType
    update_columns: list[str]  # written on update: the mapped (and composed, linked) fields
    insert_columns: list[str]  # written on insert: the above plus insert-only defaults
    by_id: bool = False  # an `id` column is mapped: rows match by it first
    update_sources: dict[str, str] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)

    def update_value(self, column: str, row: str, old: sql.Composable) -> sql.Composable:
        """What an update writes into `column` from the row aliased `row`: the row's
        value (its update value when that differs), or, for a kept column whose value is
        NULL (a blank cell under `blank_cells: keep`), the record's own (`old`)."""
        value = sql.Identifier(row, self.update_sources.get(column, column))
        if column in self.kept:
            return sql.SQL("coalesce({}, {})").format(value, old)
        return value

    @property
    def keys(self) -> tuple[str, ...]:
        return self.data_type.key_fields

    @property
    def keyed(self) -> bool:
        """True when every key field is mapped, so that rows can match records by key."""
        return all(k in self.update_columns for k in self.keys)

    @property
    def matches(self) -> bool:
        """True when rows can match records (by key or by id)."""
        return self.keyed or self.by_id


def key_match(alias: str, pairs: Iterable[tuple[str, sql.Composable, bool]]) -> sql.Composable:
    """`alias` (a row of this organization) is the record whose columns equal the values:
    each pair is (column, value, folded); a folded column is compared as `lower(column)`
    with a value already lower-cased (NULL matches nothing)."""
    a = sql.Identifier(alias)
    parts: list[sql.Composable] = [sql.SQL("{}.organization_id = {}").format(a, sql.SQL(ORG))]
    for column, value, folded in pairs:
        template = "lower({}.{}) = {}" if folded else "{}.{} = {}"
        parts.append(sql.SQL(template).format(a, sql.Identifier(column), value))
    return sql.SQL(" AND ").join(parts)


def _key_pairs(
    columns: Iterable[str], fields: Iterable[Field], typed: Mapping[str, sql.Composable], ci: bool
) -> list[tuple[str, sql.Composable, bool]]:
    """(column, typed value, folded) for a key match; a case-insensitive key folds its text
    fields (e-mail cells are lower-cased when cleaned, the others here)."""
    pairs: list[tuple[str, sql.Composable, bool]] = []
    for column, f in zip(columns, fields, strict=True):
        folded = ci and f.type in TEXT_LIKE
        value = typed[f.name]
        if folded and f.type != "email":
            value = sql.SQL("lower({})").format(value)
        pairs.append((column, value, folded))
    return pairs


def staged_fields(fields: list[str], options: ImportOptions) -> list[str]:
    """The staging table's columns: the mapped fields, then each field with a default
    that no column is mapped to (staged empty, so its default fills it like a blank cell)."""
    return [*fields, *(name for name in options.defaults if name not in fields)]


def build_rows(
    conn: Conn, data_type: DataType, fields: list[str], options: ImportOptions
) -> RowsPlan:
    """Create `import_rows` from the staging table (its columns: `staged_fields`) and
    mark every bad cell and row."""
    conn.execute(SET_PLANNING, [WORK_MEM])
    staged = staged_fields(fields, options)
    names = [n for n in staged if n in data_type.field_names]
    mapped = [data_type.field(n) for n in names]
    lookups = [data_type.lookup(n) for n in staged if n in {k.name for k in data_type.lookups}]
    by_id = RECORD_ID in staged
    keyed = all(k in names for k in data_type.key_fields)
    target = _target_expression(keyed, by_id)
    links = [k for k in data_type.links if all(f in names for f in k.fields)]
    columns: list[Column] = []
    for f in mapped:
        checks = _link_check(data_type, f, links)
        columns += field_columns(conn, f, names, fields, options, checks, target)
    typed = {c.name: c.value for c in columns}
    joins = [_link_join(data_type, link, typed) for link in links]
    kept_target = target if options.blank_cells == "keep" else None
    extra, insert_only = _derived_columns(data_type, names, links, kept_target)
    if not options.defaults_on_update:
        insert_only |= {n for n in names if n not in fields}
    for lookup in lookups:
        parts = lookup_parts(data_type, lookup)
        joins.append(parts.join)
        sql_type = sql.SQL(data_type.field(parts.fills).sql_type)
        found = sql.SQL("({})::{}").format(parts.value, sql_type)
        filled = [c for c in columns if c.name in (parts.fills, f"update:{parts.fills}")]
        for column in filled:  # the field has a default: it fills a blank lookup cell
            column.value = sql.SQL("coalesce({}, {})").format(found, column.value)
        if not filled:
            extra.append(Column(parts.fills, found, []))
        extra.append(Column(f"lookup:{lookup.name}", sql.NULL, parts.checks, written=False))
    if by_id:
        checks = id_checks(data_type.key_fields, keyed)
        extra.append(Column("match:id", sql.SQL("by_id.id"), checks, written=False))
    all_columns = columns + extra
    plan = _plan(data_type, all_columns, insert_only, by_id, options)
    if keyed:
        key = [data_type.field(k) for k in plan.keys]
        pairs = _key_pairs(plan.keys, key, typed, data_type.key_case_insensitive)
        joins.append(
            sql.SQL(_TARGET).format(
                table=sql.Identifier(data_type.table), match=key_match("target", pairs)
            )
        )
    if by_id:
        joins.append(by_id_join(data_type))
    cleaned = [cleaning(f, options) for f in mapped]
    cleaned += [
        sql.SQL("crmferry_clean(raw.{0}) AS {0}").format(sql.Identifier(k.name)) for k in lookups
    ]
    if by_id:
        cleaned.append(sql.SQL("crmferry_clean(raw.id) AS id"))
    written = [c for c in all_columns if c.written]
    statement = sql.SQL(_BUILD_ROWS).format(
        rows=sql.Identifier(ROWS_TABLE),
        raw=sql.Identifier(RAW_TABLE),
        columns=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(c.value, sql.Identifier(c.name)) for c in written
        ),
        kept_columns=sql.SQL(", ").join(sql.Identifier("b", c.name) for c in written),
        **_unchanged_parts(plan, keyed),
        checks=sql.SQL(", ").join(_check_expression(c) for c in all_columns) or sql.SQL("NULL"),
        cleaned=sql.SQL(", ").join(cleaned) if cleaned else sql.SQL("NULL AS nothing"),
        joins=sql.SQL(" ").join(joins),
        target_id=target,
    )
    conn.execute(sql.SQL(DROP_ROWS).format(rows=sql.Identifier(ROWS_TABLE)))
    conn.execute(statement)
    if plan.matches:
        _analyze(conn, plan)
    if plan.keyed:
        _check_keys(conn, plan, options)
    if by_id:
        marked = sql.SQL(_MARK_REPEATED_TARGETS).format(
            rows=sql.Identifier(ROWS_TABLE), sep=sql.Literal(SEP)
        )
        conn.execute(marked)
        if options.mode == "insert" and not plan.keyed:
            _mark_existing(conn, plan)
    return plan


def _unchanged_parts(plan: RowsPlan, keyed: bool) -> dict[str, sql.Composable]:
    """The record's values as the row's joins read them (`old:column`, from the record
    the row's id names, else the one its key names), and the rows compared for
    `unchanged`: the record's values and what the update would write."""
    columns = plan.update_columns if plan.matches else []
    if not columns:  # no row can match a record
        return {"old_columns": sql.SQL('NULL AS "old:"'), "unchanged": sql.SQL("false")}
    olds = {n: sql.Identifier("b", f"old:{n}") for n in columns}
    old = sql.SQL(", ").join(olds.values())
    new = sql.SQL(", ").join(plan.update_value(n, "b", olds[n]) for n in columns)
    return {
        "old_columns": sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(_record_value(plan, keyed, n), sql.Identifier(f"old:{n}"))
            for n in columns
        ),
        "unchanged": sql.SQL(
            "b.target_id IS NOT NULL AND ROW({}) IS NOT DISTINCT FROM ROW({})"
        ).format(old, new),
    }


def _record_value(plan: RowsPlan, keyed: bool, column: str) -> sql.Composable:
    """`column` of the record the row matches (see `_target_expression`)."""
    if keyed and plan.by_id:
        return sql.SQL("CASE WHEN by_id.id IS NOT NULL THEN by_id.{0} ELSE target.{0} END").format(
            sql.Identifier(column)
        )
    return sql.Identifier("by_id" if plan.by_id else "target", column)


def _target_expression(keyed: bool, by_id: bool) -> sql.Composable:
    """The record a row matches: the one its id names, else the one its key names."""
    if keyed and by_id:
        return sql.SQL("coalesce(by_id.id, target.id)")
    if by_id:
        return sql.SQL("by_id.id")
    return sql.SQL("target.id" if keyed else "NULL::uuid")


def _plan(
    data_type: DataType,
    columns: list[Column],
    insert_only: set[str],
    by_id: bool,
    options: ImportOptions,
) -> RowsPlan:
    written = [c.name for c in columns if c.written and ":" not in c.name]
    sources = {c.name.split(":", 1)[1]: c.name for c in columns if c.name.startswith("update:")}
    update = [n for n in written if n not in insert_only]
    # under `keep` a NULL update value is a blank cell (a mapped field's update value,
    # a name composed of blank parts, a link or lookup left blank): the record keeps its own
    kept = set(update) if options.blank_cells == "keep" else set()
    return RowsPlan(
        data_type,
        update_columns=update,
        insert_columns=written,
        by_id=by_id,
        update_sources=sources,
        kept=kept,
    )


def _analyze(conn: Conn, plan: RowsPlan) -> None:
    """Statistics of the columns the key checks and the write select by, so that they
    are planned from real row counts, not a guess (a re-import selects no row to write)."""
    columns = [*plan.keys] if plan.keyed else []
    names = sql.SQL(", ").join(sql.Identifier(n) for n in [*columns, "target_id", "unchanged"])
    conn.execute(sql.SQL(_ANALYZE).format(rows=sql.Identifier(ROWS_TABLE), columns=names))


def _check_keys(conn: Conn, plan: RowsPlan, options: ImportOptions) -> None:
    """Mark keys repeated in the file and, in insert mode, keys that exist already."""
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in plan.keys)
    key_name, sep = sql.Literal(plan.keys[0]), sql.Literal(SEP)
    present = sql.SQL(" AND ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(k)) for k in plan.keys
    )
    repeated = sql.SQL(_MARK_REPEATED_KEYS).format(
        rows=sql.Identifier(ROWS_TABLE),
        keys=keys,
        row_keys=sql.SQL(", ").join(sql.Identifier("r", k) for k in plan.keys),
        repeated_keys=sql.SQL(", ").join(sql.Identifier("d", k) for k in plan.keys),
        present=present,
        key_name=key_name,
        sep=sep,
    )
    conn.execute(repeated)
    if options.mode == "insert":
        _mark_existing(conn, plan)


def _mark_existing(conn: Conn, plan: RowsPlan) -> None:
    key_name = sql.Literal(plan.keys[0] if plan.keyed else RECORD_ID)
    existing = sql.SQL(_MARK_EXISTING_KEYS).format(
        rows=sql.Identifier(ROWS_TABLE), key_name=key_name, sep=sql.Literal(SEP)
    )
    conn.execute(existing)


def _alias(link: Link) -> str:
    return f"link_{link.name}"


def _link_join(
    data_type: DataType, link: Link, typed: Mapping[str, sql.Composable]
) -> sql.Composable:
    """The join to the record a link's (typed) values name."""
    target = DATA_TYPES.link_target(link.target)
    fields = [data_type.field(f) for f in link.fields]
    pairs = _key_pairs(target.key, fields, typed, target.key_case_insensitive)
    match = key_match(_alias(link), pairs)
    return sql.SQL(_LINK_JOIN).format(
        table=sql.Identifier(target.table), alias=sql.Identifier(_alias(link)), match=match
    )


def _link_check(data_type: DataType, field: Field, links: list[Link]) -> list[Check]:
    """A present cell of a link's first field must, with the link's other fields, name
    a record (the link's other fields present too)."""
    checks: list[Check] = []
    for link in links:
        if link.fields[0] != field.name:
            continue
        target = DATA_TYPES.link_target(link.target)
        missing = sql.SQL("{}.{} IS NULL").format(
            sql.Identifier(_alias(link)), sql.Identifier(target.id_column)
        )
        others = [sql.SQL("{} IS NOT NULL").format(cell_of(f)) for f in link.fields[1:]]
        checks.append((sql.SQL(" AND ").join([*others, missing]), link.message))
    return checks


def _derived_columns(
    data_type: DataType, fields: list[str], links: list[Link], kept_target: sql.Composable | None
) -> tuple[list[Column], set[str]]:
    """Columns that are not one mapped cell: composed fields, the ids links fill, and
    organization defaults of unmapped fields (written when a record is created, never
    on update: an unmapped field is never touched). With `kept_target` (blank cells
    kept) a composed field is required of new records only."""
    extra: list[Column] = []
    insert_only: set[str] = set()
    for f in data_type.importable_fields:
        if f.name in fields:
            continue
        composed = composed_value(f, fields)
        if composed is not None:
            typed = sql.SQL("({})::{}").format(composed, sql.SQL(f.sql_type))
            missing = sql.SQL("{} IS NULL").format(composed)
            if kept_target is not None:
                missing = sql.SQL("{} AND {} IS NULL").format(missing, kept_target)
            required: Check = (missing, _composed_required(data_type, f))
            checks = [required]
            extra.append(Column(f.name, typed, checks if f.required else []))
        elif f.organization_default is not None:
            value = sql.SQL("({})::{}").format(organization_value(f), sql.SQL(f.sql_type))
            extra.append(Column(f.name, value, []))
            insert_only.add(f.name)
    for link in links:
        if link.id_column is not None:
            target = DATA_TYPES.link_target(link.target)
            linked = sql.Identifier(_alias(link), target.id_column)
            extra.append(Column(link.id_column, linked, []))
    return extra, insert_only


def _composed_required(data_type: DataType, f: Field) -> str:
    parts = [data_type.field(p).label.lower() for p in f.composed_from]
    return f"is required (no {f.label.lower()}, {' or '.join(parts)} given)"


def _reported(column: Column) -> str:
    """The mapped name a column's errors are reported on ("lookup:owner_name" → owner_name)."""
    return column.name.rsplit(":", 1)[-1]


def _check_expression(column: Column) -> sql.Composable:
    if not column.checks:
        return sql.SQL("NULL")
    branches = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(cond, sql.Literal(_reported(column) + SEP + message))
        for cond, message in column.checks
    )
    return sql.SQL("CASE {} END").format(branches)
