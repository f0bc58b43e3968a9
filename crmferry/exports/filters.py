"""Export filters: the operators (the one list the API, the pages and the CLI use) and
the check of each `{"field", "op", "value"}` against its field's type.

`eq`, `lt`..`gte` and `in` never match an empty field; `ne` does; e-mail comparisons
ignore case; `contains` is a case-insensitive substring match of a text field; `lt`..`gte`
do not apply to enum and boolean fields; `in` takes 1 to 1,000 values; `is_null` takes
`true` (the field is empty) or `false`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from crmferry.records import TEXT_LIKE, Field
from crmferry.records.values import coerce_value, to_bool, to_text

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "is_null"]
OPS: tuple[Op, ...] = get_args(Op)

# How the pages name each operator, in the order they offer them.
OPERATOR_LABELS: dict[Op, str] = {
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "in": "is one of (comma-separated)",
    "is_null": "is empty",
}
ORDERED_OPS = frozenset({"lt", "lte", "gt", "gte"})
UNORDERED = frozenset({"enum", "boolean"})
MAX_IN_VALUES = 1000


@dataclass(frozen=True)
class Filter:
    """One condition. `value` is typed: int, Decimal, date, datetime (aware), bool, str;
    a tuple of those for `in`; a bool for `is_null` (true: the field is empty)."""

    field: str
    op: Op
    value: Any


def parse_filter(known: dict[str, Field], item: object, where: str) -> Filter | tuple[str, str]:
    """The filter `item` states, or (where, message) for its first problem."""
    if not isinstance(item, dict):
        return where, "must be an object with field, op and value"
    extra = sorted(set(item) - {"field", "op", "value"})
    if extra:
        return f"{where}.{extra[0]}", "unknown key; a filter has field, op and value"
    name, op = item.get("field"), item.get("op")
    if not isinstance(name, str) or name not in known:
        return f"{where}.field", f"unknown field {name!r}; use one of {', '.join(known)}"
    field = known[name]
    if op not in OPS:
        return f"{where}.op", f"unknown operator {op!r}; use one of {', '.join(OPS)}"
    op = cast(Op, op)
    refusal = operator_refusal(field, op)
    if refusal:
        return f"{where}.op", refusal
    if "value" not in item:
        return f"{where}.value", "a value is required"
    try:
        return Filter(name, op, _filter_value(field, op, item["value"]))
    except ValueError as exc:
        return f"{where}.value", str(exc)


def operator_refusal(field: Field, op: Op) -> str | None:
    """Why `op` does not apply to `field`, or None when it does."""
    if op == "contains" and field.type not in TEXT_LIKE:
        return f"'contains' applies to text fields only; {field.name} is {field.type}"
    if op in ORDERED_OPS and field.type in UNORDERED:
        return f"'{op}' does not apply to {field.type} field {field.name}; use eq, ne or in"
    return None


def _filter_value(field: Field, op: Op, value: object) -> Any:
    """The typed value for `op` on `field`; ValueError with the reason otherwise."""
    if op == "is_null":
        return to_bool(value)
    if op == "in":
        if not isinstance(value, list) or not value:
            raise ValueError("'in' takes a non-empty list of values")
        if len(value) > MAX_IN_VALUES:
            raise ValueError(f"'in' takes at most {MAX_IN_VALUES} values")
        return tuple(_typed_value(field, op, v) for v in value)
    return _typed_value(field, op, value)


def _typed_value(field: Field, op: Op, value: object) -> Any:
    if value is None:
        raise ValueError("a value is required (use is_null to match empty fields)")
    if op == "contains":
        return to_text(value, allow_empty=False)
    return coerce_value(field, value)
