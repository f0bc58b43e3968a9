"""Jobs: POST/GET /jobs, GET /jobs/{id}, cancel, delete, retry, result and error report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, StreamingResponse

from crmferry import audit
from crmferry.errors import NotFound
from crmferry.exports import naming
from crmferry.exports.changes import window_of_job
from crmferry.exports.compression import media_type
from crmferry.exports.deleted import deleted_csv
from crmferry.jobs import idempotency, operations
from crmferry.jobs.model import job_json
from crmferry.records import get_data_type
from crmferry.web.api.models.base import BlankIsNone, Cursor, Text
from crmferry.web.api.models.jobs import (
    DataTypeName,
    Job,
    JobBody,
    JobPage,
    JobTypeName,
    StatusName,
)
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.built_json import BuiltJSON
from crmferry.web.deps import DB, AppSettings, CurrentPrincipal
from crmferry.web.downloads import stored_file_response

router = APIRouter(tags=["jobs"])

IdempotencyKey = Annotated[
    Text | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Send the same key again (within 24 hours) to get the same job back "
        "instead of a second one.",
    ),
]
JobId = Annotated[str, PathParam(description="A job's id (uuid).")]

REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Job,
        "description": "A repeat with an Idempotency-Key already used: the job it made.",
    }
}
FILE_ERRORS = problem_responses(404, 503)
REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {
        "description": "The file is in object storage: its presigned URL (valid 15 minutes, "
        "the same download name), unless CRMFERRY_STORAGE_REDIRECT=false.",
        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    }
}


@router.post(
    "/jobs",
    status_code=201,
    name="jobs_create",
    response_model=Job,
    responses={**REPLAYED, **problem_responses(403, 404, 409, 422)},
)
def create_job(
    body: Annotated[JobBody, Body()],
    response: Response,
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Schedule an import or export now or later; 201 with the job, 422 for a bad request
    (every field named), 403 for a viewer."""
    request = body.plain()
    with db.tenant(principal.organization_id) as conn:
        row, replayed = idempotency.once(
            conn,
            principal,
            idempotency_key,
            "jobs_create",
            request,
            lambda: operations.create_job(conn, principal, request, settings),
        )
    if replayed:
        response.status_code = 200
    return job_json(row)


@router.get("/jobs", name="jobs_list", response_model=JobPage, responses=problem_responses(422))
def list_jobs(
    principal: CurrentPrincipal,
    db: DB,
    status: Annotated[StatusName | None, BlankIsNone] = None,
    job_type: Annotated[JobTypeName | None, BlankIsNone] = None,
    data_type: Annotated[DataTypeName | None, BlankIsNone] = None,
    limit: int = Query(default=50, ge=1, le=operations.MAX_PAGE),
    cursor: Annotated[Cursor | None, BlankIsNone] = None,
) -> BuiltJSON:
    """`{"items": [job...], "next_cursor"}`, newest first."""
    with db.tenant(principal.organization_id) as conn:
        rows, next_cursor = operations.list_jobs(
            conn,
            status=status,
            job_type=job_type,
            data_type=data_type,
            limit=limit,
            cursor=cursor,
        )
    return BuiltJSON({"items": [job_json(r) for r in rows], "next_cursor": next_cursor})


@router.get("/jobs/{job_id}", name="jobs_get", response_model=Job, responses=problem_responses(404))
def get_job(job_id: JobId, principal: CurrentPrincipal, db: DB) -> BuiltJSON:
    """One job of the caller's organization."""
    with db.tenant(principal.organization_id) as conn:
        return BuiltJSON(job_json(operations.get_job(conn, job_id)))


