"""The `import` job kind: check a request (prepare) and run it (run).

A run streams the file into a staging table with COPY, validates and converts
it set-based, then writes it with one statement for its mode. Everything
happens in the job's transaction: the data, the change log and the job's
final status commit together, and a cancel at a batch boundary rolls it all back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError, JobCancelled, LeaseLost, ValidationFailed
from crmferry.imports import merge, staging, validate
from crmferry.imports.mapping import suggest_mapping, validate_mapping_for_mode
from crmferry.imports.options import ImportOptions, parse_import_options
from crmferry.imports.reading import ReadLimits, iter_rows, sniff
from crmferry.imports.report import write_report
from crmferry.imports.sources import fetch_upload, source_url
from crmferry.imports.templates import template_for_job
from crmferry.imports.uploads import get_upload, upload_path
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, register
from crmferry.records import DataType, get_data_type

REPORT_NAME = "errors.csv"

# A URL job's downloaded upload, and the mapping and options it ran with, become the job's.
_LINK_UPLOAD = """
UPDATE scheduled_jobs SET upload_id = %(upload)s, mapping = %(mapping)s, options = %(options)s
 WHERE id = %(id)s
"""

log = logging.getLogger(__name__)


def prepare_import(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Check the upload (this organization's), the mapping and the options; 404/422 otherwise.

    A `template_id` supplies the mapping and options the body leaves out.
    """
    principal.require("member")
    mapping, options = _with_template(
        conn, body.get("template_id"), data_type, body.get("mapping"), body.get("options")
    )
    if body.get("upload_id") is None:
        raise ValidationFailed(
            "An import needs an upload_id.", [{"field": "upload_id", "message": "is required"}]
        )
    upload = get_upload(conn, body["upload_id"])
    parsed = parse_import_options(options)
    checked = validate_mapping_for_mode(
        data_type, list(upload["headers"]), mapping or {}, parsed.mode
    )
    return NewJob(
        options=parsed.as_dict(),
        mapping=checked,
        file_name=upload["file_name"],
        upload_id=upload["id"],
        progress_total=upload["row_estimate"],
    )


def _with_template(
    conn: Conn,
    template_id: object,
    data_type: DataType,
    mapping: Mapping[str, str | None] | None,
    options: Mapping[str, Any] | None,
) -> tuple[Mapping[str, str | None] | None, dict[str, Any]]:
    """The mapping and raw options of a job: its own, with what it leaves out taken from
    the template it names (if any)."""
    merged = dict(options or {})
    if template_id:
        template = template_for_job(conn, template_id, "import", data_type.name)
        mapping = mapping or template["mapping"]
        merged = {**(template["options"] or {}), **merged}
    return mapping, merged


def run_import(ctx: JobContext) -> JobOutcome:
    """Stage, validate, write (or only count, for a dry run), report.

    A job of a schedule with a URL source and no upload yet first downloads its file
    and records it as an upload in the job's transaction; the upload is linked to the
    job when the run succeeds, and the file is removed when it does not.
    """
    fetched: dict[str, Any] | None = None
    try:
        url = source_url(ctx.job["options"])
        if ctx.job["upload_id"] is None and url is not None:
            fetched = _fetch(ctx, url)
            upload = fetched
            mapping, options = _source_input(ctx, url, list(fetched["headers"]))
        else:
            upload = get_upload(ctx.conn, ctx.job["upload_id"])
            mapping = {h: f for h, f in (ctx.job["mapping"] or {}).items() if f}
            options = parse_import_options(ctx.job["options"])
        outcome = _run(ctx, upload, mapping, options)
    except BaseException as exc:
        _forget(ctx.settings, fetched)
        if isinstance(exc, CrmFerryError) and not isinstance(exc, JobCancelled | LeaseLost):
            # a file that breaks a limit, no longer reads or was deleted, a source that
            # cannot be fetched: the job fails, saying why
            return JobOutcome(failed=True, error_message=exc.detail)
        raise
    if outcome.failed:
        _forget(ctx.settings, fetched)  # the job's transaction, and the upload row, roll back
    elif fetched is not None:
        # last, after every progress write: this row lock is held until the job commits
        ctx.conn.execute(
            _LINK_UPLOAD,
            {
                "id": ctx.job_id,
                "upload": fetched["id"],
                "mapping": Jsonb(mapping),
                "options": Jsonb({**ctx.job["options"], **options.as_dict()}),
            },
        )
    return outcome


