"""The `import` job kind: check a request (prepare), a template (check_import_template)
and a schedule (check_import_schedule; its schedules need a source), and run it (run).

A run of a scheduled job first fetches its file from its source. A run streams the
file into a staging table with COPY, validates and converts it set-based, then writes
it with one statement for its mode. Everything happens in the job's transaction: the
data, the change log and the job's final status commit together, and a cancel at a
batch boundary rolls it all back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, BinaryIO, cast
from uuid import UUID

from crmferry import audit
from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError, JobCancelled, LeaseLost, ValidationFailed
from crmferry.imports import merge, raw_copy, staging, validate
from crmferry.imports.mapping import mappable_names, suggest_mapping, validate_mapping_for_mode
from crmferry.imports.option_checks import check_options_fit
from crmferry.imports.options import ImportOptions, parse_import_options, refuse_unknown_options
from crmferry.imports.read_problems import ReadProblems
from crmferry.imports.reading import ReadLimits, iter_rows, sniff
from crmferry.imports.report import write_report
from crmferry.imports.stored_source import StoredSource, stored_upload
from crmferry.imports.uploads import forget_upload, get_upload, read_choices
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
from crmferry.storage import store_for

REPORT_NAME = "errors.csv"

log = logging.getLogger(__name__)


def prepare_import(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Check the upload (this organization's), the mapping and the options; 404/422 otherwise."""
    principal.require("member")
    if body.get("upload_id") is None:
        raise ValidationFailed(
            "An import needs an upload_id.", [{"field": "upload_id", "message": "is required"}]
        )
    upload = get_upload(conn, body["upload_id"])
    parsed = parse_import_options(body.get("options"))
    headers = _headers(settings, upload, parsed)
    checked = validate_mapping_for_mode(
        data_type, headers, body.get("mapping") or {}, parsed.mode, parsed.defaults
    )
    check_options_fit(conn, data_type, parsed)
    return NewJob(
        options=parsed.as_dict(),
        mapping=checked,
        file_name=upload["file_name"],
        upload_id=upload["id"],
        progress_total=upload["row_estimate"],
    )


