"""Which values a field would refuse, asked of PostgreSQL with the import's own rules.

The suggestion looks at a sample of each column (does "Contact owner" hold e-mail
addresses, or names?), and a job's defaults and value maps are checked before the job
is created; both by the same cell rules the import applies (`cell_rules`), so that
what is suggested or accepted here is what the import will accept. A value fits a
decimal or date field when it reads with any decimal mark or date layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.cell_rules import CellContext, DateChoice, convert_cell
from crmferry.records import DATA_TYPES, DataType, Field, Lookup

DATE_LAYOUTS = ("YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY")
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

# the distinct values, trimmed and present, that {refused} holds for (each as `cell`)
_REFUSED = """
SELECT DISTINCT raw
  FROM (SELECT c.v AS raw, {cleaned} AS cell FROM unnest(%(values)s::text[]) AS c(v)) AS s
 WHERE cell IS NOT NULL AND ({refused})
 ORDER BY raw
"""

# a lookup's value must name exactly one record of its target by the lookup's column
_NOT_ONE = """
(SELECT count(*) FROM {table} AS t
  WHERE t.organization_id = crmferry_current_org() AND lower(t.{column}::text) = lower(cell)) <> 1
"""

CELL = sql.SQL("cell")


def refused_values(conn: Conn, field: Field, values: Sequence[str]) -> list[str]:
    """The values of `values` (as given) that `field`'s cell rule refuses under every
    decimal mark and date layout; empty cells are never refused."""
    variants = [
        CellContext(mark, DateChoice(layout))
        for mark, layout in product((".", ","), DATE_LAYOUTS if field.type == "date" else (None,))
    ]
    refusals: list[sql.Composable] = []
    for context in variants:
        checks = convert_cell(field, CELL, context).checks
        if not checks:
            return []  # a text field without a limit takes anything
        refusals.append(sql.SQL(" OR ").join(sql.SQL("({})").format(c) for c, _ in checks))
    refused = sql.SQL(" AND ").join(sql.SQL("({})").format(r) for r in refusals)
    return _refused(conn, values, refused, field)


def refused_by_lookup(
    conn: Conn, data_type: DataType, lookup: Lookup, values: Sequence[str]
) -> list[str]:
    """The values that name no record (or several) of the lookup's target."""
    target = DATA_TYPES.link_target(data_type.link(lookup.link).target)
    refused = sql.SQL(_NOT_ONE).format(
        table=sql.Identifier(target.table), column=sql.Identifier(lookup.column)
    )
    return _refused(conn, values, refused, None)


def refused_ids(conn: Conn, values: Sequence[str]) -> list[str]:
    """The values that are not record ids (UUIDs, as exports write them)."""
    refused = sql.SQL("lower(cell) !~ {}").format(sql.Literal(UUID_PATTERN))
    return _refused(conn, values, refused, None)


def _refused(
    conn: Conn, values: Sequence[str], refused: sql.Composable, field: Field | None
) -> list[str]:
    cleaned: sql.Composable = sql.SQL("crmferry_clean(c.v)")
    if field is not None and field.type == "email":
        cleaned = sql.SQL("lower({})").format(cleaned)
    query = sql.SQL(_REFUSED).format(cleaned=cleaned, refused=refused)
    # PostgreSQL text holds no NUL; the import drops it from cells as the staging does
    rows = conn.execute(query, {"values": [v.replace("\x00", "") for v in values]}).fetchall()
    return [row["raw"] for row in rows]


_PROBLEM = "SELECT CASE {branches} END AS problem FROM (SELECT {cleaned} AS cell) AS s"


def cell_problem(conn: Conn, field: Field, value: str, context: CellContext) -> str | None:
    """What the import would say of `value` in a cell of `field` read under `context`
    (the first check that holds), or None when it is accepted."""
    checks = convert_cell(field, CELL, context).checks
    if not checks:
        return None
    branches = sql.SQL(" ").join(
        sql.SQL("WHEN cell IS NOT NULL AND ({}) THEN {}").format(c, sql.Literal(m))
        for c, m in checks
    )
    cleaned: sql.Composable = sql.SQL("crmferry_clean(%(value)s::text)")
    if field.type == "email":
        cleaned = sql.SQL("lower({})").format(cleaned)
    query = sql.SQL(_PROBLEM).format(branches=branches, cleaned=cleaned)
    row = conn.execute(query, {"value": value.replace("\x00", "")}).fetchone()
    return None if row is None else row["problem"]
