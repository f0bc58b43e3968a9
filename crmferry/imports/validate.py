"""Validate and convert the staged cells set-based: one statement builds `import_rows`.

Every mapped field becomes a typed column (trimmed, empty → NULL, parsed by the
cell parsers of migration 0006) and a message when the cell is bad. A row's
messages are gathered in `errors` (text[], each "field<US>message"); a good row
has none. The same statement resolves each row's key to the record it matches
(`target_id`, NULL for a new row), before anything is written: the write then
joins on primary keys, and no plan can scan the table it is filling. Then two
checks that need the whole file or the database: a key repeated inside the file
(the later rows are errors) and, in insert mode, a key that already exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.mapping import COMPOSED
from crmferry.imports.options import ImportOptions
from crmferry.imports.staging import RAW_TABLE
from crmferry.records import DataType, Field

ROWS_TABLE = "import_rows"
SEP = "\x1f"  # between a field name and its message inside `errors`
DATE_LAYOUTS = ("YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY")
WORK_MEM = "64MB"
# The organization, computed once per statement (an InitPlan): called per row, it
# was about a tenth of a million-row INSERT.
ORG = "(SELECT crmferry_current_org())"

_DATE_FIT = """
SELECT count(v) AS present,
       count(crmferry_parse_date(v, 'YYYY-MM-DD')) AS "YYYY-MM-DD",
       count(crmferry_parse_date(v, 'MM/DD/YYYY')) AS "MM/DD/YYYY",
       count(crmferry_parse_date(v, 'DD/MM/YYYY')) AS "DD/MM/YYYY"
  FROM (SELECT crmferry_clean({column}) AS v FROM {table}) AS cells
"""

_BUILD_ROWS = """
CREATE TEMP TABLE {rows} ON COMMIT DROP AS
SELECT r.row_number, {columns}, {target_id} AS target_id,
       array_remove(ARRAY[{checks}]::text[], NULL) AS errors
  FROM (SELECT raw.row_number, {cleaned} FROM {raw} AS raw OFFSET 0) AS r {joins}
"""
# OFFSET 0 keeps the cleaning in its own step: each cell is trimmed (and an
# e-mail lower-cased) once, not once per expression that reads it.

_CONTACT_LINK = """
LEFT JOIN contacts AS linked_contact
       ON linked_contact.organization_id = crmferry_current_org()
      AND lower(linked_contact.email) = r.contact_email
"""

_OWNER_LINK = """
LEFT JOIN (SELECT DISTINCT lower(u.email) AS email
             FROM users AS u JOIN memberships AS m ON m.user_id = u.id
            WHERE m.organization_id = crmferry_current_org()) AS owner
       ON owner.email = r.owner_email
"""

# Later rows that repeat a key seen earlier in the file.
_MARK_REPEATED_KEYS = """
UPDATE {rows} AS r
   SET errors = r.errors || ({key_name} || {sep} || 'repeats row ' || d.first_row
                              || ' of this file (a key may appear only once)')
  FROM (SELECT row_number, min(row_number) OVER (PARTITION BY {key}) AS first_row
          FROM {rows}
         WHERE {key} IN (SELECT {key} FROM {rows} WHERE {key} IS NOT NULL
                          GROUP BY {key} HAVING count(*) > 1)) AS d
 WHERE d.row_number = r.row_number AND d.first_row < r.row_number
"""

_MARK_EXISTING_KEYS = """
UPDATE {rows}
   SET errors = errors
                || ({key_name} || {sep} || 'already exists (insert mode adds new records only)')
 WHERE target_id IS NOT NULL AND cardinality(errors) = 0
"""

# The record a row's key matches (NULL keys never match).
_TARGET = "LEFT JOIN {table} AS target ON {match}"


@dataclass
class RowsPlan:
    """What the built `import_rows` table holds and how it matches the target table."""

    data_type: DataType
    update_columns: list[str]  # written on update: the mapped (and composed, linked) fields
    insert_columns: list[str]  # written on insert: the above plus insert-only defaults
    date_notes: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.data_type.key_field


def key_match(data_type: DataType, target: str, rows: str) -> sql.Composable:
    """`target` is the record whose natural key is the staged row's (`rows`) key."""
    t, r, key = sql.Identifier(target), sql.Identifier(rows), sql.Identifier(data_type.key_field)
    if data_type.key_case_insensitive:
        return sql.SQL("{t}.organization_id = {org} AND lower({t}.{k}) = {r}.{k}").format(
            t=t, r=r, k=key, org=sql.SQL(ORG)
        )
    return sql.SQL("{t}.organization_id = {org} AND {t}.{k} = {r}.{k}").format(
        t=t, r=r, k=key, org=sql.SQL(ORG)
    )


@dataclass
class _Column:
    name: str
    value: sql.Composable
    checks: list[tuple[sql.Composable, str]]