def _fetch(ctx: JobContext, url: str) -> dict[str, Any]:
    return fetch_upload(
        ctx.conn,
        ctx.settings,
        url=url,
        organization_id=ctx.organization_id,
        created_by=ctx.job["created_by"],
        data_type=ctx.job["data_type"],
        check=ctx.check,
    )


def _source_input(
    ctx: JobContext, url: str, headers: list[str]
) -> tuple[dict[str, str], ImportOptions]:
    """The mapping and options of a URL job, checked against the downloaded file's
    headers: the schedule's (or its template's) mapping, else the suggested one."""
    job, data_type = ctx.job, get_data_type(ctx.job["data_type"])
    mapping, raw = _with_template(
        ctx.conn, job["template_id"], data_type, job["mapping"], job["options"]
    )
    options = parse_import_options(raw)
    suggested = mapping is None
    if mapping is None:
        mapping = suggest_mapping(data_type, headers)
    try:
        return validate_mapping_for_mode(data_type, headers, mapping, options.mode), options
    except ValidationFailed as exc:
        which = "the suggested mapping" if suggested else "the schedule's mapping"
        raise ValidationFailed(
            f"The file from {url} does not fit {which}. {exc.detail}", exc.errors
        ) from None


def _forget(settings: Settings, fetched: dict[str, Any] | None) -> None:
    """Remove a downloaded file whose upload row is not going to commit."""
    if fetched is not None:
        upload_path(settings, fetched["storage_path"]).unlink(missing_ok=True)


def _run(
    ctx: JobContext, upload: dict[str, Any], mapping: dict[str, str], options: ImportOptions
) -> JobOutcome:
    conn, settings = ctx.conn, ctx.settings
    data_type = get_data_type(ctx.job["data_type"])
    path = upload_path(settings, upload["storage_path"])
    limits = ReadLimits.from_settings(settings)
    info = sniff(path, limits)
    headers = list(info.headers)
    fields = list(mapping.values())
    positions = [headers.index(h) for h in mapping]
    estimate = upload["row_estimate"]
    clock = _StageClock(ctx.job_id)
    staging.create_raw_table(conn, fields)
    total = staging.copy_rows(
        conn,
        fields,
        positions,
        iter_rows(path, info, limits),
        lambda done: ctx.progress(done, max(done, estimate or 0) or None),
    )
    clock.lap("staged", total)
    plan = validate.build_rows(
        conn, data_type, fields, options, _currency(conn, ctx.organization_id)
    )
    counts = merge.count_rows(conn)
    clock.lap("validated", total)
    aborted = counts.failed > 0 and options.on_error == "abort"
    if aborted:
        pass  # nothing is written; the report below says why
    elif options.dry_run:
        merge.preview_counts(conn, plan, options, counts)
    else:
        merge.write_rows(conn, plan, options, ctx.job_id, counts)
    clock.lap("written", total)
    ctx.progress(total, total)
    outcome = JobOutcome(record_count=total, counts=counts.as_dict(), failed=aborted)
    if counts.failed:
        columns = {f: headers.index(h) for h, f in mapping.items()}
        report = write_report(
            conn, ctx.files_dir() / REPORT_NAME, headers, columns, iter_rows(path, info, limits)
        )
        outcome.error_report_path = report.path
        outcome.error_message = report.summary(counts.failed, aborted)
        clock.lap("reported", report.lines)
    return outcome


class _StageClock:
    """Debug log of how long each stage of a run took."""

    def __init__(self, job_id: UUID) -> None:
        self.job_id = job_id
        self.last = time.perf_counter()

    def lap(self, stage: str, rows: int) -> None:
        now = time.perf_counter()
        log.debug("import %s: %s %d rows in %.2fs", self.job_id, stage, rows, now - self.last)
        self.last = now


def _currency(conn: Conn, organization_id: UUID) -> str:
    row = conn.execute(
        "SELECT currency FROM organizations WHERE id = %s", [organization_id]
    ).fetchone()
    return str(row["currency"]) if row else "USD"


register(JobKind("import", prepare_import, run_import))
