"""POST /uploads: stream a file into the store, sniff it, suggest a mapping."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from crmferry.db import Conn
from crmferry.errors import CrmFerryError, PayloadTooLarge, ValidationFailed
from crmferry.imports.checking import check_first_rows
from crmferry.imports.mapping import suggest_mapping
from crmferry.imports.reading import ReadLimits, sniff
from crmferry.imports.reading_choices import read_choices_of, reading_facts
from crmferry.imports.stored_source import stored_upload
from crmferry.imports.suggestion import Suggestion, suggest_from_values
from crmferry.imports.type_guess import suggest_data_type
from crmferry.imports.uploads import (
    UploadWriter,
    forget_upload,
    new_upload_location,
    record_upload,
    upload_values,
)
from crmferry.records import DATA_TYPES
from crmferry.storage import store_for
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.records import UPLOAD_FORM, Upload, UploadCheck, UploadCheckRequest
from crmferry.web.deps import DB, AppSettings, MemberPrincipal

router = APIRouter(tags=["imports"])

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself
MAX_FIELD_BYTES = 1024


class _Parts:
    """Callbacks for the streaming multipart parser: the `file` part goes to the
    store as it arrives; small text fields are kept."""

    def __init__(self, writer: UploadWriter) -> None:
        self.writer = writer
        self.file_name: str | None = None
        self.complete = False  # the closing boundary was seen
        self.fields: dict[str, str] = {}
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._value = b""

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_header_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _add(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _part_begin(self) -> None:
        self._headers, self._name, self._value = {}, None, b""

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "file" and self.file_name is not None:
            raise ValidationFailed(
                "Send one file per upload: the request has more than one 'file' part.",
                [{"field": "file", "message": "more than one file part"}],
            )
        if self._name == "file":
            raw = params.get(b"filename", b"upload").decode("utf-8", "replace")
            self.file_name = PurePath(raw.replace("\\", "/")).name[:255] or "upload"

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name == "file":
            self.writer.write(data[start:end])
        elif len(self._value) < MAX_FIELD_BYTES:
            self._value += data[start:end]

    def _part_end(self) -> None:
        if self._name and self._name != "file":
            self.fields[self._name] = self._value.decode("utf-8", "replace").strip()

    def _end(self) -> None:
        self.complete = True


@router.post(
    "/uploads",
    status_code=201,
    name="uploads_create",
    tags=["uploads"],
    response_model=Upload,
    openapi_extra={"requestBody": UPLOAD_FORM},
    responses=problem_responses(403, 413, 415, 422, 503),
)
async def create_upload(
    request: Request, principal: MemberPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """Multipart field `file` (optional `data_type`, and `encoding`, `header_row`, `sheet`,
    `last_row` to read it otherwise than detected) → the upload with headers, a 20-row preview, what
    was detected and a suggested mapping. 413 past CRMFERRY_MAX_UPLOAD_BYTES (reading stops
    there), 415/422 for a file that cannot be read (it is not kept)."""
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"The file is larger than the limit of {limit:,} bytes (CRMFERRY_MAX_UPLOAD_BYTES)."
        )
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise ValidationFailed(
            "Send the file as multipart/form-data in a field named 'file'.",
            [{"field": "file", "message": "is required"}],
        )
    upload_id, key = new_upload_location(settings, principal.organization_id)
    # the file goes into the store as it arrives (a part at a time, sent off the event
    # loop), and is sniffed from there: nothing of it is written on this machine
    writer = UploadWriter(store_for(settings), key, limit)
    parts = _Parts(writer)
    try:
        parser = MultipartParser(params[b"boundary"], cast(Any, parts.callbacks()))
        async for chunk in request.stream():
            parser.write(chunk)
            if writer.due:
                await run_in_threadpool(writer.flush)
        parser.finalize()
        file_name, data_type = _checked_parts(parts)
        await run_in_threadpool(writer.close)
        choices = read_choices_of(parts.fields)
        source = stored_upload(settings, key)
        limits = ReadLimits.from_settings(settings)
        info = await run_in_threadpool(sniff, source, limits, choices)
        values = upload_values(
            upload_id, principal.user_id, file_name, writer, key, info, data_type
        )
        headers = list(info.headers)
        with db.tenant(principal.organization_id) as conn:
            record_upload(conn, values)
            suggested_type, suggestion = _suggestion(conn, data_type, headers, info.preview)
    except BaseException as exc:
        # whatever ends the upload early (a bad part, the client going away, a
        # cancelled request) leaves nothing on disk nor in the store
        await run_in_threadpool(writer.discard)
        await run_in_threadpool(forget_upload, settings, key)
        if isinstance(exc, ValueError) and not isinstance(exc, CrmFerryError):
            raise ValidationFailed(f"The upload could not be read: {exc}.") from exc
        raise
    return {
        "id": str(upload_id),
        "file_name": file_name,
        "size_bytes": writer.size,
        "sha256": values["sha256"],
        "format": info.format,
        "encoding": info.encoding,
        "delimiter": info.delimiter,
        "headers": headers,
        "preview": [list(row) for row in info.preview[:20]],
        "row_estimate": info.row_estimate,
        **reading_facts(info),
        "data_type": data_type,
        "suggested_data_type": suggested_type,
        "suggested_mapping": suggestion.mapping,
        "mapping_notes": suggestion.notes,
        "suggested_options": {"value_maps": suggestion.value_maps},
    }


@router.post(
    "/uploads/{upload_id}/check",
    name="uploads_check",
    tags=["uploads"],
    response_model=UploadCheck,
    responses=problem_responses(403, 404, 422),
)
def check_upload(
    upload_id: Annotated[str, Path(description="An upload's id (uuid).")],
    body: UploadCheckRequest,
    principal: MemberPrincipal,
    db: DB,
    settings: AppSettings,
) -> dict[str, Any]:
    """What the import with this mapping and these options would say about the upload's
    first 1,000 rows: each row's problems (row, column, value, message; at most 500) and
    what would be inserted, updated or left unchanged. Nothing is written. 422 for a
    mapping or options a job would refuse."""
    options = body.options.plain() if body.options is not None else None
    if body.data_type not in DATA_TYPES:
        raise ValidationFailed(
            f"Unknown data_type '{body.data_type}'.",
            [{"field": "data_type", "message": "must be one of " + ", ".join(DATA_TYPES)}],
        )
    with db.tenant(principal.organization_id) as conn:
        return check_first_rows(
            conn, settings, upload_id, DATA_TYPES[body.data_type], body.mapping, options
        )


def _checked_parts(parts: _Parts) -> tuple[str, str | None]:
    """The file's name and the data_type field, once the body is known to be whole and
    to hold a file."""
    if not parts.complete:
        raise ValidationFailed(
            "The upload is incomplete: the multipart body ended before its closing boundary.",
            [{"field": "file", "message": "incomplete multipart body"}],
        )
    if parts.file_name is None:
        raise ValidationFailed(
            "No file was sent: use a multipart field named 'file'.",
            [{"field": "file", "message": "is required"}],
        )
    data_type = parts.fields.get("data_type") or None
    if data_type is not None and data_type not in DATA_TYPES:
        raise ValidationFailed(
            f"Unknown data_type '{data_type}'.",
            [{"field": "data_type", "message": "must be one of " + ", ".join(DATA_TYPES)}],
        )
    return parts.file_name, data_type


def _suggestion(
    conn: Conn, data_type: str | None, headers: list[str], rows: Sequence[Sequence[str]]
) -> tuple[str, Suggestion]:
    """The suggestion for the given type, else for the type the headers fit (every required
    field mapped: `suggest_data_type`, as a batch types its files), else for the type that
    maps the most headers; its values checked against the fields (see
    `imports.suggestion`)."""
    data_type = data_type or suggest_data_type(headers)
    if data_type is None:
        scored = []
        for name, described in DATA_TYPES.items():
            mapping = suggest_mapping(described, headers)
            scored.append((sum(1 for f in mapping.values() if f), name))
        data_type = max(scored, key=lambda item: item[0])[1]
    return data_type, suggest_from_values(conn, DATA_TYPES[data_type], headers, rows)
