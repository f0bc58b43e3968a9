"""Store a file as an upload without HTTP, with the same checks as `POST /uploads`: the
size limit, the SHA-256, sniffing. Used by the CLI acting locally (a local file) and by
import jobs whose schedule names a URL source (a download)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.imports.reading import ReadLimits, sniff
from crmferry.imports.uploads import (
    CHUNK_BYTES,
    LimitedWriter,
    new_upload_location,
    record_upload,
    upload_path,
    upload_values,
)


def store_file(
    conn: Conn, settings: Settings, principal: Principal, source: Path, data_type: str | None
) -> dict[str, Any]:
    """Copy `source` into the file store (size-limited, hashed, in chunks), sniff it and
    record it; the upload row. The stored copy is removed when it cannot be used."""
    with source.open("rb") as file:
        return store_upload(
            conn,
            settings,
            organization_id=principal.organization_id,
            created_by=principal.user_id,
            file_name=source.name,
            chunks=_file_chunks(file),
            data_type=data_type,
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
) -> dict[str, Any]:
    """Write `chunks` into the organization's file store (PayloadTooLarge past
    CRMFERRY_MAX_UPLOAD_BYTES, reading stops there), sniff the file (FileUnreadable,
    ValidationFailed) and record it on `conn`; the upload row, `headers` a list.

    Whatever goes wrong, the partial or unusable file is removed before the error
    propagates, also an error raised by `chunks` itself (a download that breaks off).
    """
    upload_id, relative = new_upload_location(settings, organization_id)
    writer = LimitedWriter(upload_path(settings, relative), settings.max_upload_bytes)
    try:
        for chunk in chunks:
            writer.write(chunk)
        writer.close()
        info = sniff(writer.path, ReadLimits.from_settings(settings))
        values = upload_values(upload_id, created_by, file_name, writer, relative, info, data_type)
        record_upload(conn, values)
    except BaseException:
        writer.discard()
        raise
    return {**values, "headers": list(info.headers)}


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(CHUNK_BYTES):
        yield chunk
