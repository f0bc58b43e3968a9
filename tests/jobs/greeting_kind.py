"""A job kind the engine has never heard of (not registered here: see
greeting_plugin.py, and the `greeting` fixture of test_kinds.py): it writes the
greeting of its options to a file, named by its outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import ValidationFailed
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, SavedInput
from crmferry.records import DataType


def _greeting(options: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(options.get("greeting", ""), str):
        message = "must be text"
        raise ValidationFailed(
            f"options.greeting {message}.", [{"field": "options.greeting", "message": message}]
        )
    return dict(options)


def prepare_greeting(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    principal.require("member")
    return NewJob(options=_greeting(body.get("options") or {}), file_name="greeting.txt")


def run_greeting(ctx: JobContext) -> JobOutcome:
    path = ctx.files_dir() / "greeting.txt"
    path.write_text(ctx.job["options"].get("greeting", "hello"))
    return JobOutcome(
        record_count=1,
        result_path=path,
        result_size=path.stat().st_size,
        result_file_name="greeting-for-you.txt",
        options={**ctx.job["options"], "written": True},
    )


def check_greeting(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> SavedInput:
    return SavedInput(_greeting(saved.options))


def greeting_job(conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings) -> NewJob:
    return NewJob(options=_greeting(saved.options), file_name="scheduled-greeting.txt")


GREETING = JobKind(
    "greeting",
    prepare_greeting,
    run_greeting,
    check_template=check_greeting,
    check_schedule=check_greeting,
    schedule_job=greeting_job,
)
