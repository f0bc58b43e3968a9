"""An upload kept in the file store, as the readers read it (`reading.source.Source`):
streamed from the store, its head and tail by ranged reads, and a local copy only for
a reader that needs random access (the store's `local_copy`, removed after)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import BinaryIO

from crmferry.config import Settings
from crmferry.imports.reading.source import Source
from crmferry.storage import FileGone, FileStore, store_for


class StoredSource(Source):
    """The stored file `key` of `store`."""

    def __init__(self, store: FileStore, key: str) -> None:
        self.store, self.key = store, key
        self._size: int | None = None

    def open(self) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.store.open(self.key)

    def local_path(self) -> contextlib.AbstractContextManager[Path]:
        return self.store.local_copy(self.key)

    def size(self) -> int:
        if self._size is None:  # a stored file does not change under its key
            found = self.store.size(self.key)
            if found is None:
                raise FileGone(f"The stored file {self.key} is gone.")
            self._size = found
        return self._size

    def read_range(self, start: int, length: int) -> bytes:
        return self.store.read_range(self.key, start, length)


def stored_upload(settings: Settings, key: str) -> StoredSource:
    """The stored upload `key` in the settings' store, to read."""
    return StoredSource(store_for(settings), key)
