"""How a staged cell of each field type becomes a typed value, and when it is bad.

One rule per field type (`RULES`): the SQL expression of the converted value (the
cell parsers of migration 0006) and the checks that mark a bad cell, each a condition
and its message, in the order they are tried (the first that holds is reported).
Validation reads this table; a new field type is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from crmferry.records import TEXT_LIKE, Field, FieldType

Check = tuple[sql.Composable, str]


@dataclass(frozen=True)
class DateChoice:
    """The layout a date column is read with, or why none can be used."""

    layout: str | None
    problem: str = ""


@dataclass(frozen=True)
class CellContext:
    """What a rule needs besides the field: the import's options, resolved."""

    decimal: str
    date: DateChoice | None = None


@dataclass(frozen=True)
class Converted:
    """A cell's typed value (before defaults) and its checks."""

    value: sql.Composable
    checks: list[Check]


Rule = Callable[[Field, sql.Composable, CellContext], Converted]


def convert_cell(field: Field, cell: sql.Composable, context: CellContext) -> Converted:
    """The rule of `field`'s type applied to `cell` (a trimmed text cell, NULL when empty),
    plus the length limit of text-like fields."""
    converted = RULES[field.type](field, cell, context)
    converted.checks.extend(_range_checks(field, converted.value))
    if field.max_length and field.type in TEXT_LIKE:
        limit = sql.SQL("length({}) > {}").format(cell, sql.Literal(field.max_length))
        converted.checks.append((limit, f"is longer than {field.max_length} characters"))
    return converted


def _range_checks(field: Field, value: sql.Composable) -> list[Check]:
    """A number outside the field's range (checked after the type's own checks, so a
    value that is not a number is reported as such)."""
    low, high = field.minimum, field.maximum
    if low is None and high is None:
        return []
    if low is not None and high is not None:
        message = f"must be from {low} to {high}"
    elif low is not None:
        message = f"must be at least {low}"
    else:
        message = f"must be at most {high}"
    conditions = [
        sql.SQL("{} {} {}::numeric").format(value, sql.SQL(op), sql.Literal(bound))
        for op, bound in (("<", low), (">", high))
        if bound is not None
    ]
    return [(sql.SQL(" OR ").join(conditions), message)]


def _text(_: Field, cell: sql.Composable, __: CellContext) -> Converted:
    return Converted(cell, [])


def _email(_: Field, cell: sql.Composable, __: CellContext) -> Converted:
    # lower-cased when the cell was cleaned
    check = sql.SQL("NOT crmferry_email_ok({})").format(cell)
    return Converted(cell, [(check, "is not a valid e-mail address")])


def _phone(_: Field, cell: sql.Composable, __: CellContext) -> Converted:
    check = sql.SQL("NOT crmferry_phone_ok({})").format(cell)
    return Converted(cell, [(check, "is not a valid phone number")])


def _integer(_: Field, cell: sql.Composable, context: CellContext) -> Converted:
    value = sql.SQL("crmferry_parse_integer({}, {})").format(cell, sql.Literal(context.decimal))
    message = f"is not a whole number (decimal mark '{context.decimal}')"
    return Converted(value, [(sql.SQL("{} IS NULL").format(value), message)])


def _decimal(_: Field, cell: sql.Composable, context: CellContext) -> Converted:
    parsed = sql.SQL("crmferry_parse_decimal({}, {})").format(cell, sql.Literal(context.decimal))
    value = sql.SQL("CASE WHEN abs(round({p}, 2)) < 1e10 THEN round({p}, 2) END").format(p=parsed)
    return Converted(
        value,
        [
            (
                sql.SQL("{} IS NULL").format(parsed),
                f"is not a number (decimal mark '{context.decimal}')",
            ),
            (sql.SQL("{} IS NULL").format(value), "is too large (at most 9,999,999,999.99)"),
        ],
    )


def _date(_: Field, cell: sql.Composable, context: CellContext) -> Converted:
    choice = context.date
    assert choice is not None, "a date column's layout is resolved before its rule runs"
    if choice.layout is None:
        return Converted(sql.SQL("NULL::date"), [(sql.SQL("true"), choice.problem)])
    value = sql.SQL("crmferry_parse_date({}, {})").format(cell, sql.Literal(choice.layout))
    message = f"is not a date in the format {choice.layout}"
    return Converted(value, [(sql.SQL("{} IS NULL").format(value), message)])


def _datetime(_: Field, cell: sql.Composable, __: CellContext) -> Converted:
    # no import field is a date-time yet (only the metadata are): the text as PostgreSQL reads it
    return Converted(cell, [])


def _boolean(_: Field, cell: sql.Composable, __: CellContext) -> Converted:
    value = sql.SQL("crmferry_parse_boolean({})").format(cell)
    return Converted(
        value, [(sql.SQL("{} IS NULL").format(value), "is not yes/no, true/false or 1/0")]
    )


def _enum(field: Field, cell: sql.Composable, __: CellContext) -> Converted:
    check = sql.SQL("lower({}) <> ALL({})").format(cell, sql.Literal(list(field.choices)))
    return Converted(
        sql.SQL("lower({})").format(cell), [(check, "is not one of: " + ", ".join(field.choices))]
    )


def _currency(_: Field, cell: sql.Composable, __: CellContext) -> Converted:
    check = sql.SQL("{} !~ '^[A-Za-z]{{3}}$'").format(cell)
    return Converted(
        sql.SQL("upper({})").format(cell),
        [(check, "is not a three-letter currency code (ISO 4217)")],
    )


RULES: dict[FieldType, Rule] = {
    "text": _text,
    "email": _email,
    "phone": _phone,
    "integer": _integer,
    "decimal": _decimal,
    "date": _date,
    "datetime": _datetime,
    "boolean": _boolean,
    "enum": _enum,
    "currency": _currency,
}
