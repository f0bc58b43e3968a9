"""Export options: checked once at job creation, stored normalised, read again by the worker.

`parse_export_options` turns the request's `options` object into an `ExportOptions`
or raises `ValidationFailed` naming every bad part (`options.fields[2]`,
`options.filters[0].value`, ...). `options_to_json` gives the normalised form to store
in the job row; parsing that form again gives the same `ExportOptions`.

Accepted keys (all optional):

* `format`: `csv` (default), `xlsx` or `jsonl`.
* `fields`: the columns, in the order given; default every field of the data type in
  its own order. Besides the data type's fields: `id`, `created_at`, `updated_at`, and
  for bids `contact_name` (the linked contact's name).
* `filters`: `[{"field", "op", "value"}]`, all of which must hold. Operators `eq ne lt
  lte gt gte contains in is_null`. Values are checked against the field's type:
  integers, decimals (`"12.50"` or `12.5`), ISO dates, ISO date-times (a time without
  an offset is UTC; a bare date is midnight UTC), booleans, enum choices (any case),
  e-mail addresses (compared case-insensitively). `contains` (case-insensitive
  substring) applies to text, e-mail and phone fields only; `lt`..`gte` do not apply
  to enum and boolean fields; `in` takes a non-empty list (at most 1,000 values);
  `is_null` takes `true` (no value) or `false` (has a value).
* `sort`: a field name or a list of them (or one comma-separated string), each with an
  optional leading `-` for descending; `id` is always appended as the last tie-breaker.
  Default `["created_at", "id"]`: the order records were created in.
* `delimiter` (CSV): one of `,` (default) `;` `|` or a tab (`\\t` or `tab` accepted).
* `bom` (CSV): write a UTF-8 byte-order mark first so Excel reads UTF-8 (default true).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast, get_args
from uuid import UUID

from crmferry.errors import ValidationFailed
from crmferry.records import DataType, Field

Format = Literal["csv", "xlsx", "jsonl"]
Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "is_null"]

FORMATS: tuple[Format, ...] = get_args(Format)
OPS: tuple[Op, ...] = get_args(Op)
DELIMITERS = {",": ",", ";": ";", "|": "|", "\t": "\t", "\\t": "\t", "tab": "\t"}
TEXT_LIKE = frozenset({"text", "email", "phone"})
UNORDERED = frozenset({"enum", "boolean"})
MAX_IN_VALUES = 1000
MAX_TEXT_VALUE = 10_000
DEFAULT_SORT = ("created_at", "id")
OPTION_KEYS = ("format", "fields", "filters", "sort", "delimiter", "bom")

# Columns every record has, exportable on request (never in the default field list).
METADATA_FIELDS = (
    Field("id", "ID", max_length=None, sql_type="uuid"),
    Field("created_at", "Created at", "datetime", max_length=None, sql_type="timestamptz"),
    Field("updated_at", "Updated at", "datetime", max_length=None, sql_type="timestamptz"),
)

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_INT_RE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Filter:
    """One condition. `value` is typed: int, Decimal, date, datetime (aware), bool, str;
    a tuple of those for `in`; a bool for `is_null` (true: the field is empty)."""

    field: str
    op: Op
    value: Any


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how; built only by `parse_export_options`."""

    fields: tuple[str, ...]
    format: Format = "csv"
    filters: tuple[Filter, ...] = ()
    sort: tuple[SortKey, ...] = tuple(SortKey(name) for name in DEFAULT_SORT)
    delimiter: str = ","
    bom: bool = True


def exportable_fields(data_type: DataType) -> dict[str, Field]:
    """Every field an export of `data_type` may name: its own, its extras, the metadata."""
    every = (*data_type.fields, *data_type.extra_export_fields, *METADATA_FIELDS)
    return {f.name: f for f in every}


def export_field(data_type: DataType, name: str) -> Field:
    """The description of an exportable field; KeyError for an unknown name."""
    return exportable_fields(data_type)[name]


class _Errors:
    """Collects `{"field", "message"}` problems so that one 422 names all of them."""

    def __init__(self) -> None:
        self.items: list[dict[str, object]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"field": where, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in self.items)
            raise ValidationFailed(f"The export options cannot be used. {detail}", self.items)


