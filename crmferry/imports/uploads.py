"""Uploaded files: stored in the file store, described by a row in `uploads`.

`store_upload` stores a file from any source with the checks of `POST /uploads` (the
size limit, the SHA-256, sniffing) and records it: the CLI acting locally stores a
local file with it (`store_file`), import jobs whose schedule names a URL source a
download. The upload endpoint streams a multipart body through the same pieces
(`new_upload_location`, `UploadWriter`, `upload_values`, `record_upload`).

An upload goes into the store as it arrives (`FileStore.writing`: a multipart upload
on S3), hashed and counted on the way, and is sniffed from the store (`stored_source`):
the machine's disk holds none of it, but for a workbook's sniff (a temporary copy) and
a ZIP of a batch (`LimitedWriter`, a local spool: its directory is at its end)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import NotFound, PayloadTooLarge, StorageUnavailable
from crmferry.ids import id_or_not_found
from crmferry.imports.reading import NO_CHOICES, FileInfo, ReadChoices, ReadLimits, sniff
from crmferry.imports.stored_source import stored_upload
from crmferry.imports.suggestion import suggest_from_values
from crmferry.records import get_data_type
from crmferry.storage import FileStore, store_for, upload_key

CHUNK_BYTES = 1024 * 1024

log = logging.getLogger(__name__)

_INSERT_UPLOAD = """
INSERT INTO uploads (id, organization_id, created_by, file_name, size_bytes, sha256,
                     storage_path, format, encoding, delimiter, headers, row_estimate, data_type,
                     header_row, sheet, last_row)
VALUES (%(id)s, crmferry_current_org(), %(created_by)s, %(file_name)s, %(size_bytes)s,
        %(sha256)s, %(storage_path)s, %(format)s, %(encoding)s, %(delimiter)s,
        %(headers)s::jsonb, %(row_estimate)s, %(data_type)s, %(header_row)s, %(sheet)s,
        %(last_row)s)
