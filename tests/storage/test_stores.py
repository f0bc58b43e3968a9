"""The one file-store interface, on both backends: put, read, copy, list, delete."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from crmferry.config import Settings
from crmferry.storage import FileGone, store_for
from tests.conftest import Backend
from tests.s3server import bucket_keys, open_multipart_uploads

pytestmark = pytest.mark.usefixtures("each_backend")


def test_a_stream_put_reads_back_whole_and_lists_by_prefix(settings: Settings) -> None:
    store = store_for(settings)
    data = bytes(range(256)) * 40_000  # 10 MB: above the multipart threshold
    assert store.put_stream("jobs/o/j/attempt-1/big.bin", io.BytesIO(data)) == len(data)
    store.put_stream("jobs/o/j/attempt-2/small.txt", io.BytesIO(b"hi"))
    store.put_stream("jobs/o/k/attempt-1/other.txt", io.BytesIO(b"other"))
    with store.open("jobs/o/j/attempt-1/big.bin") as stream:
        assert stream.read() == data
    assert b"".join(store.chunks("jobs/o/j/attempt-2/small.txt")) == b"hi"
    assert store.size("jobs/o/j/attempt-1/big.bin") == len(data)
    listed = store.list("jobs/o/j")
    assert [(f.key, f.size) for f in listed] == [
        ("jobs/o/j/attempt-1/big.bin", len(data)),
        ("jobs/o/j/attempt-2/small.txt", 2),
    ]


def test_delete_by_prefix_keeps_what_is_asked_and_other_prefixes(settings: Settings) -> None:
    store = store_for(settings)
    for key in ("p/a/1", "p/a/2", "p/ab/3", "p/b/4"):
        store.put_stream(key, io.BytesIO(key.encode()))
    store.delete_prefix("p/a", keep=("p/a/2",))
    assert [f.key for f in store.list("p")] == ["p/a/2", "p/ab/3", "p/b/4"]
    store.delete_prefix("p/a")
    store.delete("p/b/4")
    store.delete("p/b/4")  # missing is fine
    assert [f.key for f in store.list("p")] == ["p/ab/3"]


def test_a_missing_key_is_file_gone(settings: Settings) -> None:
    store = store_for(settings)
    assert store.size("nothing/here") is None
    with pytest.raises(FileGone), store.open("nothing/here"):
        pass
    with pytest.raises(FileGone), store.local_copy("nothing/here"):
        pass


def test_keys_never_reach_outside_the_store(settings: Settings) -> None:
    store = store_for(settings)
    for bad in ("../escape", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError):
            store.size(bad)


def test_a_local_copy_is_seekable_and_a_temporary_one_is_removed(
    settings: Settings, each_backend: Backend
) -> None:
    store = store_for(settings)
    store.put_stream("uploads/o/u", io.BytesIO(b"0123456789"))
    with store.local_copy("uploads/o/u") as path:
        with path.open("rb") as file:
            file.seek(5)
            assert file.read() == b"56789"
        copy = path
    assert copy.exists() == (each_backend.name == "local")  # the folder store's own file


def test_a_staged_file_enters_the_store_and_leaves_no_local_trace(
    settings: Settings, each_backend: Backend
) -> None:
    store = store_for(settings)
    folder = store.staging_dir("jobs/o/s/attempt-1")
    (folder / "result.csv").write_bytes(b"a,b\n")
    assert store.put_file("jobs/o/s/attempt-1/result.csv", folder / "result.csv") == 4
    store.release_staging("jobs/o/s/attempt-1")
    with store.open("jobs/o/s/attempt-1/result.csv") as stream:
        assert stream.read() == b"a,b\n"
    if each_backend.name == "s3":
        assert not folder.exists()
        assert bucket_keys(each_backend.endpoint or "", each_backend.bucket or "") == [
            "files/jobs/o/s/attempt-1/result.csv"
        ]
    else:
        assert (folder / "result.csv").is_file()


def test_a_folder_store_puts_a_file_from_elsewhere_whole(
    settings: Settings, tmp_path: Path
) -> None:
    store = store_for(settings)
    outside = tmp_path / "made-elsewhere.csv"
    outside.write_bytes(b"x" * 1000)
    assert store.put_file("jobs/o/e/attempt-1/made.csv", outside) == 1000
    assert not outside.exists()
    assert store.size("jobs/o/e/attempt-1/made.csv") == 1000


class _BreaksOff:
    """A stream that fails after `good` bytes, as a client going away does."""

    def __init__(self, good: int) -> None:
        self.left = good

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("the connection broke off")
        n = min(self.left, size if size > 0 else self.left)
        self.left -= n
        return b"x" * n


def test_a_failed_multipart_upload_is_aborted_and_leaves_no_object(
    settings: Settings, s3_backend: Backend
) -> None:
    store = store_for(settings)
    with pytest.raises(OSError, match="broke off"):
        store.put_stream("jobs/o/f/attempt-1/big.csv", _BreaksOff(20 * 1024 * 1024))  # type: ignore[arg-type]
    endpoint, bucket = s3_backend.endpoint or "", s3_backend.bucket or ""
    assert bucket_keys(endpoint, bucket) == []
    assert open_multipart_uploads(endpoint, bucket) == []