def build_rows(
    conn: Conn, data_type: DataType, fields: list[str], options: ImportOptions, currency: str
) -> RowsPlan:
    """Create `import_rows` from the staging table and mark every bad cell and row."""
    # room to hash and sort a whole file in memory, for this job's transaction only
    conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    date_formats = {
        f: resolve_date_format(conn, f, options)
        for f in fields
        if data_type.field(f).type == "date"
    }
    columns = [
        _column(
            data_type.field(f),
            options,
            date_formats.get(f),
            _LINK_CHECKS.get((data_type.name, f)),
            _composed(data_type, f, fields) or _default(data_type, f, currency),
        )
        for f in fields
    ]
    joins: list[sql.Composable] = []
    extra, insert_only = _derived_columns(data_type, fields, currency, joins)
    all_columns = columns + extra
    keyed = data_type.key_field in fields
    if keyed:
        match = key_match(data_type, "target", "r")
        joins.append(sql.SQL(_TARGET).format(table=sql.Identifier(data_type.table), match=match))
    statement = sql.SQL(_BUILD_ROWS).format(
        rows=sql.Identifier(ROWS_TABLE),
        raw=sql.Identifier(RAW_TABLE),
        columns=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(c.value, sql.Identifier(c.name)) for c in all_columns
        ),
        checks=sql.SQL(", ").join(_check_expression(c) for c in all_columns) or sql.SQL("NULL"),
        cleaned=sql.SQL(", ").join(_cleaned(data_type.field(f)) for f in fields),
        joins=sql.Composed(joins),
        target_id=sql.SQL("target.id" if keyed else "NULL::uuid"),
    )
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(ROWS_TABLE)))
    conn.execute(statement)
    written = [c.name for c in all_columns if c.name not in insert_only]
    plan = RowsPlan(
        data_type,
        update_columns=written,
        insert_columns=[c.name for c in all_columns],
        date_notes={f: d.note for f, d in date_formats.items() if d.note},
    )
    if plan.key in plan.update_columns:
        # the joins on the key that follow are planned from real row counts, not a guess
        conn.execute(
            sql.SQL("ANALYZE {} ({})").format(sql.Identifier(ROWS_TABLE), sql.Identifier(plan.key))
        )
        _mark_repeated_keys(conn, plan)
        if options.mode == "insert":
            _mark_existing_keys(conn, plan)
    return plan


# A mapped cell that must name something that exists (checked through a join).
_LINK_CHECKS = {
    ("bids", "contact_email"): (
        "linked_contact.id IS NULL",
        "matches no contact of this organization",
    ),
    ("contacts", "owner_email"): ("owner.email IS NULL", "is not a member of this organization"),
}


def _derived_columns(
    data_type: DataType, fields: list[str], currency: str, joins: list[sql.Composable]
) -> tuple[list[_Column], set[str]]:
    """Columns that are not one mapped cell: composed names, links, insert-only defaults
    (an unmapped currency is written when a bid is created, never on update)."""
    extra: list[_Column] = []
    insert_only: set[str] = set()
    for (type_name, target), _parts in COMPOSED.items():
        value = _composed(data_type, target, fields)
        if type_name == data_type.name and target not in fields and value is not None:
            message = "is required (no name, first or last name given)"
            extra.append(_Column(target, value, [(sql.SQL("{} IS NULL").format(value), message)]))
    if data_type.name == "bids" and "contact_email" in fields:
        joins.append(sql.SQL(_CONTACT_LINK))
        extra.append(_Column("contact_id", sql.SQL("linked_contact.id"), []))
    if data_type.name == "contacts" and "owner_email" in fields:
        joins.append(sql.SQL(_OWNER_LINK))
    if data_type.name == "bids" and "currency" not in fields:
        extra.append(_Column("currency", sql.SQL("{}::char(3)").format(sql.Literal(currency)), []))
        insert_only.add("currency")
    return extra, insert_only


def _composed(data_type: DataType, target: str, fields: list[str]) -> sql.Composable | None:
    """The value composed from other mapped cells (a contact's first and last name)."""
    parts = [p for p in COMPOSED.get((data_type.name, target), ()) if p in fields]
    if not parts:
        return None
    joined = sql.SQL(", ").join(_clean(p) for p in parts)
    return sql.SQL("nullif(concat_ws(' ', {}), '')").format(joined)


def _default(data_type: DataType, name: str, currency: str) -> sql.Composable | None:
    """An empty bid currency is the organization's."""
    if data_type.name == "bids" and name == "currency":
        return sql.Literal(currency)
    return None


def _cleaned(f: Field) -> sql.Composable:
    """A staged cell trimmed, empty as NULL; e-mail addresses lower-cased."""
    column = sql.Identifier(f.name)
    if f.type == "email":
        return sql.SQL("lower(crmferry_clean(raw.{})) AS {}").format(column, column)
    return sql.SQL("crmferry_clean(raw.{}) AS {}").format(column, column)


def _clean(name: str) -> sql.Composable:
    """The cleaned cell of a mapped field (see `_cleaned`)."""
    return sql.SQL("r.{}").format(sql.Identifier(name))


