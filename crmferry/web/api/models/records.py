"""Records, data types, uploads and the caller: response models read from `records/`.

A record's model is made from its data type's description, so a field added there
appears in the OpenAPI document without a line here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from crmferry.accounts.principal import Role
from crmferry.imports.reading.charset import CHOOSABLE_ENCODINGS
from crmferry.imports.reading_choices import MAX_HEADER_ROW, MAX_LAST_ROW
from crmferry.records import DATA_TYPES, DataType
from crmferry.records.fields import FieldType
from crmferry.web.api.models.base import Answer, Instant, Page, RequestBody, Uuid
from crmferry.web.api.models.jobs import Counts, KnownDataType
from crmferry.web.api.models.options import ImportOptions, Mapping

# how each field type is written in a record answer (decimals as exact strings)
_JSON_SCHEMA: dict[FieldType, dict[str, Any]] = {
    "text": {"type": "string"},
    "email": {"type": "string"},
    "phone": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "string", "format": "decimal"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
    "enum": {"type": "string"},
    "currency": {"type": "string", "description": "An ISO 4217 code."},
}
_PYTHON: dict[FieldType, Any] = {"integer": int, "boolean": bool}


def record_model(data_type: DataType) -> type[Answer]:
    """The record object of `data_type`: its fields (each may be null) and the metadata."""
    fields: dict[str, Any] = {
        "id": (Uuid, ...),
        "organization_id": (Uuid, ...),
        "created_at": (Instant, ...),
        "updated_at": (Instant, ...),
        "import_job_id": (Uuid | None, None),
    }
    for field in data_type.fields:
        extra = dict(_JSON_SCHEMA.get(field.type, {"type": "string"}))
        if field.choices:
            extra["description"] = "One of " + ", ".join(field.choices) + "."
        fields[field.name] = (
            _PYTHON.get(field.type, str) | None,
            Field(default=None, title=field.label, json_schema_extra=extra),
        )
    name = data_type.name.title().replace("_", "") + "Record"
    model: type[Answer] = create_model(name, __base__=Answer, **fields)
    return model


def record_page_model(data_type: DataType, record: type[Answer]) -> type[Page]:
    name = data_type.name.title().replace("_", "") + "Page"
    model: type[Page] = create_model(name, __base__=Page, items=(list[record], ...))  # type: ignore[valid-type]
    return model


RECORD_MODELS = {name: record_model(t) for name, t in DATA_TYPES.items()}


class FieldInfo(Answer):
    name: str
    label: str
    type: FieldType
    required: bool
    key: bool
    choices: list[str]
    composed_from: list[str] = Field(
        default_factory=list, description="Fields that make this one when it is not mapped."
    )
    computed: bool = Field(default=False, description="Computed by the database; never mapped.")


class LinkInfo(Answer):
    name: str
    fields: list[str]
    target: str = Field(description="A data type, or `members` (the organization's).")
    key: list[str]
    id_column: str | None


class LookupInfo(Answer):
    name: str
    label: str
    link: str = Field(description="The link whose fields a matched record fills.")
    by: str = Field(description="The linked record's column the value is matched on.")


class DataTypeInfo(Answer):
    name: KnownDataType
    label: str
    key: str = Field(description="The natural key update and upsert match on (comma-separated).")
    key_fields: list[str] = Field(default_factory=list)
    key_case_insensitive: bool = False
    fields: list[FieldInfo]
    links: list[LinkInfo] = Field(default_factory=list)
    search_fields: list[str] = Field(default_factory=list)
    lookups: list[LookupInfo] = Field(
        default_factory=list,
        description="Import-only columns that name a linked record by another column "
        "(a contact's owner by the member's name).",
    )


class Organization(Answer):
    id: Uuid
    name: str
    currency: str
    timezone: str


class Me(Answer):
    id: Uuid
    email: str
    name: str | None
    role: Role
    timezone: str
    notify: Literal["none", "failed", "all"] = Field(
        description="Which outcomes of your own jobs you are told of"
    )
    organization: Organization


class SuggestedOptions(Answer):
    value_maps: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Field → {their value: ours}, for columns holding another tool's "
        "names of an enum's values (HubSpot lifecycle stages, Salesforce and Zoho lead "
        "statuses); pass as `options.value_maps`.",
    )


class ReadProblem(Answer):
    row_number: int
    column: str
    message: str


class SheetFacts(Answer):
    name: str
    hidden: bool = Field(description="Hidden in the workbook: never read unless chosen.")


class Upload(Answer):
    """A stored upload: what was detected and the mapping suggested for it."""

    id: Uuid
    file_name: str
    size_bytes: int
    sha256: str
    format: str = Field(
        description="The reader, told from the content: csv (every text table), xlsx, xls, "
        "ods or jsonl (JSON Lines)."
    )
    encoding: str | None
    delimiter: str | None
    headers: list[str]
    preview: list[list[Any]] = Field(description="At most 20 rows.")
    row_estimate: int | None
    encoding_label: str | None = Field(
        default=None, description="The encoding's name as people know it (text files)."
    )
    encoding_confidence: float | None = Field(
        default=None,
        description="How sure detection is of the encoding, 0-1 (1 for UTF-8, a byte-order "
        "mark or a chosen encoding); below 0.8 it is a guess to check in the preview.",
    )
    encoding_note: str | None = Field(
        default=None, description="A sentence about the encoding, for a file not in UTF-8."
    )
    encoding_alternatives: list[str] = Field(
        default_factory=list,
        description="Other encodings that read the file as well but differently; send one "
        "as `encoding` on a new upload to see its preview.",
    )
    header_row: int = Field(
        default=1,
        description="The header's row number in the file (1-based), found or chosen; 0 for "
        "JSON Lines, whose objects' keys name the columns (rows are then its line numbers).",
    )
    sheet: str | None = Field(default=None, description="The sheet read (workbooks).")
    last_row: int | None = Field(
        default=None,
        description="The last data row's number in the file (1-based), found or chosen, when "
        "the rows after it are left out (a report's footer: a blank row, then totals, "
        "confidentiality and copyright lines); null when every row is read.",
    )
    read_notes: list[str] = Field(
        default_factory=list,
        description="Sentences about rows not read as data (the rows after `last_row`).",
    )
    sheets: list[SheetFacts] = Field(
        default_factory=list, description="A workbook's worksheets, in the workbook's order."
    )
    read_problems: list[ReadProblem] = Field(
        default_factory=list,
        description="Rows the file itself gets wrong among those read for the preview (an "
        "unclosed quote, more cells than the header), at most 20: each will be an error "
        "of its row in the import.",
    )
    data_type: str | None
    suggested_data_type: str | None
    suggested_mapping: dict[str, str | None]
    mapping_notes: dict[str, str] = Field(
        default_factory=dict,
        description="Header → why its values led the suggestion (a lookup, a value map) "
        "or kept it from a field.",
    )
    suggested_options: SuggestedOptions = Field(
        default_factory=lambda: SuggestedOptions(),
        description="Import options that go with the suggested mapping.",
    )


class UploadCheckRequest(RequestBody):
    """The import a check tries on the upload's first rows (as `POST /jobs` would take it)."""

    data_type: KnownDataType
    mapping: Mapping
    options: ImportOptions | None = None


