"""Uploads stream into the store as they arrive (several multipart parts on S3), hashed on
the way, with nothing written on the web host's disk; past the size limit, or for a
file that cannot be read, nothing is left: no object, no unfinished multipart upload,
no spool."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from tests.conftest import Backend, Org
from tests.s3server import bucket_keys, open_multipart_uploads, s3_client
from tests.stored import FilesSeen, read_stored, stored_keys

BOUNDARY = "streamedUploadBoundary"
PART = 8 * 1024 * 1024


def _rows(size: int) -> bytes:
    line = b"Person,person@example.com,Company\n"
    return b"Name,Email,Company\n" + line * (size // len(line))


def _chunked_form(content: bytes, name: str = "big.csv") -> Iterator[bytes]:
    """A multipart body sent in pieces without a Content-Length (so that only the
    streaming limit can stop it)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
    ).encode()
    for start in range(0, len(content), 256 * 1024):
        yield content[start : start + 256 * 1024]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _post(client: TestClient, org: Org, content: bytes, name: str = "big.csv") -> object:
    return client.post(
        "/api/v1/uploads",
        headers={**org.member.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        content=_chunked_form(content, name),
    )


def _left_on_disk(data_dir: Path) -> list[Path]:
    """Files under CRMFERRY_DATA_DIR but the folder store's own."""
    return [
        p
        for p in data_dir.rglob("*")
        if p.is_file() and p.relative_to(data_dir).parts[0] != "files"
    ]


def test_a_large_upload_streams_whole_into_the_store_with_its_sha256(
    app_client: TestClient, settings: Settings, org: Org, each_backend: Backend, own_data_dir: Path
) -> None:
    content = _rows(3 * PART + 12345)
    seen = FilesSeen(own_data_dir)
    with seen.running():
        response = _post(app_client, org, content)
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    upload = response.json()  # type: ignore[attr-defined]
    assert upload["sha256"] == hashlib.sha256(content).hexdigest()
    assert upload["size_bytes"] == len(content)
    key = f"uploads/{org.id}/{upload['id']}"
    assert read_stored(settings, key) == content
    lines = content.count(b"\n") - 1
    assert abs(upload["row_estimate"] - lines) < lines / 100  # sniffed from the store
    assert seen.seen == set()  # not even a spool, on either backend
    assert _left_on_disk(own_data_dir) == []
    if each_backend.name == "s3":
        assert each_backend.endpoint and each_backend.bucket
        head = s3_client(each_backend.endpoint).head_object(
            Bucket=each_backend.bucket, Key=f"files/{key}"
        )
        assert head["ETag"].strip('"').endswith("-4")  # four parts, sent as they filled


@pytest.mark.parametrize("size", [3 * PART, 100_000])
def test_an_upload_past_the_limit_is_413_and_leaves_nothing(
    app_client: TestClient,
    settings: Settings,
    org: Org,
    each_backend: Backend,
    own_data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    limit = size - 1000  # several parts already sent for the large one
    monkeypatch.setattr(settings, "max_upload_bytes", limit)
    response = _post(app_client, org, _rows(size))
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert f"{limit:,} bytes" in response.json()["detail"]  # type: ignore[attr-defined]
    assert stored_keys(settings) == []
    assert _left_on_disk(own_data_dir) == []
    if each_backend.name == "s3":
        assert each_backend.endpoint and each_backend.bucket
        assert bucket_keys(each_backend.endpoint, each_backend.bucket) == []
        assert open_multipart_uploads(each_backend.endpoint, each_backend.bucket) == []


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (PART // 128), b""], ids=["png", "empty"]
)
def test_a_file_that_cannot_be_read_is_removed_from_the_store(
    app_client: TestClient,
    settings: Settings,
    org: Org,
    each_backend: Backend,
    own_data_dir: Path,
    content: bytes,
) -> None:
    response = _post(app_client, org, content, "photo.csv")
    assert response.status_code in (415, 422)  # type: ignore[attr-defined]
    assert stored_keys(settings) == []
    assert _left_on_disk(own_data_dir) == []
    if each_backend.name == "s3":
        assert each_backend.endpoint and each_backend.bucket
        assert open_multipart_uploads(each_backend.endpoint, each_backend.bucket) == []


def test_a_batch_streams_its_files_and_unpacks_a_zip_from_a_spool_removed_after(
    app_client: TestClient, settings: Settings, org: Org, each_backend: Backend, own_data_dir: Path
) -> None:
    inner = _rows(200_000)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.csv", inner)
    plain = _rows(PART + 10)
    files = [("file", ("plain.csv", plain)), ("file", ("files.zip", bundle.getvalue()))]
    response = app_client.post("/api/v1/uploads/batch", headers=org.member.headers, files=files)
    assert response.status_code == 201, response.text
    items = {item["file_name"]: item for item in response.json()["items"]}
    assert set(items) == {"plain.csv", "inner.csv"}
    for name, content in (("plain.csv", plain), ("inner.csv", inner)):
        assert items[name]["sha256"] == hashlib.sha256(content).hexdigest()
        assert read_stored(settings, f"uploads/{org.id}/{items[name]['id']}") == content
    assert len(stored_keys(settings)) == 2  # the ZIP itself is not kept
    assert _left_on_disk(own_data_dir) == []
    if each_backend.name == "s3":
        assert each_backend.endpoint and each_backend.bucket
        assert open_multipart_uploads(each_backend.endpoint, each_backend.bucket) == []
