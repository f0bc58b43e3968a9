"""Where a schedule's jobs get their file: source types, registered by name.

A schedule of a kind that `needs_source` names one, `{"type": "<name>", ...}`. The
engine checks it when the schedule is saved (`check`), names each job's file after
it (`file_name`) and hands it to the job in its options (`options["source"]`); the
kind fetches the file when the job runs (`fetch`) and says where from (`location`).
Adding a source (S3, SFTP) is a registration, not a change of the engine or the kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmferry.config import Settings
from crmferry.errors import ValidationFailed
from crmferry.jobs.registry import Registry

if TYPE_CHECKING:
    from crmferry.jobs.kinds import JobContext


@dataclass(frozen=True)
class SourceType:
    """One way of fetching a scheduled job's file.

    * `check(source, settings)`: the source as the schedule keeps it, when it is saved;
      ValidationFailed naming the field (`source`, `source.url`, ...) otherwise.
    * `file_name(source)`: the job's file name ("contacts.csv").
    * `location(source)`: where the file comes from, for messages ("https://…/a.csv").
    * `fetch(ctx, source)`: download the file and record it as an upload on the job's
      transaction, checking `ctx.check()` between chunks; the upload row (`headers` a
      list). A CrmFerryError saying what went wrong fails the job.
    * `example`: the shape of such a source, for messages.
    * `fan_out(ctx, source)` (optional): a source that makes one job per file (an S3
      source's `each_new`) makes them here, in the job's transaction, and answers what
      it did (kept in the job's options as `source_objects`; the job imports nothing
      itself); None to fetch as usual.
    """

    name: str
    check: Callable[[Mapping[str, Any], Settings], dict[str, Any]]
    file_name: Callable[[Mapping[str, Any]], str]
    location: Callable[[Mapping[str, Any]], str]
    fetch: Callable[[JobContext, Mapping[str, Any]], dict[str, Any]]
    example: str
    fan_out: Callable[[JobContext, Mapping[str, Any]], dict[str, Any] | None] | None = None


SOURCES: Registry[SourceType] = Registry("source type")


def register_source(source_type: SourceType, *, replace: bool = False) -> SourceType:
    """Make a source type known (called when its module loads); AlreadyRegistered when
    its name is taken, unless `replace` (on purpose, in this process only)."""
    from crmferry.jobs.kinds import load_builtin_kinds

    load_builtin_kinds()  # the built-in ones first, as for kinds
    return SOURCES.add(source_type.name, source_type, replace=replace)


def source_for(source: object) -> SourceType:
    """The registered type of a `{"type": ...}` source; ValidationFailed (field
    `source`) for anything else."""
    from crmferry.jobs.kinds import load_builtin_kinds

    load_builtin_kinds()
    name = source.get("type") if isinstance(source, Mapping) else None
    try:
        return SOURCES.get(str(name)) if name is not None else _unknown()
    except KeyError:
        return _unknown()


def examples() -> str:
    """Every registered source's shape, for messages."""
    return " or ".join(s.example for s in SOURCES.items())


def _unknown() -> SourceType:
    message = f"must be {examples()}"
    raise ValidationFailed(f"source {message}.", [{"field": "source", "message": message}])