class CheckedRowError(Answer):
    row_number: int = Field(description="The file's own row number (the header is row 1).")
    column: str | None = Field(description="The file's column, when one is mapped.")
    field: str
    value: str
    message: str


class UploadCheck(Answer):
    """What the import would do with the first 1,000 rows; nothing is written."""

    rows_checked: int
    counts: Counts
    errors: list[CheckedRowError] = Field(description="At most 500, in row order.")
    errors_truncated: bool


UPLOAD_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "CSV, TSV, TXT, XLSX, XLS, ODS or JSON Lines; one "
                        "file part.",
                    },
                    "encoding": {
                        "type": "string",
                        "enum": list(CHOOSABLE_ENCODINGS),
                        "description": "Read a text file in this encoding (default: detected).",
                    },
                    "header_row": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_HEADER_ROW,
                        "description": "The header's row number (default: detected).",
                    },
                    "last_row": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LAST_ROW,
                        "description": "The last data row's number: the rows after it (a "
                        "report's footer) are left out (default: detected).",
                    },
                    "sheet": {
                        "type": "string",
                        "description": "A workbook's sheet to read, by name (default: the "
                        "first visible one).",
                    },
                    "data_type": {
                        "type": "string",
                        "enum": list(DATA_TYPES),
                        "description": "Suggest the mapping for this type (default: the best fit).",
                    },
                },
            }
        }
    },
}


class UploadBatch(Answer):
    """The files of one batch upload, in the order sent (a ZIP's in its own order)."""

    items: list[Upload]


BATCH_UPLOAD_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "CSV, TSV, TXT, XLSX or JSON Lines files (one part "
                        "each), or one ZIP of them.",
                    },
                },
            }
        }
    },
}
