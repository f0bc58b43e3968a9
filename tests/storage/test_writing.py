"""`FileStore.writing`: a file written front to back straight into the store, on both
backends; on S3 each part goes up as soon as it is full, and a failure leaves nothing."""

from __future__ import annotations

import gzip
import io
import uuid

import pytest

from crmferry.config import Settings
from crmferry.errors import StorageUnavailable
from crmferry.storage import store_for
from crmferry.storage.s3 import MULTIPART_BYTES
from tests.conftest import Backend
from tests.s3server import bucket_keys, open_multipart_uploads, s3_client

PREFIX = f"jobs/writing-{uuid.uuid4().hex[:8]}"  # nothing else writes here
KEY = f"{PREFIX}/attempt-1/out.bin"


class Stop(Exception):
    pass


def _chunks(total: int, size: int = 1 << 20) -> list[bytes]:
    return [
        bytes([i % 251]) * min(size, total - start) for i, start in enumerate(range(0, total, size))
    ]


def _leftovers(settings: Settings, backend: Backend) -> tuple[list[str], list[str]]:
    if backend.name == "s3":
        assert backend.endpoint and backend.bucket
        return bucket_keys(backend.endpoint, backend.bucket), open_multipart_uploads(
            backend.endpoint, backend.bucket
        )
    root = settings.data_dir / "files" / PREFIX
    return sorted(str(p) for p in root.rglob("*") if p.is_file()), []


@pytest.mark.usefixtures("each_backend")
@pytest.mark.parametrize("total", [0, 5, MULTIPART_BYTES, 2 * MULTIPART_BYTES + 12_345])
def test_what_is_written_is_stored_whole(settings: Settings, total: int) -> None:
    store = store_for(settings)
    data = b"".join(_chunks(total))
    with store.writing(KEY) as out:
        for chunk in _chunks(total):
            out.write(chunk)
        assert out.tell() == total
    assert out.size == total
    assert store.size(KEY) == total
    with store.open(KEY) as stream:
        assert stream.read() == data
    store.delete(KEY)


def test_a_gzip_stream_on_top_writes_a_valid_file(
    settings: Settings, each_backend: Backend
) -> None:
    store = store_for(settings)
    with store.writing(KEY) as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as packed:
            packed.write(b"line\n" * 100_000)
        assert not out.seekable()
    with store.open(KEY) as stream:
        assert gzip.decompress(stream.read()) == b"line\n" * 100_000
    store.delete(KEY)


@pytest.mark.parametrize("written", [3, 2 * MULTIPART_BYTES + 5])
def test_a_failure_while_writing_leaves_no_file_and_no_upload(
    settings: Settings, each_backend: Backend, written: int
) -> None:
    store = store_for(settings)
    store.put_stream(KEY, io.BytesIO(b"before"))
    with pytest.raises(Stop), store.writing(KEY) as out:
        for chunk in _chunks(written):
            out.write(chunk)
        raise Stop
    # the file that was there is untouched; nothing else was left
    with store.open(KEY) as stream:
        assert stream.read() == b"before"
    store.delete(KEY)
    assert _leftovers(settings, each_backend) == ([], [])


def test_parts_go_up_while_the_file_is_still_being_written(
    settings: Settings, s3_backend: Backend
) -> None:
    assert s3_backend.endpoint and s3_backend.bucket
    client = s3_client(s3_backend.endpoint)
    store = store_for(settings)
    with store.writing(KEY) as out:
        out.write(b"x" * (MULTIPART_BYTES - 1))
        assert open_multipart_uploads(s3_backend.endpoint, s3_backend.bucket) == []
        out.write(b"x" * (2 * MULTIPART_BYTES))  # two full parts sent, one byte short of three
        out.flush()  # the second may still be going up in the sending thread
        [upload] = client.list_multipart_uploads(Bucket=s3_backend.bucket)["Uploads"]
        parts = client.list_parts(
            Bucket=s3_backend.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )["Parts"]
        assert [p["Size"] for p in parts] == [MULTIPART_BYTES, MULTIPART_BYTES]
        assert bucket_keys(s3_backend.endpoint, s3_backend.bucket) == []  # not yet an object
        out.write(b"yy")
    assert store.size(KEY) == 3 * MULTIPART_BYTES + 1
    assert open_multipart_uploads(s3_backend.endpoint, s3_backend.bucket) == []


def test_a_part_that_fails_to_go_up_fails_the_writing_and_leaves_nothing(
    settings: Settings, s3_backend: Backend
) -> None:
    """A part is sent in the background while the next fills: its failure (here its
    upload, aborted from outside) is raised by a later write or the block's end."""
    assert s3_backend.endpoint and s3_backend.bucket
    client = s3_client(s3_backend.endpoint)
    store = store_for(settings)
    with pytest.raises(StorageUnavailable), store.writing(KEY) as out:
        out.write(b"x" * MULTIPART_BYTES)
        out.flush()
        [upload] = client.list_multipart_uploads(Bucket=s3_backend.bucket)["Uploads"]
        client.abort_multipart_upload(
            Bucket=s3_backend.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
        for _ in range(3):
            out.write(b"y" * MULTIPART_BYTES)  # each part fails to go up
    assert _leftovers(settings, s3_backend) == ([], [])


def test_writing_goes_on_while_a_part_goes_up(settings: Settings, s3_backend: Backend) -> None:
    """A full part is handed to the sending thread: the write that filled it returns
    with that part's upload still running or done, never lost."""
    store = store_for(settings)
    with store.writing(KEY) as out:
        out.write(b"a" * MULTIPART_BYTES)  # handed over; this write does not wait for it
        sending = out._sending  # type: ignore[attr-defined]
        assert sending is not None
        out.write(b"b" * MULTIPART_BYTES)  # waits for the first, hands over the second
        assert sending.done()
    with store.open(KEY) as stream:
        assert stream.read() == b"a" * MULTIPART_BYTES + b"b" * MULTIPART_BYTES
    store.delete(KEY)