def parse_export_options(data_type: DataType, raw: dict[str, Any] | None) -> ExportOptions:
    """Check and normalise `raw` (a job's or template's `options`); ValidationFailed if bad."""
    raw = {} if raw is None else raw
    errors = _Errors()
    if not isinstance(raw, dict):
        errors.add("options", "must be an object")
        errors.raise_if_any()
    for key in raw:
        if key not in OPTION_KEYS:
            errors.add(f"options.{key}", f"unknown option; use {', '.join(OPTION_KEYS)}")
    known = exportable_fields(data_type)
    options = ExportOptions(
        format=_parse_format(raw.get("format"), errors),
        fields=_parse_fields(data_type, known, raw.get("fields"), errors),
        filters=_parse_filters(known, raw.get("filters"), errors),
        sort=_parse_sort(known, raw.get("sort"), errors),
        delimiter=_parse_delimiter(raw.get("delimiter"), errors),
        bom=_parse_bool_option("options.bom", raw.get("bom"), True, errors),
    )
    errors.raise_if_any()
    return options


def options_to_json(options: ExportOptions) -> dict[str, Any]:
    """The normalised, JSON-ready form (decimals and dates as strings) to store in a job."""
    return {
        "format": options.format,
        "fields": list(options.fields),
        "filters": [
            {"field": f.field, "op": f.op, "value": _value_to_json(f.value)}
            for f in options.filters
        ],
        "sort": [("-" if k.descending else "") + k.field for k in options.sort],
        "delimiter": options.delimiter,
        "bom": options.bom,
    }


# format, fields, delimiter, bom ---------------------------------------------------------


def _parse_format(value: object, errors: _Errors) -> Format:
    if value is None:
        return "csv"
    if isinstance(value, str) and value.lower() in FORMATS:
        return cast(Format, value.lower())
    errors.add("options.format", f"must be one of {', '.join(FORMATS)}")
    return "csv"


def _parse_fields(
    data_type: DataType, known: dict[str, Field], value: object, errors: _Errors
) -> tuple[str, ...]:
    if value is None:
        return data_type.field_names
    if not isinstance(value, list) or not value:
        errors.add("options.fields", "must be a non-empty list of field names")
        return data_type.field_names
    seen: set[str] = set()
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in known:
            errors.add(f"options.fields[{i}]", _unknown_field(data_type, known, name))
        elif name in seen:
            errors.add(f"options.fields[{i}]", f"'{name}' is listed twice")
        else:
            seen.add(name)
    return tuple(str(name) for name in value)


def _unknown_field(data_type: DataType, known: dict[str, Field], name: object) -> str:
    return f"unknown field {name!r} for {data_type.name}; use one of {', '.join(known)}"


def _parse_delimiter(value: object, errors: _Errors) -> str:
    if value is None:
        return ","
    if isinstance(value, str) and value in DELIMITERS:
        return DELIMITERS[value]
    errors.add("options.delimiter", "must be one of ',' ';' '|' or a tab ('\\t')")
    return ","


def _parse_bool_option(where: str, value: object, default: bool, errors: _Errors) -> bool:
    if value is None:
        return default
    try:
        return _to_bool(value)
    except ValueError as exc:
        errors.add(where, str(exc))
        return default


# sort ---------------------------------------------------------------------------------


def _parse_sort(known: dict[str, Field], value: object, errors: _Errors) -> tuple[SortKey, ...]:
    if value is None:
        return tuple(SortKey(name) for name in DEFAULT_SORT)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        errors.add("options.sort", "must be a field name or a non-empty list of them")
        return ()
    keys: list[SortKey] = []
    for i, item in enumerate(items):
        key = _parse_sort_key(known, item)
        if isinstance(key, str):
            errors.add(f"options.sort[{i}]", key)
        elif any(k.field == key.field for k in keys):
            errors.add(f"options.sort[{i}]", f"'{key.field}' is listed twice")
        else:
            keys.append(key)
    if not any(k.field == "id" for k in keys):
        keys.append(SortKey("id"))
    return tuple(keys)


