"""The S3 backend: files as objects in one bucket under one prefix, through boto3.

Credentials come from the standard AWS chain (environment, profiles, instance roles);
CRMFERRY_S3_ENDPOINT_URL points at a non-AWS server (MinIO, Ceph, moto), with
path-style addressing. Files go up by boto3's managed transfer: multipart above
MULTIPART_BYTES, parts read in bounded memory, and an upload that fails is aborted,
so no partial object is ever visible. Staging is a local scratch folder under
CRMFERRY_DATA_DIR/tmp that is emptied as soon as its files are stored."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crmferry.errors import StorageUnavailable
from crmferry.storage.base import (
    CHUNK_BYTES,
    PRESIGN_SECONDS,
    FileGone,
    FileStore,
    StoredFile,
    StoreWriter,
    content_disposition,
)
from crmferry.storage.keys import checked_key

MULTIPART_BYTES = 8 * 1024 * 1024  # also the part size of `writing` (S3's least is 5 MiB)
TRANSFER = TransferConfig(
    multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES, max_concurrency=4
)
DELETE_BATCH = 1000  # the most DeleteObjects takes at once
MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Store(FileStore):
    """Objects in `bucket` under `prefix` (may be empty)."""

    name = "s3"

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None, scratch: Path) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.scratch = scratch
        style = "path" if endpoint_url else "auto"
        config = Config(
            signature_version="s3v4", s3={"addressing_style": style}, retries={"mode": "standard"}
        )
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, config=config
        )

    def _object(self, key: str) -> str:
        checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    def check(self) -> None:
        where = f"s3://{self.bucket}/{self.prefix}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            reason = "no such bucket" if str(code) in MISSING else f"refused ({code})"
            raise StorageUnavailable(f"CRMFERRY_STORAGE_URL {where}: {reason}.") from None
        except BotoCoreError as exc:  # no endpoint, no credentials
            raise StorageUnavailable(f"CRMFERRY_STORAGE_URL {where}: {exc}.") from None

    @contextlib.contextmanager
    def _reported(self, what: str) -> Iterator[None]:
        """S3's and the network's failures as StorageUnavailable (a 503 problem, a job
        failing with the reason); a missing key stays a ClientError for the caller."""
        try:
            yield
        except ClientError as exc:
            if _missing(exc):
                raise
            code = exc.response.get("Error", {}).get("Code")
            raise StorageUnavailable(
                f"The file store s3://{self.bucket}/{self.prefix} {what}: {code}."
            ) from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageUnavailable(
                f"The file store s3://{self.bucket}/{self.prefix} {what}: {exc}."
            ) from exc

    def staging_path(self, key: str) -> Path:
        return self.staging_dir(key) / Path(key).name

    def staging_dir(self, prefix: str) -> Path:
        folder = self.scratch / hashlib.sha256(checked_key(prefix).encode()).hexdigest()[:24]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def release_staging(self, prefix: str) -> None:
        folder = self.scratch / hashlib.sha256(checked_key(prefix).encode()).hexdigest()[:24]
        shutil.rmtree(folder, ignore_errors=True)

    def put_file(self, key: str, path: Path) -> int:
        size = path.stat().st_size
        with self._reported("could not store a file"):
            self.client.upload_file(str(path), self.bucket, self._object(key), Config=TRANSFER)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a staging folder left empty
            path.parent.rmdir()
        return size

    def put_stream(self, key: str, stream: BinaryIO) -> int:
        counted = _Counting(stream)
        with self._reported("could not store a file"):
            self.client.upload_fileobj(counted, self.bucket, self._object(key), Config=TRANSFER)
        return counted.size

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[StoreWriter]:
        """A multipart upload that sends each MULTIPART_BYTES part as soon as it is
        full, in a thread of its own while the next part fills (two parts in memory at
        most, plus what one write adds), completed when the block ends; on any
        exception (a cancel raised by the writer too, or a part that failed to go up,
        raised by the next write) it is aborted, so neither an object nor an
        unfinished upload is left. A file smaller than one part is one PUT."""
        sink = _MultipartWriter(self, self._object(key))
        try:
            yield sink
            sink.close()
            with self._reported("could not store a file"):
                sink.complete()
        except BaseException:
            sink.abort()
            raise

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            with self._reported("could not read a file"):
                body = self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise FileGone(f"The stored file {key} is gone.") from None
            raise
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """One ranged GET (an empty answer past the end, where S3 says 416)."""
        if length <= 0:
            return b""
        span = f"bytes={start}-{start + length - 1}"
        try:
            with self._reported("could not read a file"):
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=self._object(key), Range=span
                )
        except ClientError as exc:
            if _missing(exc):
                raise FileGone(f"The stored file {key} is gone.") from None
            raise
        except StorageUnavailable as exc:
            if _not_satisfiable(exc):
                return b""
            raise
        with contextlib.closing(answer["Body"]) as body:
            data: bytes = body.read()
        return data

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch, prefix="copy-") as folder:
            path = Path(folder) / Path(key).name
            with self.open(key) as stream, path.open("wb") as out:
                shutil.copyfileobj(stream, out, CHUNK_BYTES)
            yield path

    def size(self, key: str) -> int | None:
        try:
            with self._reported("could not look up a file"):
                head = self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        with self._reported("could not delete a file"):
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def delete_prefix(self, prefix: str, keep: tuple[str, ...] = ()) -> None:
        names = [self._object(f.key) for f in self.list(prefix) if f.key not in keep]
        for start in range(0, len(names), DELETE_BATCH):
            batch = [{"Key": name} for name in names[start : start + DELETE_BATCH]]
            with self._reported("could not delete files"):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )

    def list(self, prefix: str) -> list[StoredFile]:
        base = self._object(prefix) + "/" if prefix else (self.prefix + "/" if self.prefix else "")
        found: list[StoredFile] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base
        )
        with self._reported("could not list files"):
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(StoredFile(self._key(item["Key"]), int(item["Size"])))
        return sorted(found, key=lambda f: f.key)

    def presign(self, key: str, file_name: str, media_type: str) -> str | None:
        params = {
            "Bucket": self.bucket,
            "Key": self._object(key),
            "ResponseContentDisposition": content_disposition(file_name),
            "ResponseContentType": media_type,
        }
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=PRESIGN_SECONDS
        )
        return url


def _not_satisfiable(exc: StorageUnavailable) -> bool:
    cause = exc.__cause__
    return isinstance(cause, ClientError) and str(cause.response.get("Error", {}).get("Code")) in (
        "InvalidRange",
        "416",
    )


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in MISSING


class _Counting:
    """A read-only stream that counts what was read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.size += len(data)
        return data


