"""Job kinds: what the engine runs. One engine, many kinds.

An import, an export and a revert are each a `JobKind` registered here by
`job_type`. The engine knows how to claim, lease, heartbeat, finish, retry and
cancel; a kind knows how to check a request (`prepare`, at job creation) and
how to do the work (`run`, in a worker).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn, Database
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
    back but keeps the outcome's counts, message and error report."""

    record_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    result_path: Path | None = None
    result_size: int | None = None
    error_report_path: Path | None = None
    error_message: str | None = None
    failed: bool = False


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
        """A folder of this job's own for result and report files."""


Prepare = Callable[[Conn, Principal, DataType, dict[str, Any], Settings], NewJob]
Run = Callable[[JobContext], JobOutcome]


@dataclass(frozen=True)
class JobKind:
    job_type: str
    prepare: Prepare
    run: Run


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Make a kind known to the API and the workers (called at import time)."""
    _KINDS[kind.job_type] = kind
    return kind


def kind_for(job_type: str) -> JobKind:
    """The kind registered for `job_type`; KeyError if none."""
    load_builtin_kinds()
    return _KINDS[job_type]


def registered_job_types() -> list[str]:
    load_builtin_kinds()
    return sorted(_KINDS)


BUILTIN_KIND_MODULES = (
    "crmferry.exports.kind",
    "crmferry.imports.kind",
    "crmferry.imports.revert_kind",
)


def load_builtin_kinds() -> None:
    """Import the modules that register the built-in kinds (import, export, revert)."""
    import importlib

    for module in BUILTIN_KIND_MODULES:
        importlib.import_module(module)
