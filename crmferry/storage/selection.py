"""Which store a process uses: CRMFERRY_STORAGE_URL, or else the local folder."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

from crmferry.config import Settings
from crmferry.storage.base import FileStore
from crmferry.storage.local import LocalStore

_stores: dict[tuple[str | None, str | None, Path], FileStore] = {}
_lock = threading.Lock()


def store_for(settings: Settings) -> FileStore:
    """The process's store for these settings, built once (an S3 client is costly to
    make and safe to share between threads)."""
    data_dir = settings.data_dir.resolve()
    key = (settings.storage_url, settings.s3_endpoint_url, data_dir)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = _build(settings, data_dir)
    return store


def _build(settings: Settings, data_dir: Path) -> FileStore:
    if not settings.storage_url:
        return LocalStore(data_dir / "files")
    parts = urlsplit(settings.storage_url)
    from crmferry.storage.s3 import S3Store  # boto3 only where object storage is used

    return S3Store(parts.netloc, parts.path, settings.s3_endpoint_url, data_dir / "tmp")
