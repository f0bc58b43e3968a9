"""The `import_batch` job kind: several files imported as one job, in one transaction
(see `batch.py` for the order and the options).

The job keeps its files, in run order, in `options.items`, and its results per file
in `items` (counts, the file's own error report), written with its final status
whether it completed or failed; its `counts` are the sums. Progress runs across the
whole batch; a cancel is seen between staged batches and between files, and rolls back
everything, as does any failure.
"""

from __future__ import annotations

from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError, JobCancelled, LeaseLost
from crmferry.imports.batch import (
    BatchOptions,
    file_problem,
    parse_batch_options,
    prepare_items,
)
from crmferry.imports.kind import run_file
from crmferry.imports.options import parse_import_options
from crmferry.imports.uploads import get_upload
from crmferry.jobs.files import stored_path
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, register
from crmferry.records import DataType, get_data_type

JOB_TYPE = "import_batch"
BATCH = "batch"  # the data_type of a batch's job: its files name their own
WRITE_COUNTS = ("inserted", "updated", "unchanged", "skipped")


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


def run_batch(ctx: JobContext) -> JobOutcome:
    """Every file in order on the job's transaction; failed (all rolled back) when a file
    cannot be read or, with on_error abort, when any row is bad."""
    stored = ctx.job["options"] or {}
    batch = parse_batch_options({k: stored[k] for k in ("on_error", "dry_run") if k in stored})
    items: list[dict[str, Any]] = stored.get("items") or []
    results: list[dict[str, Any]] = []
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
    total = int(ctx.job["progress_total"] or 0) or None
    done = 0
    for index, item in enumerate(items):
        ctx.progress(done, total)  # a boundary between files: a cancel stops here too
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
        results.append(_result(item, outcome, stored_path(ctx.settings, outcome.error_report_path)))
    ctx.progress(done, done)


def _result(item: dict[str, Any], outcome: JobOutcome, stored: str | None) -> dict[str, Any]:
    return {
        "file_name": item["file_name"],
        "data_type": item["data_type"],
        "upload_id": item["upload_id"],
        "record_count": outcome.record_count,
        "counts": outcome.counts,
        "error_message": outcome.error_message,
        "report_path": stored,
        "report": outcome.error_report_path,
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
    for r in results:
        del r["report"]
    return JobOutcome(
        record_count=sum(r["record_count"] for r in results),
        counts=totals,
        error_report_path=reports[0] if reports else None,
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


register(JobKind(JOB_TYPE, prepare_batch, run_batch, own_data_type=BATCH))
