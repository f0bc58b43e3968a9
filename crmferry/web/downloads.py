"""Serving a stored file: a 302 to a presigned URL when the store can give one (and
CRMFERRY_STORAGE_REDIRECT allows it), else the file streamed through this process."""

from __future__ import annotations

import mimetypes

from fastapi.responses import RedirectResponse, Response, StreamingResponse

from crmferry.config import Settings
from crmferry.errors import NotFound
from crmferry.storage import store_for
from crmferry.storage.base import content_disposition

MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def media_type_for(file_name: str) -> str:
    """The Content-Type of a download by its name's extension."""
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return (
        MEDIA_TYPES.get(suffix) or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    )


def stored_file_response(
    settings: Settings, key: str | None, file_name: str, media_type: str, missing: str
) -> Response:
    """The stored file `key` as a download named `file_name`; NotFound(`missing`) when
    there is none (the message says when the row names a file that is gone)."""
    if not key:
        raise NotFound(missing)
    store = store_for(settings)
    size = store.size(key)
    if size is None:
        raise NotFound(missing + " (the file is gone)")
    if settings.storage_redirect:
        url = store.presign(key, file_name, media_type)
        if url is not None:
            return RedirectResponse(url, status_code=302)
    headers = {
        "Content-Disposition": content_disposition(file_name),
        "Content-Length": str(size),
    }
    return StreamingResponse(store.chunks(key), media_type=media_type, headers=headers)
