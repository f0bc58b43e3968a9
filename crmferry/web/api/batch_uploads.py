"""POST /uploads/batch: the files of a batch import at once — several `file` parts, or
one ZIP of CSV/XLSX files — each stored and sniffed as POST /uploads does, with the data
type its headers fit best and that type's suggested mapping.

Each file streams into the store as it arrives, but a ZIP: its directory is at its end,
so it is spooled locally (at most CRMFERRY_MAX_UPLOAD_BYTES) and its files unpacked
from there into the store, the spool removed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, cast
from uuid import UUID

from fastapi import APIRouter, Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import CrmFerryError, PayloadTooLarge, ValidationFailed
from crmferry.imports.batch import MAX_ITEMS
from crmferry.imports.mapping import suggest_mapping
from crmferry.imports.reading import ReadLimits, sniff
from crmferry.imports.reading.bundle import (
    BundleLimits,
    bundled_files,
    entry_name,
    is_bundle,
    unpack,
)
from crmferry.imports.stored_source import stored_upload
from crmferry.imports.type_guess import suggest_data_type
from crmferry.imports.uploads import (
    CountedWriter,
    LimitedWriter,
    UploadWriter,
    forget_upload,
    keep_upload,
    new_upload_location,
    record_upload,
    spool_path,
    upload_values,
)
from crmferry.records import DATA_TYPES
from crmferry.storage import store_for
from crmferry.web.api.models.problems import problem_responses
from crmferry.web.api.models.records import BATCH_UPLOAD_FORM, UploadBatch
from crmferry.web.api.uploads import MULTIPART_OVERHEAD
from crmferry.web.deps import DB, AppSettings, MemberPrincipal

router = APIRouter(tags=["uploads"])


@dataclass
class BatchFile:
    """One file of a batch upload, streamed to its place before it is recorded."""

    upload_id: UUID
    relative: str
    file_name: str
    writer: CountedWriter


class _FileParts:
    """Multipart callbacks: every `file` part streams to a file of its own."""

    def __init__(self, settings: Settings, organization_id: UUID) -> None:
        self.settings, self.organization_id = settings, organization_id
        self.files: list[BatchFile] = []
        self.ended: list[UploadWriter] = []  # to be stored (`store_ended`)
        self.complete = False
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._current: BatchFile | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: setattr(self, "_field", self._field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_value", self._value + d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end_part,
            "on_end": lambda: setattr(self, "complete", True),
        }

    def _begin(self) -> None:
        self._headers, self._current = {}, None

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name", b"") != b"file":
            return  # no other field: each file's type and mapping come with the batch job
        if len(self.files) >= MAX_ITEMS:
            raise ValidationFailed(
                f"A batch takes at most {MAX_ITEMS} files.",
                [{"field": "file", "message": f"more than {MAX_ITEMS} file parts"}],
            )
        if b"filename" not in params:
            # a batch's files are told apart by their names: a plain form field is not one
            raise ValidationFailed(
                "Each 'file' part must be a file, with its filename.",
                [{"field": "file", "message": "a part without a filename"}],
            )
        raw = params[b"filename"].decode("utf-8", "replace")
        name = PurePath(raw.replace("\\", "/")).name[:255] or "upload"
        self._current = new_batch_file(self.settings, self.organization_id, name)
        self.files.append(self._current)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self._current.writer.write(data[start:end])

    def _end_part(self) -> None:
        if self._current is None:
            return
        writer = self._current.writer
        if isinstance(writer, UploadWriter):
            self.ended.append(writer)  # stored off the event loop
        else:
            writer.close()

    def send_due(self) -> None:
        """Send what the files being written have gathered, and store the files that
        ended (network work: run in a thread)."""
        for file in self.files:
            if isinstance(file.writer, UploadWriter):
                file.writer.flush()
        while self.ended:
            self.ended.pop(0).close()


def new_batch_file(settings: Settings, organization_id: UUID, name: str) -> BatchFile:
    """A file of the batch, written into the store as it comes; spooled locally when
    its name says ZIP (maybe a bundle, read from its directory at its end)."""
    upload_id, relative = new_upload_location(settings, organization_id)
    writer: CountedWriter
    if name.lower().endswith(".zip"):
        writer = LimitedWriter(spool_path(settings, relative), settings.max_upload_bytes)
    else:
        writer = UploadWriter(store_for(settings), relative, settings.max_upload_bytes)
    return BatchFile(upload_id, relative, name, writer)


@router.post(
    "/uploads/batch",
    status_code=201,
    name="uploads_create_batch",
    response_model=UploadBatch,
    openapi_extra={"requestBody": BATCH_UPLOAD_FORM},
    responses=problem_responses(403, 413, 415, 422),
)
async def create_upload_batch(
    request: Request, principal: MemberPrincipal, db: DB, settings: AppSettings
) -> dict[str, Any]:
    """Several `file` parts, or one ZIP of CSV/TSV/TXT/XLSX files → `{"items": [upload...]}`,
    each with its `suggested_data_type` and mapping. Each file is held to
    CRMFERRY_MAX_UPLOAD_BYTES (413); a ZIP is checked from its directory first (file
    count, unpacked sizes, ratio: 422); a file that cannot be read is a 415/422 naming it,
    and then none of the files is kept."""
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ITEMS * limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"The files are larger than {MAX_ITEMS} × {limit:,} bytes.")
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise ValidationFailed(
            "Send the files as multipart/form-data, each in a field named 'file'.",
            [{"field": "file", "message": "is required"}],
        )
    parts = _FileParts(settings, principal.organization_id)
    try:
        parser = MultipartParser(params[b"boundary"], cast(Any, parts.callbacks()))
        async for chunk in request.stream():
            parser.write(chunk)
            if parts.ended or any(getattr(f.writer, "due", False) for f in parts.files):
                await run_in_threadpool(parts.send_due)
        parser.finalize()
        await run_in_threadpool(parts.send_due)
        _check_complete(parts)
        stored = await run_in_threadpool(unbundled, settings, principal, parts.files)
        parts.files = stored
        return {"items": await run_in_threadpool(record_all, db, settings, principal, stored)}
    except BaseException as exc:
        for file in parts.files:  # nothing of a refused batch stays on disk or in the store
            await run_in_threadpool(file.writer.discard)
            await run_in_threadpool(forget_upload, settings, file.relative)
        if isinstance(exc, ValueError) and not isinstance(exc, CrmFerryError):
            raise ValidationFailed(f"The upload could not be read: {exc}.") from exc
        raise


def _check_complete(parts: _FileParts) -> None:
    if not parts.complete:
        raise ValidationFailed(
            "The upload is incomplete: the multipart body ended before its closing boundary.",
            [{"field": "file", "message": "incomplete multipart body"}],
        )
    if not parts.files:
        raise ValidationFailed(
            "No file was sent: use one or more multipart fields named 'file'.",
            [{"field": "file", "message": "is required"}],
        )


def unbundled(settings: Settings, principal: Principal, files: list[BatchFile]) -> list[BatchFile]:
    """The files, a ZIP among them replaced by the files it holds."""
    limits = BundleLimits(
        max_entries=settings.max_zip_entries,
        max_total_bytes=settings.max_xlsx_uncompressed_bytes,
        max_entry_bytes=settings.max_upload_bytes,
        max_ratio=settings.max_xlsx_ratio,
    )
    found: list[BatchFile] = []
    for file in files:
        if not isinstance(file.writer, LimitedWriter):
            found.append(file)  # already in the store
            continue
        if not is_bundle(file.file_name, file.writer.path):
            keep_upload(settings, file.relative, file.writer.path)
            found.append(file)
            continue
        try:
            for entry in bundled_files(file.writer.path, limits):
                inner = new_batch_file(settings, principal.organization_id, entry_name(entry))
                found.append(inner)
                for chunk in unpack(file.writer.path, entry):
                    inner.writer.write(chunk)
                    if isinstance(inner.writer, UploadWriter):
                        inner.writer.flush()
                inner.writer.close()
        except BaseException:
            for made in found:  # the files unpacked so far are in the store already
                made.writer.discard()
                forget_upload(settings, made.relative)
            raise
        finally:
            file.writer.discard()
    if len(found) > MAX_ITEMS:
        raise ValidationFailed(
            f"A batch takes at most {MAX_ITEMS} files; these hold {len(found)}.",
            [{"field": "file", "message": f"more than {MAX_ITEMS} files"}],
        )
    return found


def record_all(
    db: Database, settings: Settings, principal: Principal, files: list[BatchFile]
) -> list[dict[str, Any]]:
    """Sniff every file, then record them all in one transaction; the uploads."""
    limits = ReadLimits.from_settings(settings)
    answers, rows = [], []
    for file in files:
        try:
            info = sniff(stored_upload(settings, file.relative), limits)
        except CrmFerryError as exc:
            exc.detail = f"{file.file_name}: {exc.detail}"
            raise
        headers = list(info.headers)
        suggested = suggest_data_type(headers)
        values = upload_values(
            file.upload_id,
            principal.user_id,
            file.file_name,
            file.writer,
            file.relative,
            info,
            None,
        )
        rows.append(values)
        mapping = suggest_mapping(DATA_TYPES[suggested], headers) if suggested else {}
        answers.append(
            {
                "id": str(file.upload_id),
                "file_name": file.file_name,
                "size_bytes": file.writer.size,
                "sha256": values["sha256"],
                "format": info.format,
                "encoding": info.encoding,
                "delimiter": info.delimiter,
                "headers": headers,
                "preview": [list(row) for row in info.preview[:20]],
                "row_estimate": info.row_estimate,
                "data_type": None,
                "suggested_data_type": suggested,
                "suggested_mapping": dict(mapping),
            }
        )
    with db.tenant(principal.organization_id) as conn:
        for values in rows:
            record_upload(conn, values)
    return answers
