"""Schedule and template requests and objects."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Discriminator, Field, Tag, WithJsonSchema

from crmferry.imports.batch import MAX_ITEMS
from crmferry.imports.options import ON_ERROR
from crmferry.jobs.kinds import job_types_with
from crmferry.jobs.notify_request import MAX_EMAILS, ScheduleOutcome
from crmferry.web.api.models.base import (
    OTHER_KIND,
    OTHER_KIND_CONFIG,
    Answer,
    Choice,
    Instant,
    JsonValue,
    Name,
    RequestBody,
    StorableExtras,
    Text,
    Uuid,
    by_job_type,
)
from crmferry.web.api.models.jobs import (
    DataTypeName,
    Email,
    KnownDataType,
    KnownJobType,
    TimeZoneName,
)
from crmferry.web.api.models.options import ExportOptions, ImportOptions, Mapping

Cron = Annotated[Text, Field(max_length=200, description="Five fields, e.g. `0 8 * * 1`.")]


Source = Annotated[
    dict[Text, JsonValue],
    WithJsonSchema(
        {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string"},
                "url": {"type": "string"},
                "pick": {"type": "string", "enum": ["newest", "each_new"]},
                "credentials": {"type": "object", "additionalProperties": True},
            },
            "description": 'Where each run fetches its file, e.g. {"type": "url", "url": '
            '"https://…/contacts.csv"} or {"type": "s3", "url": "s3://bucket/in/*.csv", '
            '"pick": "newest" | "each_new", "credentials": {...}}; checked by its '
            'registered source type. Credentials are answered as {"set": true, ...}.',
        }
    ),
]


class ScheduleNotify(RequestBody):
    """Who is told of the schedule's runs, beyond its owner's own preference."""

    emails: list[Email] = Field(max_length=MAX_EMAILS)
    on: list[ScheduleOutcome] | None = Field(
        default=None,
        description="changed (the first run, a first failure, and the recovery after "
        "failures), failed "
        "(every failed run), completed (every completed run); default: changed.",
    )
    attach: bool | None = Field(default=None, description="Attach an export's file.")


class ScheduleRequest(RequestBody):
    """What every schedule says. Whether its kind takes a source and a mapping is the
    kind's rule (an import needs a source; an export has neither)."""

    name: Name
    data_type: DataTypeName
    cron: Cron
    timezone: TimeZoneName
    enabled: bool = True
    notify: ScheduleNotify | None = None
    template_id: UUID | None = None
    source: Source | None = None
    mapping: Mapping | None = Field(
        default=None, description="An import's; default: the mapping suggested for each file."
    )


class ImportScheduleRequest(ScheduleRequest):
    """An import fetches its file from `source` at each run."""

    job_type: Literal["import"]
    options: ImportOptions | None = None


class ExportScheduleRequest(ScheduleRequest):
    job_type: Literal["export"]
    options: ExportOptions | None = None


class OtherScheduleRequest(ScheduleRequest, StorableExtras):
    """A schedule of a kind a plugin registers: its kind's `check_schedule` checks it."""

    model_config = OTHER_KIND_CONFIG

    job_type: Annotated[Text, Choice(lambda: job_types_with("check_schedule"))]
    options: dict[Text, JsonValue] | None = None


class BatchScheduleItem(RequestBody):
    """One file of a batch schedule, fetched from its own source at each run."""

    source: Source
    data_type: DataTypeName | None = Field(
        default=None, description="Default: the type each downloaded file's headers fit best."
    )
    mapping: Mapping | None = Field(default=None, description="Default: the suggested mapping.")
    options: ImportOptions | None = None


class BatchScheduleOptions(RequestBody):
    """A batch schedule's files and the batch's own options."""

    items: list[BatchScheduleItem] = Field(min_length=1, max_length=MAX_ITEMS)
    on_error: Annotated[Text, Choice(lambda: ON_ERROR, enforce=False)] | None = None
    dry_run: bool | None = None