"""

_GET_UPLOAD = "SELECT * FROM uploads WHERE organization_id = crmferry_current_org() AND id = %s"


def store_file(
    conn: Conn,
    settings: Settings,
    principal: Principal,
    source: Path,
    data_type: str | None,
    choices: ReadChoices = NO_CHOICES,
) -> dict[str, Any]:
    """Copy `source` into the file store (size-limited, hashed, in chunks), sniff it as
    `choices` say and record it; the upload row. The stored copy is removed when it
    cannot be used. 403 for a viewer."""
    principal.require("member")
    with source.open("rb") as file:
        return store_upload(
            conn,
            settings,
            organization_id=principal.organization_id,
            created_by=principal.user_id,
            file_name=source.name,
            chunks=_file_chunks(file),
            data_type=data_type,
            choices=choices,
        )


def store_upload(
    conn: Conn,
    settings: Settings,
    *,
    organization_id: UUID,
    created_by: UUID,
    file_name: str,
    chunks: Iterable[bytes],
    data_type: str | None,
    limit: int | None = None,
    choices: ReadChoices = NO_CHOICES,
) -> dict[str, Any]:
    """Write `chunks` into the organization's file store (PayloadTooLarge past `limit`,
    by default CRMFERRY_MAX_UPLOAD_BYTES; reading stops there), sniff the file (FileUnreadable,
    ValidationFailed) as `choices` say and record it on `conn`; the upload row, `headers` a
    list.

    Whatever goes wrong, the partial or unusable file is removed before the error
    propagates, also an error raised by `chunks` itself (a download that breaks off).
    """
    upload_id, key = new_upload_location(settings, organization_id)
    writer = UploadWriter(store_for(settings), key, limit or settings.max_upload_bytes)
    try:
        for chunk in chunks:
            writer.write(chunk)
            writer.flush()
        writer.close()
        info = sniff(stored_upload(settings, key), ReadLimits.from_settings(settings), choices)
        values = upload_values(upload_id, created_by, file_name, writer, key, info, data_type)
        record_upload(conn, values)
        suggested = _suggestion(conn, data_type, info)
    except BaseException:
        writer.discard()
        forget_upload(settings, key)
        raise
    return {**values, "headers": list(info.headers), **suggested}


def _suggestion(conn: Conn, data_type: str | None, info: FileInfo) -> dict[str, Any]:
    """For a file of a known type, the suggestion `POST /uploads` answers (see
    `imports.suggestion`): `suggested_mapping`, `mapping_notes`, `suggested_options`."""
    if data_type is None:
        return {}
    headers = list(info.headers)
    found = suggest_from_values(conn, get_data_type(data_type), headers, info.preview)
    return {
        "suggested_mapping": found.mapping,
        "mapping_notes": found.notes,
        "suggested_options": {"value_maps": found.value_maps},
    }


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(CHUNK_BYTES):
        yield chunk


def spool_path(settings: Settings, key: str) -> Path:
    """Where a file that needs random access before it is stored (a batch's ZIP) is
    spooled locally (at most CRMFERRY_MAX_UPLOAD_BYTES), before `keep_upload`."""
    return store_for(settings).staging_path(key)


def keep_upload(settings: Settings, key: str, spooled: Path) -> None:
    """Put a spooled upload into the store (the spool is gone afterwards)."""
    store_for(settings).put_file(key, spooled)


def forget_upload(settings: Settings, key: str) -> None:
    """Remove a stored upload whose row is not going to commit, and what is left of its
    spool; missing is fine."""
    store = store_for(settings)
    store.release_staging(key)
    try:
        store.delete(key)
    except StorageUnavailable as exc:  # cleaning up after an error: that error is the news
        log.warning("upload %s left in the store: %s", key, exc.detail)


def new_upload_location(settings: Settings, organization_id: UUID) -> tuple[UUID, str]:
    """A new upload's id and storage key."""
    upload_id = uuid.uuid4()
    return upload_id, upload_key(organization_id, upload_id)


class CountedWriter:
    """The size and SHA-256 of what was written; PayloadTooLarge past `limit` (after
    `discard`, so that nothing of the file is left)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise PayloadTooLarge(
                f"The file is larger than the limit of {self.limit:,} bytes "
                "(CRMFERRY_MAX_UPLOAD_BYTES)."
            )
        self.digest.update(chunk)

    def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Send what was written on to where it is kept, when it is time to."""

    def close(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError


class UploadWriter(CountedWriter):
    """Writes an upload into the store as `key` as it arrives (`FileStore.writing`).

    `write` only counts, hashes and gathers (cheap enough for an event loop); `flush`
    sends what was gathered once FLUSH_BYTES are (it may upload a part: a thread's
    work), `close` sends the rest and stores the file. `discard`, and PayloadTooLarge
    past `limit`, leave nothing stored (no object, no unfinished multipart upload)."""

    FLUSH_BYTES = 1024 * 1024

    def __init__(self, store: FileStore, key: str, limit: int) -> None:
        super().__init__(limit)
        self._stack = contextlib.ExitStack()
        self._sink = self._stack.enter_context(store.writing(key))
        self._pending = bytearray()
        self._open = True

    def write(self, chunk: bytes) -> None:
        self._count(chunk)
        self._pending += chunk

    @property
    def due(self) -> bool:
        """Whether `flush` has something to send."""
        return len(self._pending) >= self.FLUSH_BYTES

    def flush(self, force: bool = False) -> None:
        if self._open and (force or self.due):
            self._sink.write(self._pending)
            self._pending.clear()

    def close(self) -> None:
        """Store the file (StorageUnavailable if the store refuses it; nothing is left)."""
        if self._open:
            self.flush(force=True)
            self._open = False
            self._stack.close()

    def discard(self) -> None:
        self._pending.clear()
        if self._open:
            self._open = False
            # the `writing` block ends with an exception: nothing of the file is kept
            self._stack.__exit__(_Discarded, _Discarded(), None)


class _Discarded(Exception):
    """Ends a `writing` block whose file is not to be kept."""


class LimitedWriter(CountedWriter):
    """Writes chunks to a local file, hashing and counting; PayloadTooLarge past
    `limit` (the partial file is removed). For a file that needs random access before
    it is stored (a batch's ZIP)."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(limit)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = path.open("wb")

    def write(self, chunk: bytes) -> None:
        self._count(chunk)
        self._file.write(chunk)

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def upload_values(
    upload_id: UUID,
    created_by: UUID,
    file_name: str,
    writer: CountedWriter,
    relative: str,
    info: FileInfo,
    data_type: str | None,
) -> dict[str, Any]:
    """The `uploads` row of a stored, sniffed file (`headers` as JSON text)."""
    return {
        "id": upload_id,
        "created_by": created_by,
        "file_name": file_name,
        "size_bytes": writer.size,
        "sha256": writer.digest.hexdigest(),
        "storage_path": relative,
        "format": info.format,
        "encoding": info.encoding,
        "delimiter": info.delimiter,
        "headers": json.dumps(list(info.headers)),
        "row_estimate": info.row_estimate,
        "data_type": data_type,
        "header_row": info.header_row,
        "sheet": info.sheet,
        "last_row": info.last_row,
    }


def record_upload(conn: Conn, values: dict[str, Any]) -> None:
    """Insert the upload row (values as in the `uploads` table)."""
    conn.execute(_INSERT_UPLOAD, values)


def read_choices(upload: dict[str, Any], options: dict[str, Any] | None = None) -> ReadChoices:
    """How to read a stored upload again: as it was read when uploaded (its encoding,
    header row, sheet and last data row), unless the import's options choose another."""
    options = options or {}
    return ReadChoices(
        encoding=upload["encoding"],
        header_row=options.get("header_row") or upload["header_row"],
        sheet=options.get("sheet") or upload["sheet"],
        last_row=options.get("last_row") or upload.get("last_row"),
    )


def get_upload(conn: Conn, upload_id: object) -> dict[str, Any]:
    """The upload row of the current organization; NotFound otherwise (or a malformed id)."""
    row = conn.execute(_GET_UPLOAD, [id_or_not_found(upload_id, "upload")]).fetchone()
    if row is None:
        raise NotFound(f"No upload {upload_id}.")
    return row