def _column(
    f: Field,
    options: ImportOptions,
    date: DateChoice | None,
    link: tuple[str, str] | None,
    fallback: sql.Composable | None,
) -> _Column:
    v = _clean(f.name)
    checks: list[tuple[sql.Composable, str]] = []
    value: sql.Composable
    mark = sql.Literal(options.decimal)
    if f.type == "email":
        value = v  # lower-cased when cleaned
        checks.append(
            (sql.SQL("NOT crmferry_email_ok({})").format(v), "is not a valid e-mail address")
        )
    elif f.type == "phone":
        value = v
        checks.append(
            (sql.SQL("NOT crmferry_phone_ok({})").format(v), "is not a valid phone number")
        )
    elif f.type == "integer":
        value = sql.SQL("crmferry_parse_integer({}, {})").format(v, mark)
        checks.append(
            (
                sql.SQL("{} IS NULL").format(value),
                f"is not a whole number (decimal mark '{options.decimal}')",
            )
        )
    elif f.type == "decimal":
        parsed = sql.SQL("crmferry_parse_decimal({}, {})").format(v, mark)
        value = sql.SQL("CASE WHEN abs(round({p}, 2)) < 1e10 THEN round({p}, 2) END").format(
            p=parsed
        )
        checks.append(
            (
                sql.SQL("{} IS NULL").format(parsed),
                f"is not a number (decimal mark '{options.decimal}')",
            )
        )
        checks.append(
            (sql.SQL("{} IS NULL").format(value), "is too large (at most 9,999,999,999.99)")
        )
    elif f.type == "date":
        assert date is not None
        if date.layout is None:
            value = sql.SQL("NULL::date")
            checks.append((sql.SQL("true"), date.problem))
        else:
            value = sql.SQL("crmferry_parse_date({}, {})").format(v, sql.Literal(date.layout))
            checks.append(
                (sql.SQL("{} IS NULL").format(value), f"is not a date in the format {date.layout}")
            )
    elif f.type == "boolean":
        value = sql.SQL("crmferry_parse_boolean({})").format(v)
        checks.append((sql.SQL("{} IS NULL").format(value), "is not yes/no, true/false or 1/0"))
    elif f.type == "enum":
        value = sql.SQL("lower({})").format(v)
        checks.append(
            (
                sql.SQL("lower({}) <> ALL({})").format(v, sql.Literal(list(f.choices))),
                "is not one of: " + ", ".join(f.choices),
            )
        )
    else:
        value = v
    if f.name == "currency":
        value = sql.SQL("upper({})").format(v)
        checks.append(
            (
                sql.SQL("{} !~ '^[A-Za-z]{{3}}$'").format(v),
                "is not a three-letter currency code (ISO 4217)",
            )
        )
    if f.max_length and f.type in ("text", "email", "phone"):
        checks.append(
            (
                sql.SQL("length({}) > {}").format(v, sql.Literal(f.max_length)),
                f"is longer than {f.max_length} characters",
            )
        )
    if link is not None:
        checks.append((sql.SQL(link[0]), link[1]))
    # a present cell is checked by type; an absent one only for being required
    guarded: list[tuple[sql.Composable, str]] = [
        (sql.SQL("{} IS NOT NULL AND ({})").format(v, cond), msg) for cond, msg in checks
    ]
    if fallback is not None:
        value = sql.SQL("coalesce({}, {})").format(value, fallback)
    if f.default is not None:
        value = sql.SQL("coalesce({}, {})").format(value, sql.Literal(f.default))
    typed = sql.SQL("({})::{}").format(value, sql.SQL(f.sql_type))
    if f.required:
        guarded.append((sql.SQL("{} IS NULL").format(typed), "is required"))
    return _Column(f.name, typed, guarded)


def _check_expression(column: _Column) -> sql.Composable:
    if not column.checks:
        return sql.SQL("NULL")
    branches = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(cond, sql.Literal(column.name + SEP + message))
        for cond, message in column.checks
    )
    return sql.SQL("CASE {} END").format(branches)


@dataclass(frozen=True)
class DateChoice:
    """The layout a date column is read with, or why none can be used."""

    layout: str | None
    problem: str = ""
    note: str = ""


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
    return DateChoice(leaders[0], note=f"{name} read as {leaders[0]}")


def _mark_repeated_keys(conn: Conn, plan: RowsPlan) -> None:
    conn.execute(
        sql.SQL(_MARK_REPEATED_KEYS).format(
            rows=sql.Identifier(ROWS_TABLE),
            key=sql.Identifier(plan.key),
            key_name=sql.Literal(plan.key),
            sep=sql.Literal(SEP),
        )
    )


def _mark_existing_keys(conn: Conn, plan: RowsPlan) -> None:
    conn.execute(
        sql.SQL(_MARK_EXISTING_KEYS).format(
            rows=sql.Identifier(ROWS_TABLE),
            key_name=sql.Literal(plan.key),
            sep=sql.Literal(SEP),
        )
    )
