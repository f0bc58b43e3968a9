"""The `import_batch` job kind: several files imported as one job, in one transaction
(see `batch.py` for the order and the options).

The job keeps its files, in run order, in `options.items`, and its results per file
in `items` (counts, the file's own error report), written with its final status
whether it completed or failed; its `counts` are the sums. Progress runs across the
whole batch; a cancel is seen between staged batches and between files, and rolls back
everything, as does any failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError, JobCancelled, LeaseLost, ValidationFailed
from crmferry.imports.batch import (
    BatchOptions,
    check_scheduled_items,
    fetched_item,
    file_problem,
    parse_batch_options,
    prepare_items,
    run_order,
)
from crmferry.imports.kind import run_file
from crmferry.imports.options import parse_import_options
from crmferry.imports.uploads import forget_upload, get_upload
from crmferry.jobs.kinds import (
    JobContext,
    JobKind,
    JobOutcome,
    NewJob,
    SavedInput,
    register,
)
from crmferry.jobs.sources import source_for
from crmferry.records import DataType, get_data_type

JOB_TYPE = "import_batch"
BATCH = "batch"  # the data_type of a batch's job: its files name their own
WRITE_COUNTS = ("inserted", "updated", "unchanged", "skipped")

# asked at each boundary between files: progress writes are throttled (about once a
# second), so without it a cancel could wait until the batch's last file had run
CANCEL_REQUESTED = """
SELECT cancel_requested FROM scheduled_jobs WHERE id = %(job)s
"""


class _DryRunDone(Exception):
    """Leave a dry run's savepoint, undoing what its files wrote."""


