"""The `import` job kind: check a request (prepare) and run it (run).

A run streams the file into a staging table with COPY, validates and converts
it set-based, then writes it with one statement for its mode. Everything
happens in the job's transaction: the data, the change log and the job's
final status commit together, and a cancel at a batch boundary rolls it all back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError, JobCancelled, LeaseLost, ValidationFailed
from crmferry.imports import merge, staging, validate
from crmferry.imports.mapping import validate_mapping
from crmferry.imports.options import parse_import_options
from crmferry.imports.readers import ReadLimits, iter_rows, sniff
from crmferry.imports.report import write_report
from crmferry.imports.templates import template_for_job
from crmferry.imports.uploads import get_upload, upload_path
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, register
from crmferry.records import DataType, get_data_type

REPORT_NAME = "errors.csv"

log = logging.getLogger(__name__)


def prepare_import(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Check the upload (this organization's), the mapping and the options; 404/422 otherwise.

    A `template_id` supplies the mapping and options the body leaves out.
    """
    principal.require("member")
    mapping = body.get("mapping")
    options = dict(body.get("options") or {})
    if body.get("template_id"):
        template = template_for_job(conn, body["template_id"], "import", data_type.name)
        mapping = mapping or template["mapping"]
        options = {**template["options"], **options}
    if body.get("upload_id") is None:
        raise ValidationFailed(
            "An import needs an upload_id.", [{"field": "upload_id", "message": "is required"}]
        )
    upload = get_upload(conn, body["upload_id"])
    parsed = parse_import_options(options)
    # update mode writes only the mapped fields of existing records: nothing else is required
    described = _optional_fields(data_type) if parsed.mode == "update" else data_type
    checked = validate_mapping(described, list(upload["headers"]), mapping or {})
    if parsed.mode == "update" and data_type.key_field not in checked.values():
        raise ValidationFailed(
            f"Update mode matches records by {data_type.key_field}: map a column to it.",
            [{"field": "mapping", "message": f"{data_type.key_field} must be mapped"}],
        )
    return NewJob(
        options=parsed.as_dict(),
        mapping=checked,
        file_name=upload["file_name"],
        upload_id=upload["id"],
        progress_total=upload["row_estimate"],
    )


def run_import(ctx: JobContext) -> JobOutcome:
    """Stage, validate, write (or only count, for a dry run), report."""
    try:
        return _run(ctx)
    except (JobCancelled, LeaseLost):
        raise
    except CrmFerryError as exc:
        # a file that breaks a limit, no longer reads or was deleted: the job fails, saying why
        return JobOutcome(failed=True, error_message=exc.detail)


def _run(ctx: JobContext) -> JobOutcome:
    conn, job, settings = ctx.conn, ctx.job, ctx.settings
    data_type = get_data_type(job["data_type"])
    options = parse_import_options(job["options"])
    upload = get_upload(conn, job["upload_id"])
    path = upload_path(settings, upload["storage_path"])
    limits = ReadLimits.from_settings(settings)
    info = sniff(path, limits)
    headers = list(info.headers)
    mapping: dict[str, str] = {h: f for h, f in (job["mapping"] or {}).items() if f}
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


def _optional_fields(data_type: DataType) -> DataType:
    fields = tuple(replace(f, required=False) for f in data_type.fields)
    return replace(data_type, fields=fields)


def _currency(conn: Conn, organization_id: UUID) -> str:
    row = conn.execute(
        "SELECT currency FROM organizations WHERE id = %s", [organization_id]
    ).fetchone()
    return str(row["currency"]) if row else "USD"


register(JobKind("import", prepare_import, run_import))
