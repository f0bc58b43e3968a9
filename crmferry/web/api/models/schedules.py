"""Schedule and template requests and objects."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Discriminator, Field, Tag, WithJsonSchema

from crmferry.jobs.kinds import job_types_with
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


class ScheduleRequest(RequestBody):
    """What every schedule says. Whether its kind takes a source and a mapping is the
    kind's rule (an import needs a source; an export has neither)."""

    name: Name
    data_type: DataTypeName
    cron: Cron
    timezone: TimeZoneName
    enabled: bool = True
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


ScheduleBody = Annotated[
    Annotated[ImportScheduleRequest, Tag("import")]
    | Annotated[ExportScheduleRequest, Tag("export")]
    | Annotated[OtherScheduleRequest, Tag(OTHER_KIND)],
    Discriminator(by_job_type(ImportScheduleRequest, ExportScheduleRequest)),
]


ChangedOptions = Annotated[
    dict[Text, JsonValue],
    WithJsonSchema(
        {
            "anyOf": [
                {"$ref": "#/components/schemas/ImportOptions"},
                {"$ref": "#/components/schemas/ExportOptions"},
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
    template_id: UUID | None = None
    source: Source | None = None
    mapping: Mapping | None = None
    options: ChangedOptions | None = None


class Schedule(Answer):
    id: Uuid
    organization_id: Uuid
    created_by: Uuid | None
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
