"""What the rows of an import are matched with, besides their natural key: the record
an `id` column names (an earlier export of this organization) and the record a lookup
column names by another of its columns (a contact's owner by the member's name).

Both are joins of the one statement that builds `import_rows` (see `validate`), so no
row is looked up on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from crmferry.imports.cell_fit import UUID_PATTERN
from crmferry.imports.cell_rules import Check
from crmferry.records import DATA_TYPES, DataType, Lookup

ORG = "(SELECT crmferry_current_org())"
ID_PROBLEM = "is not a record id (the id column of an export of this organization)"

# the record of this organization the row's id names (NULL for an id that is not a
# UUID, or names a record deleted since, or one of another organization)
_BY_ID = """
LEFT JOIN {table} AS by_id ON by_id.organization_id = {org}
      AND by_id.id = CASE WHEN lower(r.id) ~ {pattern} THEN r.id::uuid END
"""

# every value of the lookup's column in this organization, with the one key it names
# (`matches` > 1: the value is ambiguous)
_LOOKUP = """
LEFT JOIN (SELECT lower(t.{column}::text) AS looked_up, min(t.{key}::text) AS found,
                  count(*) AS matches
             FROM {table} AS t WHERE t.organization_id = {org} GROUP BY 1) AS {alias}
       ON {alias}.looked_up = lower(r.{cell})
"""


def by_id_join(data_type: DataType) -> sql.Composable:
    return sql.SQL(_BY_ID).format(
        table=sql.Identifier(data_type.table), org=sql.SQL(ORG), pattern=sql.Literal(UUID_PATTERN)
    )


def id_checks(key_fields: tuple[str, ...], keyed: bool) -> list[Check]:
    """The row's id is a UUID, and names the record its key names, if any."""
    not_uuid = sql.SQL("r.id IS NOT NULL AND lower(r.id) !~ {}").format(sql.Literal(UUID_PATTERN))
    checks: list[Check] = [(not_uuid, ID_PROBLEM)]
    if keyed:
        key = " + ".join(key_fields)
        checks.append(
            (
                sql.SQL("by_id.id IS NOT NULL AND target.id IS NOT NULL AND by_id.id <> target.id"),
                f"names a record whose {key} differs, and another record has this row's {key}",
            )
        )
    return checks


@dataclass(frozen=True)
class LookupParts:
    """A mapped lookup's join, its checks, and the link field it fills."""

    join: sql.Composable
    checks: list[Check]
    fills: str
    value: sql.Composable


def lookup_parts(data_type: DataType, lookup: Lookup) -> LookupParts:
    link = data_type.link(lookup.link)
    target = DATA_TYPES.link_target(link.target)
    alias = sql.Identifier(f"lookup_{lookup.name}")
    join = sql.SQL(_LOOKUP).format(
        column=sql.Identifier(lookup.column),
        key=sql.Identifier(target.key[0]),
        table=sql.Identifier(target.table),
        org=sql.SQL(ORG),
        alias=alias,
        cell=sql.Identifier(lookup.name),
    )
    cell = sql.SQL("r.{}").format(sql.Identifier(lookup.name))
    matches = sql.SQL("coalesce({}.matches, 0)").format(alias)
    checks: list[Check] = [
        (sql.SQL("{} IS NOT NULL AND {} = 0").format(cell, matches), lookup.message),
        (
            sql.SQL("{} IS NOT NULL AND {} > 1").format(cell, matches),
            f"names several records by {lookup.column}: map a column to "
            f"{' and '.join(link.fields)} instead",
        ),
    ]
    value = sql.SQL("{}.found").format(alias)
    return LookupParts(join, checks, link.fields[0], value)