def _parse_sort_key(known: dict[str, Field], item: object) -> SortKey | str:
    """The key, or the message saying why `item` is not one."""
    if not isinstance(item, str):
        return "must be a field name, optionally prefixed with '-'"
    name = item.strip()
    descending = name.startswith("-")
    name = name.removeprefix("-")
    if name not in known:
        return f"unknown field {name!r}; use one of {', '.join(known)}"
    return SortKey(name, descending)


# filters ------------------------------------------------------------------------------


def _parse_filters(known: dict[str, Field], value: object, errors: _Errors) -> tuple[Filter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.add("options.filters", "must be a list of {field, op, value} objects")
        return ()
    parsed = (_parse_filter(known, item, f"options.filters[{i}]") for i, item in enumerate(value))
    found: list[Filter] = []
    for result in parsed:
        if isinstance(result, Filter):
            found.append(result)
        else:
            errors.add(*result)
    return tuple(found)


def _parse_filter(known: dict[str, Field], item: object, where: str) -> Filter | tuple[str, str]:
    """The filter, or (where, message) for its first problem."""
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
    refusal = _op_refusal(field, op)
    if refusal:
        return f"{where}.op", refusal
    if "value" not in item:
        return f"{where}.value", "a value is required"
    try:
        return Filter(name, op, _filter_value(field, op, item["value"]))
    except ValueError as exc:
        return f"{where}.value", str(exc)


def _op_refusal(field: Field, op: Op) -> str | None:
    if op == "contains" and field.type not in TEXT_LIKE:
        return f"'contains' applies to text fields only; {field.name} is {field.type}"
    if op in ("lt", "lte", "gt", "gte") and field.type in UNORDERED:
        return f"'{op}' does not apply to {field.type} field {field.name}; use eq, ne or in"
    return None


def _filter_value(field: Field, op: Op, value: object) -> Any:
    """The typed value for `op` on `field`; ValueError with the reason otherwise."""
    if op == "is_null":
        return _to_bool(value)
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
        return _to_text(value, allow_empty=False)
    if field.sql_type == "uuid":
        return _to_uuid_text(value)
    return _COERCE[field.type](field, value)


# typed values -------------------------------------------------------------------------


def _to_text(value: object, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    if not allow_empty and not value:
        raise ValueError("expected non-empty text")
    if len(value) > MAX_TEXT_VALUE:
        raise ValueError(f"text longer than {MAX_TEXT_VALUE} characters")
    return value


def _to_email(_: Field, value: object) -> str:
    text = _to_text(value).strip()
    if not _EMAIL_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not an e-mail address")
    return text.lower()


def _to_integer(_: Field, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        value = int(value)
    if not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _to_decimal(_: Field, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"expected a decimal number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal number like 12.50, got {value!r}") from None
    if not number.is_finite():
        raise ValueError("expected a finite decimal number")
    return number


def _to_date(_: Field, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(_to_text(value).strip())
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _to_datetime(_: Field, value: object) -> datetime:
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(_to_text(value).strip())
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 date-time like 2024-05-01T09:30:00+02:00, got {value!r}"
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def _to_enum(field: Field, value: object) -> str:
    text = _to_text(value).strip().lower()
    for choice in field.choices:
        if choice.lower() == text:
            return choice
    raise ValueError(f"{value!r} is not a {field.name}; use one of {', '.join(field.choices)}")


def _to_uuid_text(value: object) -> str:
    try:
        return str(UUID(_to_text(value)))
    except ValueError:
        raise ValueError(f"expected a record id (uuid), got {value!r}") from None


_COERCE: dict[str, Callable[[Field, object], Any]] = {
    "text": lambda _, v: _to_text(v),
    "phone": lambda _, v: _to_text(v),
    "email": _to_email,
    "integer": _to_integer,
    "decimal": _to_decimal,
    "date": _to_date,
    "datetime": _to_datetime,
    "boolean": lambda _, v: _to_bool(v),
    "enum": _to_enum,
}


def _value_to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_value_to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
