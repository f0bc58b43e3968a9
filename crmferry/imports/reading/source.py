"""Where a reader reads a file from: a `Source` gives it as a stream from its first byte
(`open`, as often as a reader needs another pass), a piece of it (`read_range`), its
size, and, for formats that need random access (ZIP and OLE2 workbooks), a seekable
local file (`local_path`, a temporary copy where the file is not local, removed when
the block ends).

A text table is read from `open` alone, so a stored file is read straight from the
store; a reader that needs a path says so (`Reader.streams` false) and is given one."""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from crmferry.imports.reading.info import StrPath


class Source(abc.ABC):
    """A file to read, wherever it is kept."""

    @abc.abstractmethod
    def open(self) -> contextlib.AbstractContextManager[BinaryIO]:
        """The file as a binary stream from its first byte (a new one on each call)."""

    @abc.abstractmethod
    def local_path(self) -> contextlib.AbstractContextManager[Path]:
        """A local, seekable file with the content, for the block's duration."""

    @abc.abstractmethod
    def size(self) -> int:
        """The file's size in bytes."""

    def read_range(self, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (fewer at the end of the file)."""
        with self.open() as stream:
            skip_bytes(stream, start)
            return read_exactly(stream, length)

    def head(self, length: int) -> bytes:
        """The first `length` bytes (fewer for a shorter file)."""
        return self.read_range(0, length)


class PathSource(Source):
    """A local file."""

    def __init__(self, path: StrPath) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        with self.path.open("rb") as file:
            yield file

    @contextlib.contextmanager
    def local_path(self) -> Iterator[Path]:
        yield self.path

    def size(self) -> int:
        return os.path.getsize(self.path)

    def read_range(self, start: int, length: int) -> bytes:
        with self.path.open("rb") as file:
            file.seek(start)
            return file.read(length)


def as_source(file: StrPath | Source) -> Source:
    """`file` as a Source (a path becomes a PathSource)."""
    return file if isinstance(file, Source) else PathSource(file)


def read_exactly(stream: BinaryIO, length: int) -> bytes:
    """`length` bytes of `stream` (fewer only at its end): a network stream may answer
    a read with less than was asked."""
    parts: list[bytes] = []
    wanted = length
    while wanted > 0 and (part := stream.read(wanted)):
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def skip_bytes(stream: BinaryIO, count: int, chunk: int = 1024 * 1024) -> None:
    """Read past `count` bytes of an unseekable stream."""
    while count > 0 and (part := stream.read(min(count, chunk))):
        count -= len(part)
