"""Records an export includes with each of its own: a bid's lines (`include: ["items"]`),
and a field derived from them (`amount_from_items`), both read from the description
(a link's `included_as` and `rollup`, see `records/links.py`), never per type.

* JSON Lines: the included records as an array under their name, in key order.
* CSV: one row per included record, the exported record's columns repeated, the
  included ones after them named `<name>.<field>`; a record with none has one row
  with those columns empty.
* XLSX: the included records of the exported ones on a second sheet.

The derived field is the sum of the included records' field for a record that has
any (a bid without lines keeps its stored amount); it is derived at export time, so
the stored value is never changed by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from crmferry.records import DATA_TYPES, DataType, Field, Link

# The included records of the exported record `r`, as one JSON array in key order.
LINES_JSON = """
(SELECT coalesce(json_agg(row_to_json(c) ORDER BY {order}), '[]'::json)
   FROM (SELECT {columns} FROM {table} AS i WHERE i.{link_id} = r.id) AS c)
"""

# The sum of the included records' field, when there are any with a value.
ROLLUP = "coalesce((SELECT sum(i.{child}) FROM {table} AS i WHERE i.{link_id} = r.id), {own})"

# For CSV: the exported record's included records, one row each (none: one empty row).
LINES_JOIN = "LEFT JOIN {table} AS {alias} ON {alias}.{link_id} = r.id"


@dataclass(frozen=True)
class Included:
    """Records of `data_type` an export includes under `name` through `link`."""

    name: str
    data_type: DataType
    link: Link

    @property
    def alias(self) -> str:
        return f"included_{self.name}"

    @property
    def fields(self) -> tuple[Field, ...]:
        """Its own fields less those naming the exported record (repeated otherwise)."""
        return tuple(f for f in self.data_type.fields if f.name not in self.link.fields)

    @property
    def link_id(self) -> sql.Identifier:
        assert self.link.id_column is not None  # the registry lists only links keeping one
        return sql.Identifier(self.link.id_column)

    def order(self, alias: str) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(alias, k) for k in self.data_type.key_fields)


def includable(data_type: DataType) -> dict[str, Included]:
    """Name → what an export of `data_type` may include."""
    found = DATA_TYPES.included(data_type.name)
    return {name: Included(name, t, link) for name, (t, link) in found.items()}


def rollups(data_type: DataType) -> dict[str, Included]:
    """The fields of `data_type` an export may derive from included records → whence."""
    return {
        inc.link.rollup[0]: inc
        for inc in includable(data_type).values()
        if inc.link.rollup is not None
    }


def rollup_expr(included: Included, own: sql.Composable) -> sql.Composable:
    """The derived value of the exported record `r`, else its own (`own`)."""
    assert included.link.rollup is not None
    return sql.SQL(ROLLUP).format(
        child=sql.Identifier(included.link.rollup[1]),
        table=sql.Identifier(included.data_type.table),
        link_id=included.link_id,
        own=own,
    )


def lines_json_expr(included: Included) -> sql.Composable:
    """The JSON array of the included records of `r`."""
    columns = sql.SQL(", ").join(sql.Identifier("i", f.name) for f in included.fields)
    return sql.SQL(LINES_JSON).format(
        order=sql.SQL(", ").join(sql.Identifier("c", k) for k in _own_keys(included)),
        columns=columns,
        table=sql.Identifier(included.data_type.table),
        link_id=included.link_id,
    )


def lines_join(included: Included) -> sql.Composable:
    """The CSV join: one row per included record of `r`."""
    return sql.SQL(LINES_JOIN).format(
        table=sql.Identifier(included.data_type.table),
        alias=sql.Identifier(included.alias),
        link_id=included.link_id,
    )


def csv_column_name(included: Included, f: Field) -> str:
    return f"{included.name}.{f.name}"


def _own_keys(included: Included) -> list[str]:
    """Its key fields not naming the exported record (a line's line_number)."""
    return [k for k in included.data_type.key_fields if k not in included.link.fields]
