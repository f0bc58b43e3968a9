"""Job kinds: what the engine runs. One engine, many kinds.

An import, an export and a revert are each a `JobKind` registered here by
`job_type`. The engine knows how to claim, lease, heartbeat, finish, retry,
cancel and fire schedules; a kind knows its own input and work, through hooks
the engine calls:

* `prepare` when a job is created (`POST /jobs`, the CLI): the request checked;
* `run` in a worker, in the job's tenant transaction: the outcome, including the
  job columns to record with "completed" (`JobOutcome`);
* `check_template` when a template of the kind is saved (None: no templates);
* `check_schedule` when a schedule of the kind is saved (None: it cannot be
  scheduled), with `needs_source` when its schedules fetch their file from a
  source (see `sources.py`);
* `schedule_job` when a schedule fires: the job of one occurrence;
* `own_data_type`: for a kind whose jobs span data types (a batch import), the
  `data_type` its jobs are recorded with; its requests name none.

A kind may end an attempt with `RetryLater` (crmferry.errors): nothing it did is kept,
and the job is pending again after a delay (its own, or the engine's backoff) until
its `max_attempts` are spent. An `internal` kind's jobs are made by the engine only
(the outbox's deliveries, crmferry/notify): POST /jobs refuses the type.

Adding a kind is a registration (`register`), not a change of the engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn, Database
from crmferry.jobs.registry import Registry
from crmferry.records import DataType


@dataclass(frozen=True)
class NewJob:
    """A request checked and normalised by its kind, ready to become a job row."""

    options: dict[str, Any]
    mapping: dict[str, str] | None = None
    file_name: str | None = None
    upload_id: UUID | None = None
    progress_total: int | None = None
    reverts_job_id: UUID | None = None


@dataclass
class JobOutcome:
    """What a run produced. `failed` with data changes: the engine rolls the data
    back but keeps the outcome's counts, message and error report.

    With "completed" (never after a failure) the engine also records the input the
    run settled on, for the fields that are set: `upload_id`, `mapping` and `options`
    replace the job's (a scheduled import's downloaded file and the mapping it ran
    with), and `result_file_name` is the download name of `result_path` (kept in the
    job's options; without it the name is `<data_type>-<finished>.<ext>`).
    `result_path` and `error_report_path` are local files in `files_dir()`; the job row
    keeps their storage keys. `result_key` and `error_report_key` instead name files
    already in the file store, written there by the kind
    (`FileStore.writing(ctx.file_key(name))`).
    """

    record_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    result_path: Path | None = None
    result_key: str | None = None
    result_size: int | None = None
    error_report_path: Path | None = None
    error_report_key: str | None = None
    error_message: str | None = None
    failed: bool = False
    result_file_name: str | None = None
    upload_id: UUID | None = None
    mapping: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    items: list[dict[str, Any]] | None = None  # a batch's per-file results, kept either way


@dataclass(frozen=True)
class SavedInput:
    """A job input kept for later: a template's mapping and options, or a schedule's
    (with its source, when its kind fetches a file)."""

    options: dict[str, Any]
    mapping: dict[str, Any] | None = None
    source: dict[str, Any] | None = None


class JobContext(Protocol):
    """What a running job sees. `conn` is the job's tenant transaction: its data
    changes and the job's final status commit together (exactly-once effect)."""

    job: dict[str, Any]
    conn: Conn
    db: Database
    settings: Settings

    @property
    def job_id(self) -> UUID: ...

    @property
    def organization_id(self) -> UUID: ...

    def progress(self, done: int, total: int | None = None) -> None:
        """Report rows done (throttled to about one update a second); renews the lease.
        Raises JobCancelled when a cancel was requested, LeaseLost when the claim is gone."""

    def check(self) -> None:
        """Raise JobCancelled or LeaseLost as `progress` would, without a database call."""

    def files_dir(self) -> Path:
        """A local folder of this attempt's own to write result and report files in. The
        engine puts the files the outcome names into the file store before the attempt
        commits, and removes what the attempt wrote when it does not."""

    def file_key(self, name: str) -> str:
        """The storage key of a file of this attempt's own called `name`, for a kind that
        writes it into the store itself; removed with the attempt's files when the
        attempt does not commit."""


# (conn, principal, data type, request body, settings) → the job to insert; raises
# ValidationFailed, NotFound, Forbidden. conn is the request's tenant transaction.
Prepare = Callable[[Conn, Principal, DataType, dict[str, Any], Settings], NewJob]
# the work, in the job's tenant transaction (ctx.conn)
Run = Callable[[JobContext], JobOutcome]
# (conn, data type, what is being saved, settings) → what to keep; ValidationFailed
CheckSaved = Callable[[Conn, DataType, SavedInput, Settings], SavedInput]
# (conn, data type, the schedule's input with its template's merged in, settings) → the job
ScheduleJob = Callable[[Conn, DataType, SavedInput, Settings], NewJob]


def default_schedule_job(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> NewJob:
    """A schedule's job takes its options and mapping as they are."""
    return NewJob(options=dict(saved.options), mapping=saved.mapping)


@dataclass(frozen=True)
class JobKind:
    """One kind of job and the hooks the engine calls (see the module's docstring)."""

    job_type: str
    prepare: Prepare
    run: Run
    check_template: CheckSaved | None = None
    check_schedule: CheckSaved | None = None
    schedule_job: ScheduleJob = default_schedule_job
    needs_source: bool = False
    # made by the engine only (the outbox's deliveries): no POST /jobs, no job list
    internal: bool = False
    # the data_type of every job of the kind, when it is not one data type's (a batch of
    # several files): its requests name none
    own_data_type: str | None = None


KINDS: Registry[JobKind] = Registry("job kind")

BUILTIN_MODULES = (
    "crmferry.exports.kind",
    "crmferry.imports.kind",
    "crmferry.imports.batch_kind",
    "crmferry.imports.revert_kind",
    "crmferry.imports.url_source",
    "crmferry.notify.in_app",
    "crmferry.notify.mail.kind",
    "crmferry.webhooks.delivery",
    "crmferry.webhooks.admins_told",
    "crmferry.imports.s3_source",
)


def described_type(kind: JobKind, data_type: str) -> DataType:
    """The data type the kind's hooks are given: the job's own, or for a kind whose jobs
    span types (`own_data_type`, a batch whose files name theirs) the first registered
    type, which such a kind does not read."""
    from crmferry.records import DATA_TYPES

    if kind.own_data_type is not None:
        return next(iter(DATA_TYPES.values()))
    return DATA_TYPES[data_type]


def register(kind: JobKind, *, replace: bool = False) -> JobKind:
    """Make a kind known to the API and the workers (called when its module loads).

    AlreadyRegistered when its job_type is taken; `replace=True` replaces the kind on
    purpose, in this process only (a plugin's or a test's stand-in for a built-in one).
    The built-in kinds are registered first, so a plugin can never take one's name
    unawares, nor have a built-in one replace it back."""
    load_builtin_kinds()
    return KINDS.add(kind.job_type, kind, replace=replace)


def unregister(job_type: str) -> JobKind:
    """Forget a kind (a test or plugin undoing its own registration); KeyError if none."""
    return KINDS.remove(job_type)


def kind_for(job_type: str) -> JobKind:
    """The kind registered for `job_type`; KeyError if none."""
    load_builtin_kinds()
    return KINDS.get(job_type)


def registered_job_types() -> list[str]:
    """Every job type a job may be created for (not the internal ones), sorted."""
    load_builtin_kinds()
    return [k.job_type for k in KINDS.items() if not k.internal]


def job_types_with(hook: str) -> list[str]:
    """The job types whose kind has `hook` ("check_template", "check_schedule"), sorted."""
    load_builtin_kinds()
    return [k.job_type for k in KINDS.items() if getattr(k, hook) is not None]


_builtins_loaded = False


def load_builtin_kinds() -> None:
    """Import the modules that register the built-in kinds (import, export, revert) and
    source types (url), once."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    # marked first: the built-in modules' own registrations come through here
    _builtins_loaded = True
    try:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
    except BaseException:
        _builtins_loaded = False
        raise


def load_plugins(modules: Iterable[str]) -> None:
    """Import modules that register job kinds or source types (`--plugin`, each item
    may be a comma list), after the built-in ones: a plugin replaces a built-in kind
    only with `replace=True`, in this process only."""
    load_builtin_kinds()
    for name in modules:
        for part in name.split(","):
            if part.strip():
                importlib.import_module(part.strip())