@router.post(
    "/jobs/{job_id}/cancel",
    name="jobs_cancel",
    response_model=Job,
    responses={
        202: {"model": Job, "description": "Running: it stops at its next batch."},
        **problem_responses(403, 404, 409),
    },
)
def cancel_job(job_id: JobId, principal: CurrentPrincipal, db: DB) -> JSONResponse:
    """200 cancelled (was pending), 202 cancel_requested (running), 409 finished."""
    with db.tenant(principal.organization_id) as conn:
        row, stopped = operations.cancel_job(conn, principal, job_id)
    return JSONResponse(job_json(row), status_code=200 if stopped else 202)


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    name="jobs_delete",
    response_class=Response,
    responses=problem_responses(403, 404, 409),
)
def delete_job(
    job_id: JobId, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> Response:
    """204 for a finished job (its files go too); 409 while pending or running."""
    with db.tenant(principal.organization_id) as conn:
        operations.delete_job(conn, principal, settings, job_id)
    return Response(status_code=204)


@router.post(
    "/jobs/{job_id}/retry",
    status_code=201,
    name="jobs_retry",
    response_model=Job,
    responses={**REPLAYED, **problem_responses(403, 404, 409, 422)},
)
def retry_job(
    job_id: JobId,
    response: Response,
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """201 with a new job, same input, `retry_of` set; 409 unless failed or cancelled, and
    while an earlier retry of it is still pending or running."""
    with db.tenant(principal.organization_id) as conn:
        row, replayed = idempotency.once(
            conn,
            principal,
            idempotency_key,
            "jobs_retry",
            {"job_id": job_id},
            lambda: operations.retry_job(conn, principal, settings, job_id),
        )
    if replayed:
        response.status_code = 200
    return job_json(row)


@router.get(
    "/jobs/{job_id}/result",
    name="jobs_result",
    response_class=Response,
    responses={
        200: {
            "description": "The export's file, named `<data_type>-<YYYYMMDD-HHMMSS>.<ext>` "
            "(`.csv.gz`, `application/gzip`, when compressed).",
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
                "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
                "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **REDIRECT,
        **FILE_ERRORS,
    },
)
def job_result(
    job_id: JobId, principal: CurrentPrincipal, db: DB, settings: AppSettings
) -> Response:
    """The export file, or a 302 to a presigned URL of it in object storage; 404 when
    the job has none."""
    with db.tenant(principal.organization_id) as conn:
        row = operations.get_job(conn, job_id)
        if row["result_path"]:
            audit.record_download(
                conn, principal, row, "api" if principal.via == "token" else "web"
            )
    name = _download_name(row, row["result_path"] or "")
    return stored_file_response(
        settings, row["result_path"], name, media_type(name), "This job has no result file."
    )


@router.get(
    "/jobs/{job_id}/errors",
    name="jobs_errors",
    response_class=Response,
    responses={
        200: {
            "description": "row_number, column, value, message, then the row's own columns.",
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        },
        **REDIRECT,
        **FILE_ERRORS,
    },
)
def job_errors(
    job_id: JobId,
    principal: CurrentPrincipal,
    db: DB,
    settings: AppSettings,
    item: int | None = Query(
        default=None, ge=1, le=1000, description="A batch's file, counted from 1 in run order."
    ),
) -> Response:
    """The error report (CSV), or a 302 to a presigned URL of it; 404 when the job (or
    its file `item`) has none."""
    with db.tenant(principal.organization_id) as conn:
        row = operations.get_job(conn, job_id)
    stored, data_type = row["error_report_path"], row["data_type"]
    if item is not None:
        items = row["items"] or []
        if item > len(items):
            raise NotFound(f"This job has no file {item}.")
        stored, data_type = items[item - 1].get("report_path"), items[item - 1]["data_type"]
    name = f"{data_type}-{str(row['id'])[:8]}-errors.csv"
    return stored_file_response(settings, stored, name, "text/csv", "This job has no error report.")


@router.get(
    "/jobs/{job_id}/deleted",
    name="jobs_deleted",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "The records deleted within an incremental export's window (`id`, the"
                " natural key, `deleted_at`), as that export's snapshot saw them."
            ),
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        },
        **FILE_ERRORS,
    },
)
def job_deleted(job_id: JobId, principal: CurrentPrincipal, db: DB) -> StreamingResponse:
    """The deletions an incremental export covered; 404 for any other job."""
    with db.tenant(principal.organization_id) as conn:
        row = operations.get_job(conn, job_id)
    covered = window_of_job(row["options"] or {}) if row["job_type"] == "export" else None
    if covered is None or row["status"] != "completed":
        raise NotFound("This job is no completed incremental export (options.changed_since).")
    window, upto = covered
    data_type = get_data_type(row["data_type"])

    def stream() -> Iterator[bytes]:
        with db.tenant(principal.organization_id) as conn:
            yield from deleted_csv(conn, data_type, window, upto)

    name = f"{row['data_type']}-{str(row['id'])[:8]}-deleted.csv"
    return StreamingResponse(
        stream(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _download_name(row: dict[str, Any], key: str) -> str:
    """The result's download name (see `naming.download_name`), by its storage key."""
    return naming.download_name(row, Path(key))
