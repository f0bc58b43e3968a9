"""Uploaded files: stored in the file store, described by a row in `uploads`."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import NotFound, PayloadTooLarge
from crmferry.imports.reading import FileInfo

CHUNK_BYTES = 1024 * 1024

_INSERT_UPLOAD = """
INSERT INTO uploads (id, organization_id, created_by, file_name, size_bytes, sha256,
                     storage_path, format, encoding, delimiter, headers, row_estimate, data_type)
VALUES (%(id)s, crmferry_current_org(), %(created_by)s, %(file_name)s, %(size_bytes)s,
        %(sha256)s, %(storage_path)s, %(format)s, %(encoding)s, %(delimiter)s,
        %(headers)s::jsonb, %(row_estimate)s, %(data_type)s)
"""

_GET_UPLOAD = "SELECT * FROM uploads WHERE id = %s"


def upload_path(settings: Settings, relative_path: str) -> Path:
    """The absolute path of a stored upload."""
    return settings.files_dir / relative_path


def new_upload_location(settings: Settings, organization_id: UUID) -> tuple[UUID, str]:
    upload_id = uuid.uuid4()
    return upload_id, f"uploads/{organization_id}/{upload_id}"


class LimitedWriter:
    """Writes chunks to a file, hashing and counting; PayloadTooLarge past `limit`
    (the partial file is removed)."""

    def __init__(self, path: Path, limit: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()
        self._file: BinaryIO = path.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise PayloadTooLarge(
                f"The file is larger than the limit of {self.limit:,} bytes "
                "(CRMFERRY_MAX_UPLOAD_BYTES)."
            )
        self.digest.update(chunk)
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
    writer: LimitedWriter,
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
    }


def record_upload(conn: Conn, values: dict[str, Any]) -> None:
    """Insert the upload row (values as in the `uploads` table)."""
    conn.execute(_INSERT_UPLOAD, values)


def get_upload(conn: Conn, upload_id: object) -> dict[str, Any]:
    """The upload row of the current organization; NotFound otherwise (or a malformed id)."""
    try:
        parsed = UUID(str(upload_id))
    except ValueError:
        raise NotFound(f"No upload {upload_id}.") from None
    row = conn.execute(_GET_UPLOAD, [parsed]).fetchone()
    if row is None:
        raise NotFound(f"No upload {upload_id}.")
    return row