class _MultipartWriter(StoreWriter):
    """`S3Store.writing`: bytes gathered into parts, each uploaded when full by one
    sending thread, so that the writer goes on while a part goes up (one part in
    flight at most: the next waits for it, and its error is raised here); the upload
    begins with the first full part."""

    def __init__(self, store: S3Store, name: str) -> None:
        super().__init__()
        self.store, self.name = store, name
        self.pending = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-part")
        self._sending: Future[None] | None = None

    def _take(self, data: memoryview) -> None:
        self.pending += data
        while len(self.pending) >= MULTIPART_BYTES:
            part = bytes(memoryview(self.pending)[:MULTIPART_BYTES])
            del self.pending[:MULTIPART_BYTES]
            self.flush()  # the part before it is up (or its error raised) first
            self._sending = self._sender.submit(self._send_reported, part)

    def flush(self) -> None:
        """Wait until the parts filled so far are stored; their upload's error if any."""
        sending, self._sending = self._sending, None
        if sending is not None:
            sending.result()

    def _send_reported(self, part: bytes) -> None:
        with self.store._reported("could not store a file"):
            self._send(part)

    def _send(self, part: bytes) -> None:
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            begun = client.create_multipart_upload(Bucket=bucket, Key=self.name)
            self.upload_id = str(begun["UploadId"])
        number = len(self.parts) + 1
        sent = client.upload_part(
            Bucket=bucket, Key=self.name, UploadId=self.upload_id, PartNumber=number, Body=part
        )
        self.parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def complete(self) -> None:
        self.flush()
        self._sender.shutdown()
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            client.put_object(Bucket=bucket, Key=self.name, Body=bytes(self.pending))
        else:
            if self.pending:
                self._send(bytes(self.pending))
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=self.name,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
            self.upload_id = None
        self.pending.clear()

    def abort(self) -> None:
        """Forget the parts sent (a failure here is not the one to report)."""
        self.pending.clear()
        with contextlib.suppress(Exception):
            self.flush()  # the part in flight, so that its upload can be aborted too
        self._sender.shutdown()
        if self.upload_id is not None:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self.name, UploadId=self.upload_id
                )
            self.upload_id = None