def prepare_batch(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Check every file (404 for an upload not of this organization, 422 naming
    `items[i]...` otherwise) and the batch's options; the files in run order."""
    principal.require("member")
    batch = parse_batch_options(body.get("options"))
    items = prepare_items(conn, body.get("items"))
    estimates = [i["row_estimate"] for i in items]
    return NewJob(
        options={**batch.as_dict(), "items": items},
        file_name=", ".join(i["file_name"] for i in items)[:500],
        progress_total=sum(e or 0 for e in estimates) or None,
    )


def check_batch_schedule(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> SavedInput:
    """A batch schedule: its options, whose `items` each name a source (422 naming
    `options.items[i]...`); no mapping or source of its own."""
    if saved.mapping is not None or saved.source is not None:
        message = "a batch schedule's files each name their source and mapping in options.items"
        raise ValidationFailed(f"{message}.", [{"field": "source", "message": message}])
    options = dict(saved.options or {})
    items = check_scheduled_items(options.pop("items", None), settings)
    batch = parse_batch_options(options)
    return SavedInput({**batch.as_dict(), "items": items})


def batch_schedule_job(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> NewJob:
    """One run of a batch schedule: its files, to be fetched when it runs."""
    items = saved.options.get("items") or []
    return NewJob(
        options=dict(saved.options), file_name=", ".join(i["file_name"] for i in items)[:500]
    )


class _ItemContext:
    """The job's context as one file's source sees it (the upload names that file's type)."""

    def __init__(self, ctx: JobContext, data_type: str | None) -> None:
        self._ctx = ctx
        self.job = {**ctx.job, "data_type": data_type}
        self.conn, self.db, self.settings = ctx.conn, ctx.db, ctx.settings

    @property
    def job_id(self) -> UUID:
        return self._ctx.job_id

    @property
    def organization_id(self) -> UUID:
        return self._ctx.organization_id

    def progress(self, done: int, total: int | None = None) -> None:
        self._ctx.progress(done, total)

    def check(self) -> None:
        self._ctx.check()

    def files_dir(self) -> Path:
        return self._ctx.files_dir()

    def file_key(self, name: str) -> str:
        return self._ctx.file_key(name)


def _fetched(
    ctx: JobContext, items: list[dict[str, Any]], kept: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The files, a scheduled run's downloaded first (each recorded as an upload on the
    job's transaction, kept in `kept`), in run order."""
    ready = []
    for item in items:
        if item.get("upload_id") is not None:
            ready.append(item)
            continue
        try:
            upload = source_for(item["source"]).fetch(
                _ItemContext(ctx, item.get("data_type")), item["source"]
            )
            kept.append(upload)
            ready.append(fetched_item(item, upload))
        except CrmFerryError as exc:
            if isinstance(exc, JobCancelled | LeaseLost):
                raise
            raise _FileFailed(file_problem(item, exc)) from exc
    return run_order(ready)


class _FileFailed(Exception):
    """A file of the batch could not be fetched or does not fit: the batch fails."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def run_batch(ctx: JobContext) -> JobOutcome:
    """Every file in order on the job's transaction; failed (all rolled back) when a file
    cannot be fetched or read or, with on_error abort, when any row is bad."""
    stored = ctx.job["options"] or {}
    batch = parse_batch_options({k: stored[k] for k in ("on_error", "dry_run") if k in stored})
    downloads: list[dict[str, Any]] = []
    try:
        outcome = _run(ctx, stored.get("items") or [], batch, downloads)
    except BaseException:
        _forget(ctx.settings, downloads)
        raise
    if outcome.failed:
        _forget(ctx.settings, downloads)  # their upload rows roll back with the job
    return outcome


def _forget(settings: Settings, downloads: list[dict[str, Any]]) -> None:
    for upload in downloads:
        forget_upload(settings, upload["storage_path"])


def _run(
    ctx: JobContext,
    stored_items: list[dict[str, Any]],
    batch: BatchOptions,
    downloads: list[dict[str, Any]],
) -> JobOutcome:
    results: list[dict[str, Any]] = []
    try:
        items = _fetched(ctx, stored_items, downloads)
    except _FileFailed as exc:
        return _outcome(results, batch, failed_file=exc.message)
    try:
        if batch.dry_run:
            try:
                with ctx.conn.transaction():
                    _run_items(ctx, items, results)
                    raise _DryRunDone
            except _DryRunDone:
                pass
        else:
            _run_items(ctx, items, results)
    except CrmFerryError as exc:
        if isinstance(exc, JobCancelled | LeaseLost):
            raise
        item = items[len(results)] if len(results) < len(items) else items[-1]
        return _outcome(results, batch, failed_file=file_problem(item, exc))
    return _outcome(results, batch)


def _run_items(ctx: JobContext, items: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    estimates = sum(i.get("row_estimate") or 0 for i in items)
    total = estimates or int(ctx.job["progress_total"] or 0) or None
    done = 0
    for index, item in enumerate(items):
        ctx.progress(done, total)
        if index > 0:
            _stop_if_cancelled(ctx)  # a boundary between files: a cancel stops here
        upload = get_upload(ctx.conn, item["upload_id"])
        options = parse_import_options({**item["options"], "on_error": "skip", "dry_run": False})

        def progress(rows: int, _: int | None, before: int = done) -> None:
            ctx.progress(before + rows, max(total or 0, before + rows) or None)

        outcome = run_file(
            ctx,
            get_data_type(item["data_type"]),
            upload,
            {h: f for h, f in item["mapping"].items() if f},
            options,
            progress,
            f"item-{index + 1}-errors.csv",
        )
        done += outcome.record_count
        results.append(_result(item, outcome))
    ctx.progress(done, done)


def _stop_if_cancelled(ctx: JobContext) -> None:
    row = ctx.conn.execute(CANCEL_REQUESTED, {"job": ctx.job_id}).fetchone()
    if row is not None and row["cancel_requested"]:
        raise JobCancelled("Cancelled between two files of the batch; nothing was kept.")


def _result(item: dict[str, Any], outcome: JobOutcome) -> dict[str, Any]:
    """A file's result; its `report` (a file of the attempt) is stored by the engine with
    the job's, which records its key as `report_path`."""
    return {
        "file_name": item["file_name"],
        "data_type": item["data_type"],
        "upload_id": item["upload_id"],
        "record_count": outcome.record_count,
        "counts": outcome.counts,
        "error_message": outcome.error_message,
        "report": outcome.error_report_key or outcome.error_report_path,
    }


def _outcome(
    results: list[dict[str, Any]], batch: BatchOptions, failed_file: str | None = None
) -> JobOutcome:
    bad = sum(r["counts"].get("failed", 0) for r in results)
    aborted = failed_file is not None or (bad > 0 and batch.on_error == "abort")
    if aborted and not batch.dry_run:
        for r in results:  # nothing of any file is kept
            r["counts"] = {**r["counts"], **dict.fromkeys(WRITE_COUNTS, 0)}
    totals = {k: sum(r["counts"].get(k, 0) for r in results) for k in (*WRITE_COUNTS, "failed")}
    reports = [r["report"] for r in results if r["report"] is not None]
    message = failed_file or _summary(results, bad, aborted)
    return JobOutcome(
        record_count=sum(r["record_count"] for r in results),
        counts=totals,
        error_report_key=_key(reports[0]) if reports else None,
        error_report_path=_path(reports[0]) if reports else None,
        error_message=("Nothing was imported: " + message) if aborted and message else message,
        failed=aborted,
        items=results,
    )


def _summary(results: list[dict[str, Any]], bad: int, aborted: bool) -> str | None:
    if not bad:
        return None
    files = [
        f"{r['file_name']} ({r['counts']['failed']})" for r in results if r["counts"]["failed"]
    ]
    rows = "1 bad row" if bad == 1 else f"{bad} bad rows"
    tail = "" if aborted else "; they were skipped"
    return f"{rows} in {', '.join(files)}{tail}. Each file's report lists them."


register(
    JobKind(
        JOB_TYPE,
        prepare_batch,
        run_batch,
        check_schedule=check_batch_schedule,
        schedule_job=batch_schedule_job,
        own_data_type=BATCH,
    )
)


def _key(report: str | Path) -> str | None:
    """A file's report as the key it was stored under (None for a local file)."""
    return report if isinstance(report, str) else None


def _path(report: str | Path) -> Path | None:
    """A file's report as a local file to store (None when it is in the store)."""
    return report if isinstance(report, Path) else None