class BatchScheduleRequest(RequestBody):
    """A recurring batch import: every run downloads each file and imports them all as one
    job (see POST /jobs, `import_batch`)."""

    job_type: Literal["import_batch"]
    name: Name
    cron: Cron
    timezone: TimeZoneName
    enabled: bool = True
    options: BatchScheduleOptions


ScheduleBody = Annotated[
    Annotated[ImportScheduleRequest, Tag("import")]
    | Annotated[ExportScheduleRequest, Tag("export")]
    | Annotated[BatchScheduleRequest, Tag("import_batch")]
    | Annotated[OtherScheduleRequest, Tag(OTHER_KIND)],
    Discriminator(by_job_type(ImportScheduleRequest, ExportScheduleRequest, BatchScheduleRequest)),
]


ChangedOptions = Annotated[
    dict[Text, JsonValue],
    WithJsonSchema(
        {
            "anyOf": [
                {"$ref": "#/components/schemas/ImportOptions"},
                {"$ref": "#/components/schemas/ExportOptions"},
                {"$ref": "#/components/schemas/BatchScheduleOptions"},
            ]
        }
    ),
]
"""A schedule's new options, checked by its own kind's rules (its job type is stored)."""


class ScheduleChanges(RequestBody):
    """What PATCH may change (the job and data type stay); only the keys sent change."""

    name: Name | None = None
    cron: Cron | None = None
    timezone: TimeZoneName | None = None
    enabled: bool | None = None
    notify: ScheduleNotify | None = None
    template_id: UUID | None = None
    source: Source | None = None
    mapping: Mapping | None = None
    options: ChangedOptions | None = None


class Schedule(Answer):
    id: Uuid
    organization_id: Uuid
    created_by: Uuid | None = Field(
        description="The owner: its jobs are made as theirs (whoever last edited it)."
    )
    owner_name: str | None = Field(description="Null once the owner is no longer a member.")
    name: str
    job_type: KnownJobType
    data_type: KnownDataType
    options: dict[str, Any]
    mapping: dict[str, str | None] | None
    source: dict[str, Any] | None
    template_id: Uuid | None
    cron: str
    timezone: str
    enabled: bool
    next_run_at: Instant | None = Field(description="Null while the schedule is disabled.")
    last_run_at: Instant | None
    last_job_id: Uuid | None
    consecutive_failures: int = Field(description="Failed runs in a row (0 after a success).")
    last_outcome: Literal["completed", "failed"] | None
    paused_reason: str | None = Field(description="Why it was paused, while it is.")
    notify: dict[str, Any] | None
    created_at: Instant
    updated_at: Instant


class ScheduleList(Answer):
    items: list[Schedule]


class TemplateRequest(RequestBody):
    name: Name
    data_type: DataTypeName


class ImportTemplateRequest(TemplateRequest):
    job_type: Literal["import"]
    mapping: Mapping
    options: ImportOptions | None = None


class ExportTemplateRequest(TemplateRequest):
    job_type: Literal["export"]
    options: ExportOptions | None = None


class OtherTemplateRequest(TemplateRequest, StorableExtras):
    """A template of a kind a plugin registers: its kind's `check_template` checks it."""

    model_config = OTHER_KIND_CONFIG

    job_type: Annotated[Text, Choice(lambda: job_types_with("check_template"))]
    mapping: Mapping | None = None
    options: dict[Text, JsonValue] | None = None


TemplateBody = Annotated[
    Annotated[ImportTemplateRequest, Tag("import")]
    | Annotated[ExportTemplateRequest, Tag("export")]
    | Annotated[OtherTemplateRequest, Tag(OTHER_KIND)],
    Discriminator(by_job_type(ImportTemplateRequest, ExportTemplateRequest)),
]


class Template(Answer):
    id: Uuid
    name: str
    job_type: KnownJobType
    data_type: KnownDataType
    mapping: dict[str, str | None] | None
    options: dict[str, Any] | None
    created_by: Uuid | None
    created_at: Instant


class TemplateList(Answer):
    items: list[Template]