def check_import_template(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> SavedInput:
    """A template's mapping (header → field, or null for a column left out; each field
    at most once) and its options, with their defaults filled in."""
    mapping = saved.mapping
    if not isinstance(mapping, dict) or not mapping:
        raise _invalid_template("mapping", "must be an object of column header → field")
    seen: dict[str, str] = {}
    for header, field in mapping.items():
        if field is None or field == "":
            continue
        if field not in mappable_names(data_type):
            raise _invalid_template(
                f"mapping.{header}", f"names no {data_type.name} field: '{field}'"
            )
        if field in seen:
            raise _invalid_template(
                f"mapping.{header}", f"maps '{field}', already mapped from '{seen[field]}'"
            )
        seen[field] = header
    parsed = parse_import_options(saved.options)
    check_options_fit(conn, data_type, parsed)
    options = parsed.as_dict()
    return SavedInput(options, {str(h): (f or None) for h, f in mapping.items()})


def check_import_schedule(
    conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings
) -> SavedInput:
    """A schedule's options, and its mapping as far as it can be checked without the file
    (known fields, each once, the required ones mapped); its headers are checked against
    each downloaded file. Kept as given, not with defaults filled in, so that a template
    the schedule names still supplies what it leaves out."""
    if isinstance(saved.options, dict):
        refuse_unknown_options(saved.options, also=("source",))  # "source": stored by 0.2
    parsed = parse_import_options(saved.options)
    check_options_fit(conn, data_type, parsed)
    mapping = saved.mapping
    if mapping is not None:
        if not isinstance(mapping, dict):
            message = 'must be an object {"Header": "field" | null}'
            raise ValidationFailed(
                f"mapping {message}.", [{"field": "mapping", "message": message}]
            )
        validate_mapping_for_mode(data_type, list(mapping), mapping, parsed.mode, parsed.defaults)
    return saved


def run_import(ctx: JobContext) -> JobOutcome:
    """Stage, validate, write (or only count, for a dry run), report.

    A job of a schedule with a source and no upload yet first fetches its file and
    records it as an upload in the job's transaction; the outcome names the upload and
    the mapping and options it ran with (recorded with "completed"), and the file is
    removed when the run fails.
    """
    fetched: dict[str, Any] | None = None
    options_kept: dict[str, Any] | None = None
    try:
        source = ctx.job["options"].get("source")
        if ctx.job["upload_id"] is None and source is not None:
            source_type = source_for(source)
            fanned = source_type.fan_out(ctx, source) if source_type.fan_out else None
            if fanned is not None:  # the jobs it made import the files
                return JobOutcome(options={**ctx.job["options"], "source_objects": fanned})
            fetched = upload = source_type.fetch(ctx, source)
            mapping, options = _fetched_input(ctx, source_type.location(source), upload)
            options_kept = {**ctx.job["options"], **options.as_dict()}
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
        outcome.upload_id, outcome.mapping, outcome.options = fetched["id"], mapping, options_kept
    if not outcome.failed:
        # in the job's transaction: recorded if and only if the import's data commits
        audit.record_job_finished(ctx.conn, ctx.job, "import.completed", outcome.counts)
    return outcome


def _fetched_input(
    ctx: JobContext, location: str, upload: dict[str, Any]
) -> tuple[dict[str, str], ImportOptions]:
    """The mapping and options of a job whose file was just fetched, checked against the
    file's headers: the schedule's (or its template's) mapping, else the suggested one."""
    data_type = get_data_type(ctx.job["data_type"])
    options = parse_import_options(ctx.job["options"])
    headers = _headers(ctx.settings, upload, options)
    mapping = ctx.job["mapping"]
    suggested = mapping is None
    if mapping is None:
        # what an upload of this file would suggest, its value maps included
        mapping = upload.get("suggested_mapping") or suggest_mapping(data_type, headers)
        value_maps = (upload.get("suggested_options") or {}).get("value_maps")
        if value_maps and not options.value_maps:
            options = replace(options, value_maps=value_maps)
    try:
        checked = validate_mapping_for_mode(
            data_type, headers, mapping, options.mode, options.defaults
        )
        return checked, options
    except ValidationFailed as exc:
        which = "the suggested mapping" if suggested else "the schedule's mapping"
        raise ValidationFailed(
            f"The file from {location} does not fit {which}. {exc.detail}", exc.errors
        ) from None


def _headers(settings: Settings, upload: dict[str, Any], options: ImportOptions) -> list[str]:
    """The upload's headers as the import reads them: read again from the file when the
    options choose another header row or sheet than the upload's."""
    same_row = options.header_row in (None, upload["header_row"])
    if same_row and options.sheet in (None, upload["sheet"]):
        return list(upload["headers"])
    choices = read_choices(upload, options.as_dict())
    source = stored_upload(settings, upload["storage_path"])
    return list(sniff(source, ReadLimits.from_settings(settings), choices).headers)


def _forget(settings: Settings, fetched: dict[str, Any] | None) -> None:
    """Remove a downloaded file whose upload row is not going to commit."""
    if fetched is not None:
        forget_upload(settings, fetched["storage_path"])


def _invalid_template(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"The template is not valid: {field} {message}.", [{"field": field, "message": message}]
    )


def _run(
    ctx: JobContext, upload: dict[str, Any], mapping: dict[str, str], options: ImportOptions
) -> JobOutcome:
    data_type = get_data_type(ctx.job["data_type"])
    return run_file(ctx, data_type, upload, mapping, options, ctx.progress, REPORT_NAME)


def run_file(
    ctx: JobContext,
    data_type: DataType,
    upload: dict[str, Any],
    mapping: dict[str, str],
    options: ImportOptions,
    progress: Callable[[int, int | None], None],
    report_name: str,
) -> JobOutcome:
    """Import one uploaded file into `data_type` on the job's transaction: stage, validate,
    write (or count, for a dry run), and report bad rows in `report_name` of the job's
    folder. `progress(done, total)` after each staged batch (it raises on a cancel)."""
    # read from the store as a stream (a workbook from a local copy, removed after)
    source = stored_upload(ctx.settings, upload["storage_path"])
    return _run_file(ctx, data_type, source, upload, mapping, options, progress, report_name)


def _run_file(
    ctx: JobContext,
    data_type: DataType,
    source: StoredSource,
    upload: dict[str, Any],
    mapping: dict[str, str],
    options: ImportOptions,
    progress: Callable[[int, int | None], None],
    report_name: str,
) -> JobOutcome:
    conn, settings = ctx.conn, ctx.settings
    limits = ReadLimits.from_settings(settings)
    info = sniff(source, limits, read_choices(upload, options.as_dict()))
    headers = list(info.headers)
    fields = list(mapping.values())
    positions = [headers.index(h) for h in mapping]
    estimate = upload["row_estimate"]
    clock = _StageClock(ctx.job_id)
    problems = ReadProblems()
    problems.create_table(conn)

    def staged(done: int) -> None:
        problems.flush(conn)
        progress(done, max(done, estimate or 0) or None)

    def copied(done: int) -> None:  # during the COPY: no statement on `conn`
        progress(done, max(done, estimate or 0) or None)

    staged_fields = validate.staged_fields(fields, options)
    with source.open() as stream:
        total = raw_copy.stage_csv(
            conn, stream, info, fields, positions, staged_fields, limits, copied
        )
    parser = "PostgreSQL's CSV parser"
    if total is None:  # read by our reader (see raw_copy)
        parser = "our reader"
        staging.create_raw_table(conn, staged_fields)
        rows = iter_rows(source, info, limits, problems.add)
        total = staging.copy_rows(conn, fields, positions, rows, staged)
    clock.lap(f"staged by {parser}", total)
    plan = validate.build_rows(conn, data_type, fields, options)
    problems.mark_rows(conn)
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
    progress(total, total)
    outcome = JobOutcome(record_count=total, counts=counts.as_dict(), failed=aborted)
    if counts.failed:
        columns = {f: headers.index(h) for h, f in mapping.items()}
        # straight into the store under the attempt's prefix: an attempt that does not
        # commit has its prefix deleted, so no report of it is left
        key = ctx.file_key(report_name)
        with store_for(settings).writing(key) as out:
            rows = iter_rows(source, info, limits)
            report = write_report(conn, cast(BinaryIO, out), headers, columns, rows)
        outcome.error_report_key = key
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


register(
    JobKind(
        "import",
        prepare_import,
        run_import,
        check_template=check_import_template,
        check_schedule=check_import_schedule,
        needs_source=True,
    )
)
