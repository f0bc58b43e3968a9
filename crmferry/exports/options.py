"""Export options: checked once at job creation, stored normalised, read again by the worker.

`parse_export_options` turns the request's `options` object into an `ExportOptions`
or raises `ValidationFailed` naming every bad part (`options.fields[2]`,
`options.filters[0].value`, ...). `options_to_json` gives the normalised form to store
in the job row; parsing that form again gives the same `ExportOptions`.

Accepted keys (all optional):

* `format`: `csv` (default), `xlsx` or `jsonl`.
* `fields`: the columns, in the order given; default `id`, then every field of the data
  type in its own order (`DataType.default_export_fields`). Besides the data type's
  fields: `id`, `created_at`, `updated_at`, and its export-only fields (a bid's
  `contact_name`, read through its contact link).
* `filters`: `[{"field", "op", "value"}]`, all of which must hold (see
  `crmferry.exports.filters` for the operators). Values are checked against the
  field's type by `crmferry.records.values`: integers, decimals (`"12.50"` or `12.5`),
  ISO dates, ISO date-times (a time without an offset is UTC; a bare date is midnight
  UTC), booleans, enum choices (any case), e-mail addresses (compared
  case-insensitively), currency codes (any case).
* `sort`: a field name or a list of them (or one comma-separated string), each with an
  optional leading `-` for descending; `id` is always appended as the last tie-breaker.
  Default `["created_at", "id"]`: the order records were created in.
* `delimiter` (CSV): one of `,` (default) `;` `|` or a tab (`\\t` or `tab` accepted).
* `bom` (CSV): write a UTF-8 byte-order mark first so Excel reads UTF-8 (default true).
* `include`: names of records to include with each exported one (a bid's `items`); see
  `crmferry.exports.included` for how each format writes them.
* `<field>_from_<included>` (`amount_from_items`): true derives the field from the
  included records (a bid's amount as the sum of its lines' totals), at export.
* `changed_since`: only the records created or changed since an RFC 3339 time, or since
  the previous successful run of the export's schedule (`"last_run"`); see
  `crmferry.exports.changes`.
* `compression` (CSV, JSON Lines): `gzip` compresses the file as it is written (the
  result is named `….csv.gz`); default none.
* `destination`: where the file is delivered after it is written; checked (and its
  credentials sealed) by the export kind (`crmferry.exports.destinations`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, cast, get_args

from crmferry.errors import ValidationFailed
from crmferry.exports.changes import ChangeWindow, parse_changed_since
from crmferry.exports.compression import COMPRESSIBLE_FORMATS, COMPRESSIONS
from crmferry.exports.filters import Filter, parse_filter
from crmferry.records import TEXT_LIKE, DataType, Field
from crmferry.records.values import to_bool

__all__ = [
    "FORMATS",
    "TEXT_LIKE",
    "ExportOptions",
    "Filter",
    "Format",
    "SortKey",
    "export_field",
    "exportable_fields",
    "options_to_json",
    "parse_export_options",
]

Format = Literal["csv", "xlsx", "jsonl"]

FORMATS: tuple[Format, ...] = get_args(Format)
DELIMITERS = {",": ",", ";": ";", "|": "|", "\t": "\t", "\\t": "\t", "tab": "\t"}
DEFAULT_SORT = ("created_at", "id")
OPTION_KEYS = (
    "format",
    "fields",
    "filters",
    "sort",
    "delimiter",
    "bom",
    "changed_since",
    "include",
    "amount_from_items",
    "compression",
)
# checked by the export kind, which has the settings to seal its credentials
DESTINATION_KEY = "destination"


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
    include: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()  # fields derived from included records (rollups)
    changed_since: datetime | str | None = None
    compression: str | None = None
    # what `changed_since` resolved to when the export runs (never stored)
    window: ChangeWindow | None = field(default=None, compare=False)


def exportable_fields(data_type: DataType) -> dict[str, Field]:
    """Every field an export of `data_type` may name: its own, its extras, the metadata."""
    return data_type.exportable_fields


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
        if key not in OPTION_KEYS and key != DESTINATION_KEY:
            use = ", ".join((*OPTION_KEYS, DESTINATION_KEY))
            errors.add(f"options.{key}", f"unknown option; use {use}")
    known = exportable_fields(data_type)
    options = ExportOptions(
        format=_parse_format(raw.get("format"), errors),
        fields=_parse_fields(data_type, known, raw.get("fields"), errors),
        filters=_parse_filters(known, raw.get("filters"), errors),
        sort=_parse_sort(known, raw.get("sort"), errors),
        delimiter=_parse_delimiter(raw.get("delimiter"), errors),
        bom=_parse_bool_option("options.bom", raw.get("bom"), True, errors),
        include=_parse_include(data_type, raw.get("include"), errors),
        derived=_parse_derived(data_type, raw, errors),
        changed_since=_parse_changed_since(raw.get("changed_since"), errors),
    )
    options = replace(options, compression=_parse_compression(raw, options.format, errors))
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
        **(
            {"changed_since": _value_to_json(options.changed_since)}
            if options.changed_since
            else {}
        ),
        **({"include": list(options.include)} if options.include else {}),
        **{DERIVED_OPTIONS[f]: True for f in options.derived},
        **({"compression": options.compression} if options.compression else {}),
    }


# field → the option deriving it from included records (`<field>_from_<included>`, for
# the rollups the descriptions declare); OPTION_KEYS lists each of them
DERIVED_OPTIONS = {"amount": "amount_from_items"}


def _parse_include(data_type: DataType, value: object, errors: _Errors) -> tuple[str, ...]:
    from crmferry.exports.included import includable

    if value is None:
        return ()
    known = includable(data_type)
    if not isinstance(value, list):
        errors.add("options.include", "must be a list of names")
        return ()
    found: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in known:
            choices = ", ".join(known) or "nothing"
            errors.add(f"options.include[{i}]", f"{data_type.name} can include {choices}")
        elif name not in found:
            found.append(name)
    return tuple(found)


def _parse_derived(data_type: DataType, raw: dict[str, Any], errors: _Errors) -> tuple[str, ...]:
    from crmferry.exports.included import rollups

    derived: list[str] = []
    available = rollups(data_type)
    for name, option in DERIVED_OPTIONS.items():
        wanted = _parse_bool_option(f"options.{option}", raw.get(option), False, errors)
        if not wanted:
            continue
        included = available.get(name)
        if included is None or option != f"{name}_from_{included.name}":
            errors.add(f"options.{option}", f"{data_type.name} has no {name} derived this way")
        else:
            derived.append(name)
    return tuple(derived)


def _parse_changed_since(value: object, errors: _Errors) -> datetime | str | None:
    parsed = parse_changed_since(value)
    if isinstance(parsed, ValueError):
        errors.add("options.changed_since", str(parsed))
        return None
    return parsed


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
    default = tuple(f.name for f in data_type.default_export_fields)
    if value is None:
        return default
    if not isinstance(value, list) or not value:
        errors.add("options.fields", "must be a non-empty list of field names")
        return default
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


def _parse_compression(raw: dict[str, Any], format: str, errors: _Errors) -> str | None:
    value = raw.get("compression")
    if value is None or value == "none":
        return None
    if value not in COMPRESSIONS:
        errors.add("options.compression", f"must be one of {', '.join(COMPRESSIONS)} or none")
    elif format not in COMPRESSIBLE_FORMATS:
        errors.add("options.compression", "applies to csv and jsonl (an XLSX file is a ZIP)")
    return str(value) if value in COMPRESSIONS and format in COMPRESSIBLE_FORMATS else None


def _parse_bool_option(where: str, value: object, default: bool, errors: _Errors) -> bool:
    if value is None:
        return default
    try:
        return to_bool(value)
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
    parsed = (parse_filter(known, item, f"options.filters[{i}]") for i, item in enumerate(value))
    found: list[Filter] = []
    for result in parsed:
        if isinstance(result, Filter):
            found.append(result)
        else:
            errors.add(*result)
    return tuple(found)


def _value_to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_value_to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
