"""POST /jobs bodies (one model per job type, told apart by `job_type`) and the job object.

Adding a job type's body is one class below and one member of `JobBody`'s union.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Discriminator, Field, Tag, WithJsonSchema

from crmferry.accounts.admin import normalise_email
from crmferry.imports.batch import MAX_ITEMS
from crmferry.imports.options import ON_ERROR
from crmferry.jobs.kinds import registered_job_types
from crmferry.jobs.model import STATUSES
from crmferry.jobs.notify_request import MAX_EMAILS, Outcome
from crmferry.jobs.timing import zone_named
from crmferry.records import DATA_TYPES
from crmferry.web.api.models.base import (
    OTHER_KIND,
    OTHER_KIND_CONFIG,
    Answer,
    Choice,
    Instant,
    JsonValue,
    Page,
    RequestBody,
    StorableExtras,
    Text,
    Uuid,
    by_job_type,
    domain_rule,
)
from crmferry.web.api.models.options import ExportOptions, ImportOptions, Mapping

DataTypeName = Annotated[Text, Choice(lambda: DATA_TYPES)]
JobTypeName = Annotated[Text, Choice(registered_job_types)]
StatusName = Annotated[Text, Choice(lambda: STATUSES)]
# in answers the choices are documented, never enforced: a value the server wrote is
# sent as it is (a kind or a data type may be registered in one process only)
KnownDataType = Annotated[str, Choice(lambda: DATA_TYPES, enforce=False)]
KnownJobType = Annotated[str, Choice(registered_job_types, enforce=False)]
KnownStatus = Annotated[str, Choice(lambda: STATUSES, enforce=False)]
TimeZoneName = Annotated[
    Text,
    Field(max_length=100, description="An IANA time zone, e.g. Europe/Paris."),
    AfterValidator(domain_rule(lambda name: zone_named(name).key)),
]
ScheduledTime = Annotated[
    Text,
    Field(max_length=100),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with an offset, or a local time without one plus "
            "`timezone`. Null: now.",
        }
    ),
]
Email = Annotated[Text, Field(max_length=320), AfterValidator(domain_rule(normalise_email))]


class Notify(RequestBody):
    """Who is told when the job ends (e-mail addresses are checked; sending comes later)."""

    emails: list[Email] = Field(max_length=MAX_EMAILS)
    on: list[Outcome] | None = Field(
        default=None, description="The outcomes to tell about; default completed and failed."
    )
    attach: bool | None = Field(default=None, description="Attach the export's file.")


class JobTiming(RequestBody):
    """When a job runs, how urgent it is, and whom it tells."""

    scheduled_time: ScheduledTime | None = None
    timezone: TimeZoneName | None = None
    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher runs first.")
    notify: Notify | None = None


class JobRequest(JobTiming):
    """What every job request of one data type may say, whatever its type."""

    data_type: DataTypeName
    template_id: UUID | None = Field(
        default=None, description="A template whose mapping and options fill what this leaves out."
    )


class BatchItemRequest(RequestBody):
    """One file of a batch import."""

    upload_id: UUID = Field(description="From POST /uploads (or POST /uploads/batch).")
    data_type: DataTypeName | None = Field(
        default=None, description="Default: the upload's, else the type its headers fit best."
    )
    mapping: Mapping | None = Field(default=None, description="Default: the suggested mapping.")
    options: ImportOptions | None = Field(
        default=None,
        description="This file's mode, date format, decimal mark (not dry_run, on_error).",
    )


class BatchOptions(RequestBody):
    """The batch's own options, for all of its files."""

    on_error: Annotated[Text, Choice(lambda: ON_ERROR, enforce=False)] | None = Field(
        default=None,
        description="`abort` (default): one bad row anywhere and nothing is written; `skip`.",
    )
    dry_run: bool | None = Field(
        default=None, description="Run every file, report, then roll all of it back."
    )


class BatchJobRequest(JobTiming):
    """Several files imported as one job, in one transaction, in the order of their links."""

    job_type: Literal["import_batch"]
    items: list[BatchItemRequest] = Field(min_length=1, max_length=MAX_ITEMS)
    options: BatchOptions | None = None


class ImportJobRequest(JobRequest):
    job_type: Literal["import"]
    upload_id: UUID = Field(description="From POST /uploads.")
    mapping: Mapping | None = None
    options: ImportOptions | None = None


class ExportJobRequest(JobRequest):
    job_type: Literal["export"]
    options: ExportOptions | None = None


class OtherJobRequest(JobRequest, StorableExtras):
    """A job of a kind a plugin registers: its kind's `prepare` checks the rest."""

    model_config = OTHER_KIND_CONFIG

    job_type: JobTypeName
    options: dict[Text, JsonValue] | None = None
    mapping: Mapping | None = None


JobBody = Annotated[
    Annotated[ImportJobRequest, Tag("import")]
    | Annotated[ExportJobRequest, Tag("export")]
    | Annotated[BatchJobRequest, Tag("import_batch")]
    | Annotated[OtherJobRequest, Tag(OTHER_KIND)],
    Discriminator(by_job_type(ImportJobRequest, ExportJobRequest, BatchJobRequest)),
]


class Progress(Answer):
    done: int
    total: int | None


class Counts(Answer):
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    failed: int


class JobItem(Answer):
    """One file of a batch import, in run order, and what it did."""

    file_name: str | None
    data_type: KnownDataType | None
    upload_id: Uuid | None
    counts: Counts
    error_message: str | None
    error_report_url: str | None = Field(description="GET it for this file's CSV of bad rows.")


class Job(Answer):
    """A job as every endpoint, the events stream and the CLI show it."""

    id: Uuid
    organization_id: Uuid
    created_by: Uuid | None
    creator_name: str | None
    job_type: KnownJobType
    data_type: KnownDataType
    status: KnownStatus
    scheduled_time: Instant
    created_at: Instant
    started_at: Instant | None
    completed_at: Instant | None
    updated_at: Instant | None
    error_message: str | None
    record_count: int | None
    file_name: str | None
    priority: int
    attempts: int
    max_attempts: int
    cancel_requested: bool
    progress: Progress
    counts: Counts
    options: dict[str, Any]
    mapping: dict[str, str | None] | None
    timezone: str | None
    notify: dict[str, Any] | None
    upload_id: Uuid | None
    template_id: Uuid | None
    schedule_id: Uuid | None
    occurrence_at: Instant | None
    retry_of: Uuid | None
    reverts_job_id: Uuid | None
    result_url: str | None = Field(description="GET it for the export's file.")
    error_report_url: str | None = Field(description="GET it for the CSV of bad rows.")
    items: list[JobItem] | None = Field(
        default=None, description="A batch import's files, in run order; null otherwise."
    )


class JobPage(Page):
    items: list[Job]


class Change(Answer):
    id: int
    record_id: Uuid
    action: Literal["insert", "update"]
    previous: dict[str, Any] | None = Field(description="The record before an update.")
    created_at: Instant


class ChangePage(Page):
    items: list[Change]


class RevertRequest(RequestBody):
    force: bool = Field(
        default=False, description="Revert even when a later import changed the same records."
    )
