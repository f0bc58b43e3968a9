"""The folder backend (the default): files under one local folder, named by key.

Staging is the store itself: a kind writes straight into the folder its files are
kept in, and `put_file` of a file already in place does nothing, so embedded mode
works exactly as before object storage existed."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from crmferry.errors import StorageUnavailable
from crmferry.storage.base import CHUNK_BYTES, FileGone, FileStore, StoredFile, StoreWriter
from crmferry.storage.keys import checked_key


class LocalStore(FileStore):
    """Files in `root` (CRMFERRY_DATA_DIR/files)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"CRMFERRY_DATA_DIR: the file folder {self.root} cannot be created: {exc}."
            ) from None

    def staging_path(self, key: str) -> Path:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def staging_dir(self, prefix: str) -> Path:
        folder = self._path(prefix)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def release_staging(self, prefix: str) -> None:
        pass  # the staging folder is where the files are kept

    def put_file(self, key: str, path: Path) -> int:
        target = self._path(key)
        if path.resolve() != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            shutil.copyfile(path, part)  # across file systems too; renamed whole
            os.replace(part, target)
            path.unlink(missing_ok=True)
        return target.stat().st_size

    def put_stream(self, key: str, stream: BinaryIO) -> int:
        target = self.staging_path(key)
        part = target.with_name(target.name + ".part")
        try:
            with part.open("wb") as out:
                shutil.copyfileobj(stream, out, CHUNK_BYTES)
            os.replace(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def writing(self, key: str) -> contextlib.AbstractContextManager[StoreWriter]:
        return writing_file(self.staging_path(key))

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            file = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileGone(f"The stored file {key} is gone.") from None
        with file:
            yield file

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileGone(f"The stored file {key} is gone.")
        yield path  # already local and seekable: no copy

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self.open(key) as file:
            file.seek(start)
            return file.read(length)

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str, keep: tuple[str, ...] = ()) -> None:
        folder = self._path(prefix)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
            return
        for stored in self.list(prefix):
            if stored.key not in keep:
                self.delete(stored.key)

    def list(self, prefix: str) -> list[StoredFile]:
        folder = self._path(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        found = [
            StoredFile(path.relative_to(self.root).as_posix(), path.stat().st_size)
            for path in folder.rglob("*")
            if path.is_file()
        ]
        return sorted(found, key=lambda f: f.key)

    def prune_empty(self, prefix: str) -> None:
        # the prefix's folder and its parent (a job's attempt and the job itself)
        folder = self._path(prefix)
        for empty in (folder, folder.parent):
            with contextlib.suppress(OSError):  # not empty, or already gone
                empty.rmdir()


@contextlib.contextmanager
def writing_file(target: Path) -> Iterator[StoreWriter]:
    """`FileStore.writing` into the local file `target`: written under a temporary name
    beside it, renamed into place at the end (a reader never sees half a file), removed
    on any exception."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        with part.open("wb", buffering=CHUNK_BYTES) as file:
            sink = _FileWriter(file)
            yield sink
            sink.close()
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class _FileWriter(StoreWriter):
    """`FileStore.writing` into a local file (unseekable like the S3 one, so that a
    writer on top writes the same bytes to either)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self._file = file

    def _take(self, data: memoryview) -> None:
        self._file.write(data)
