"""The one interface every file store offers (see the package's docstring)."""

from __future__ import annotations

import abc
import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from crmferry.errors import NotFound

CHUNK_BYTES = 1024 * 1024
PRESIGN_SECONDS = 15 * 60


class FileGone(NotFound):
    """A key names no stored file (deleted, pruned, or never committed)."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int


class FileStore(abc.ABC):
    """Put, read, list, delete and hand out files by key.

    Writing is in two steps so that kinds keep writing ordinary local files:
    `staging_path`/`staging_dir` say where to write a file that is to become a key,
    `put_file` takes it in (a rename for a folder, a multipart upload for S3; the
    local file is gone afterwards). `release_staging` removes what is left of a
    staging folder. Readers that need random access ask for `local_copy`.

    A file written front to back (an export) goes straight in with `writing`: its
    bytes reach the store as they are written, and nothing is stored unless the block
    ends without an exception.
    """

    name: str

    @abc.abstractmethod
    def staging_path(self, key: str) -> Path:
        """A local path (its folder created) where a file that will be `key` is written."""

    @abc.abstractmethod
    def staging_dir(self, prefix: str) -> Path:
        """A local folder (created) for files that will be stored under `prefix`."""

    @abc.abstractmethod
    def release_staging(self, prefix: str) -> None:
        """Remove the local staging folder of `prefix` where it is not the store itself."""

    @abc.abstractmethod
    def put_file(self, key: str, path: Path) -> int:
        """Store the local file `path` as `key` (replacing it) and remove `path`; its size.
        Nothing half-written is visible under `key` if this fails."""

    @abc.abstractmethod
    def put_stream(self, key: str, stream: BinaryIO) -> int:
        """Store what `stream` reads as `key`, in bounded memory; its size."""

    @abc.abstractmethod
    def writing(self, key: str) -> contextlib.AbstractContextManager[StoreWriter]:
        """A stream to write `key` with, front to back, in bounded memory: stored as
        `key` (replacing it) when the block ends without an exception; otherwise
        nothing of it is left (no partial file, no unfinished upload) and the
        exception goes on. The stream cannot seek; `tell` and `size` count the bytes
        written."""

    @abc.abstractmethod
    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """The stored file, read as a stream; FileGone when there is none."""

    @abc.abstractmethod
    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local, seekable file with the stored content, for readers that need random
        access; a temporary copy is removed when the block ends. FileGone if none."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The stored file's size, or None when `key` names none."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; a missing file is fine."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str, keep: tuple[str, ...] = ()) -> None:
        """Remove every file under `prefix/` except the keys in `keep`."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[StoredFile]:
        """Every file under `prefix/` (all of them for an empty prefix), sorted by key."""

    @abc.abstractmethod
    def check(self) -> None:
        """StorageUnavailable, naming the setting and the reason, unless files can be
        kept here: processes call it at start, rather than failing job after job."""

    def presign(self, key: str, file_name: str, media_type: str) -> str | None:
        """A URL that serves `key` for PRESIGN_SECONDS with this download name, or None
        when the backend cannot give one (the web then streams the file itself)."""
        return None

    def prune_empty(self, prefix: str) -> None:
        """Forget what is left of `prefix` once it holds nothing (folders, for a folder
        store; nothing to do for object storage)."""
        return None

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes of `key` from offset `start` (fewer at its end, none past
        it); FileGone when there is none. A reader's look at a file's head or tail."""
        with self.open(key) as stream:
            while start > 0 and (skipped := stream.read(min(start, CHUNK_BYTES))):
                start -= len(skipped)
            return stream.read(length)

    def chunks(self, key: str) -> Iterator[bytes]:
        """The stored file in chunks (FileGone before the first when there is none)."""
        with self.open(key) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                yield chunk


class StoreWriter(io.BufferedIOBase):
    """A write-only, unseekable stream into the store (`FileStore.writing`). Closing
    it (as a gzip or ZIP writer on top may) ends the writing; storing the file is the
    `writing` block's end. Backends implement `_take` (the bytes, in order) and may
    rely on `size` (bytes written so far)."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed store stream")
        view = memoryview(data).cast("B")
        if view.nbytes:
            self._take(view)
            self.size += view.nbytes
        return view.nbytes

    def _take(self, data: memoryview) -> None:
        raise NotImplementedError


def content_disposition(file_name: str) -> str:
    """`attachment` with an ASCII name and the exact UTF-8 one (RFC 6266)."""
    plain = file_name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(file_name)}"
