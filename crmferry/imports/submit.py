"""Store a local file as an upload without HTTP (the CLI acting locally), with the
same checks as `POST /uploads`: the size limit, the SHA-256, sniffing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError
from crmferry.imports.readers import ReadLimits, sniff
from crmferry.imports.uploads import (
    CHUNK_BYTES,
    LimitedWriter,
    new_upload_location,
    record_upload,
    upload_path,
)


def store_file(
    conn: Conn, settings: Settings, principal: Principal, source: Path, data_type: str | None
) -> dict[str, Any]:
    """Copy `source` into the file store (size-limited, hashed, in chunks), sniff it and
    record it; the upload row. The stored copy is removed when it cannot be used."""
    upload_id, relative = new_upload_location(settings, principal.organization_id)
    writer = LimitedWriter(upload_path(settings, relative), settings.max_upload_bytes)
    try:
        with source.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                writer.write(chunk)
        writer.close()
        info = sniff(writer.path, ReadLimits.from_settings(settings))
    except CrmFerryError:
        writer.discard()
        raise
    values = {
        "id": upload_id,
        "created_by": principal.user_id,
        "file_name": source.name,
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
    record_upload(conn, values)
    return {**values, "headers": list(info.headers)}
