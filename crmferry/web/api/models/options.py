"""The options objects of import and export requests (jobs, schedules, templates).

Their keys and choices come from the domain (`imports.options`, `exports.options`).
The models check the shape (the keys, the JSON types); the choices are documented and
left to the domain parsers, which report every problem of the options in one 422
(a format, a field and a filter's value against its field's type together).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from crmferry.exports.compression import COMPRESSIONS
from crmferry.exports.destinations import TYPES as DESTINATION_TYPES
from crmferry.exports.filters import MAX_IN_VALUES, OPS
from crmferry.exports.options import DELIMITERS, FORMATS
from crmferry.imports.options import (
    BLANK_CELLS,
    DATE_FORMATS,
    DECIMAL_MARKS,
    MAX_MAP_VALUES,
    MAX_SHEET,
    MODES,
    ON_ERROR,
)
from crmferry.imports.reading_choices import MAX_HEADER_ROW, MAX_LAST_ROW
from crmferry.web.api.models.base import Choice, JsonValue, RequestBody, Text

MAX_MAPPED_COLUMNS = 1000
MAX_EXPORT_FIELDS = 500
MAX_FILTERS = 100


class ImportOptions(RequestBody):
    """How an import matches and writes rows (defaults: upsert, skip, no dry run)."""

    mode: Annotated[Text, Choice(lambda: MODES, enforce=False)] | None = Field(
        default=None, description="Default `upsert`."
    )
    on_error: Annotated[Text, Choice(lambda: ON_ERROR, enforce=False)] | None = Field(
        default=None, description="`skip` bad rows (default) or `abort` the whole import."
    )
    dry_run: bool | None = Field(
        default=None, description="Count what would change; write nothing."
    )
    date_format: Annotated[Text, Choice(lambda: DATE_FORMATS, enforce=False)] | None = None
    decimal: Annotated[Text, Choice(lambda: DECIMAL_MARKS, enforce=False)] | None = None
    defaults: dict[Text, Text | float | bool] | None = Field(
        default=None,
        max_length=MAX_MAP_VALUES,
        description="Field → value filling the field when its cell is empty or no column "
        "is mapped to it: for new records, and for updates with `defaults_on_update`. "
        "Checked like a cell (a bad one is a 422 naming `options.defaults.<field>`).",
    )
    defaults_on_update: bool | None = Field(
        default=None, description="Defaults fill existing records' fields too (default false)."
    )
    blank_cells: Annotated[Text, Choice(lambda: BLANK_CELLS, enforce=False)] | None = Field(
        default=None,
        description="`clear` (default): an empty cell empties the field; `keep`: an empty "
        "cell leaves an existing record's value alone.",
    )
    value_maps: dict[Text, dict[Text, Text]] | None = Field(
        default=None,
        max_length=MAX_MAPPED_COLUMNS,
        description='Field → {"their value": "ours"}, applied to each cell (trimmed, '
        'case-insensitive) before it is checked; a value mapped to "" is blank.',
    )
    header_row: int | None = Field(
        default=None,
        ge=1,
        le=MAX_HEADER_ROW,
        description="The file's header row (1-based), when not the one the upload found.",
    )
    sheet: Annotated[Text, Field(max_length=MAX_SHEET)] | None = Field(
        default=None, description="A workbook's sheet (by name), when not the upload's."
    )
    last_row: int | None = Field(
        default=None,
        ge=1,
        le=MAX_LAST_ROW,
        description="The file's last data row (1-based), when not the one the upload found: "
        "the rows after it (a report's footer) are neither imported nor row errors.",
    )


Mapping = Annotated[
    dict[Text, Text | None],
    Field(
        max_length=MAX_MAPPED_COLUMNS,
        description="Column header → field name, or null to leave a column out.",
    ),
]

_SCALAR = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


def _filter_value(value: Any) -> Any:
    """A scalar, or a list of scalars for `in` (the domain checks it against the field)."""
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) > MAX_IN_VALUES:
        raise PydanticCustomError("filter_value", f"at most {MAX_IN_VALUES} values")
    if not all(v is None or isinstance(v, str | int | float) for v in values):
        raise PydanticCustomError("filter_value", "must be text, a number, true/false or a list")
    return value


def _sort_value(value: Any) -> Any:
    if isinstance(value, str) or (isinstance(value, list) and len(value) <= MAX_EXPORT_FIELDS):
        return value
    raise PydanticCustomError("sort", "must be a field name or a list of them")


FilterValue = Annotated[
    JsonValue,
    AfterValidator(_filter_value),
    WithJsonSchema({"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]}),
]
Sort = Annotated[
    JsonValue,
    AfterValidator(_sort_value),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class ExportFilter(RequestBody):
    field: Text
    op: Annotated[Text, Choice(lambda: OPS, enforce=False)]
    value: FilterValue | None = Field(
        default=None,
        description="Checked against the field's type; a list for `in`; true/false for `is_null`.",
    )


class Credentials(RequestBody):
    """A customer's S3 credentials: sealed when saved and never answered; answers show
    `{"set": true, "region", "endpoint_url"}`."""

    access_key_id: Text | None = None
    secret_access_key: Text | None = None
    session_token: Text | None = None
    region: Text | None = None
    endpoint_url: Text | None = Field(
        default=None, description="For S3-compatible servers; checked by the outbound guard."
    )
    set: bool | None = Field(
        default=None,
        description="As answers show it: a schedule's change sending it back keeps the "
        "stored credentials.",
    )


class Destination(RequestBody):
    """Where an export delivers its file after writing it."""

    type: Annotated[Text, Choice(lambda: DESTINATION_TYPES, enforce=False)]
    url: Text = Field(
        description="`s3://bucket/key`; the key may use {data_type}, {date}, {time}, "
        "{job_id} and {file_name}."
    )
    credentials: Credentials | None = None


class ExportOptions(RequestBody):
    """What an export writes, and how (see the README's Exports section)."""

    format: Annotated[Text, Choice(lambda: FORMATS, enforce=False)] | None = Field(
        default=None, description="Default `csv`."
    )
    fields: list[Text] | None = Field(
        default=None,
        max_length=MAX_EXPORT_FIELDS,
        description="The columns in this order; default `id`, then every field of the data type.",
    )
    filters: list[ExportFilter] | None = Field(default=None, max_length=MAX_FILTERS)
    sort: Sort | None = Field(
        default=None,
        description="A field (`-` first: descending), a list of them, or a comma-separated string.",
    )
    delimiter: Annotated[Text, Choice(lambda: DELIMITERS, enforce=False)] | None = Field(
        default=None, description="CSV only; default `,`."
    )
    bom: bool | None = Field(
        default=None, description="CSV only: a UTF-8 byte-order mark (default true)."
    )
    include: list[Text] | None = Field(
        default=None,
        max_length=10,
        description="Records to include with each one: a bid's `items` (its lines).",
    )
    amount_from_items: bool | None = Field(
        default=None, description="Bids: the amount as the sum of the lines' totals."
    )
    changed_since: Text | None = Field(
        default=None,
        description=(
            "Only the records created or changed since this RFC 3339 time, or since the"
            ' previous successful run of the export\'s schedule (`"last_run"`, schedules'
            " only); deleted records: `GET /jobs/{id}/deleted` (and, in JSON Lines, one"
            ' `{"deleted": {...}}` line each at the end).'
        ),
    )
    compression: Annotated[Text, Choice(lambda: (*COMPRESSIONS, "none"), enforce=False)] | None = (
        Field(default=None, description="CSV and JSON Lines: `gzip` (the file ends `.gz`).")
    )
    destination: Destination | None = None
