"""An export job writes its result straight into the file store as it is produced
(`FileStore.writing`): on S3 the parts go up while the rows are still being read, the
result equals the one a local store keeps, and a failure or a cancel in the middle
leaves neither an object nor an unfinished multipart upload."""

from __future__ import annotations

import gzip
import io
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.exports import kind
from crmferry.jobs import running
from crmferry.storage import job_prefix
from crmferry.storage.s3 import MULTIPART_BYTES
from tests.conftest import Backend, Org
from tests.jobrun import run_job
from tests.s3server import bucket_keys, new_bucket, open_multipart_uploads, s3_client
from tests.stored import download, stored_keys

PAD = "x" * 300  # about 400 bytes a CSV row: 30,000 rows are more than one 8 MiB part
ROWS = 30_000


class Broken(Exception):
    """A failure of the writer, raised in the middle of the export."""


def _contacts(db: Database, org: Org, rows: int) -> None:
    with db.tenant(org.id) as conn:
        conn.execute(
            "INSERT INTO contacts (organization_id, name, email, status)"
            " SELECT %s, 'Person ' || i || ' ' || %s, 'p' || i || '@example.com', 'lead'"
            " FROM generate_series(1, %s) AS i",
            [org.id, PAD, rows],
        )


def _export(client: TestClient, org: Org, options: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={"job_type": "export", "data_type": "contacts", "options": options},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _result(client: TestClient, org: Org, db: Database, settings: Settings, options: Any) -> bytes:
    job = _export(client, org, options)
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "completed", done["error_message"]
    content = download(client, f"/api/v1/jobs/{job['id']}/result", org.member.headers).content
    assert done["result_size"] == len(content)
    return content


def _comparable(content: bytes, options: dict[str, Any]) -> Any:
    """The file's content (an XLSX's ZIP members: their times differ from run to run)."""
    if options.get("format") == "xlsx":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    return content


OPTIONS = [
    {"format": "csv"},
    {"format": "csv", "compression": "gzip"},
    {"format": "jsonl", "compression": "gzip"},
    {"format": "xlsx"},
]


def test_a_result_written_to_s3_as_it_is_made_equals_the_local_one(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _contacts(db, org, ROWS)
    local = [_result(app_client, org, db, settings, options) for options in OPTIONS]
    bucket = new_bucket(s3_endpoint)
    monkeypatch.setattr(settings, "storage_url", f"s3://{bucket}/files")
    monkeypatch.setattr(settings, "s3_endpoint_url", s3_endpoint)
    for options, expected in zip(OPTIONS, local, strict=True):
        stored = _result(app_client, org, db, settings, options)
        assert _comparable(stored, options) == _comparable(expected, options), options
    assert len(local[0]) > MULTIPART_BYTES  # the CSV took several parts
    assert local[0].count(b"\r\n") == ROWS + 1
    assert gzip.decompress(local[1]) == local[0]
    assert open_multipart_uploads(s3_endpoint, bucket) == []


def _watching(monkeypatch: pytest.MonkeyPatch, each_progress: Callable[[int], None]) -> list[int]:
    """Call `each_progress(rows)` at every progress call of the export's writer (before
    the job's own); the rows seen."""
    seen: list[int] = []
    write = kind.write_export_to

    def watched(
        conn: Any, data_type: Any, options: Any, out: Any, progress: Any, *a: Any, **k: Any
    ) -> int:
        def step(rows: int) -> None:
            seen.append(rows)
            each_progress(rows)
            progress(rows)

        return write(conn, data_type, options, out, step, *a, **k)

    monkeypatch.setattr(kind, "write_export_to", watched)
    return seen


def _parts(backend: Backend) -> list[int]:
    """The sizes of the parts of the bucket's one unfinished upload (none: [])."""
    assert backend.endpoint and backend.bucket
    client = s3_client(backend.endpoint)
    uploads = client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", [])
    if not uploads:
        return []
    [upload] = uploads
    answer = client.list_parts(
        Bucket=backend.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
    )
    return [int(part["Size"]) for part in answer.get("Parts", [])]


def test_parts_go_up_while_the_export_is_being_written(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    s3_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert s3_backend.endpoint and s3_backend.bucket
    _contacts(db, org, 2 * ROWS)
    parts_seen: list[list[int]] = []
    seen = _watching(monkeypatch, lambda rows: parts_seen.append(_parts(s3_backend)))
    job = _export(app_client, org, {"format": "csv"})
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "completed", done["error_message"]
    assert seen[-1] == 2 * ROWS
    # while rows were still coming, the upload was open and held full parts already
    during = [parts for rows, parts in zip(seen, parts_seen, strict=True) if rows < 2 * ROWS]
    assert max(len(parts) for parts in during) >= 2
    assert all(size == MULTIPART_BYTES for parts in during for size in parts)
    assert done["result_size"] > 2 * MULTIPART_BYTES
    assert open_multipart_uploads(s3_backend.endpoint, s3_backend.bucket) == []
    assert stored_keys(settings, job_prefix(org.id, job["id"])) == [done["result_path"]]


def _nothing_left(settings: Settings, backend: Backend, org: Org, job_id: object) -> None:
    assert stored_keys(settings, job_prefix(org.id, job_id)) == []
    if backend.name == "s3":
        assert backend.endpoint and backend.bucket
        assert bucket_keys(backend.endpoint, backend.bucket) == []
        assert open_multipart_uploads(backend.endpoint, backend.bucket) == []
    else:
        folder = settings.data_dir / "files" / job_prefix(org.id, job_id)
        assert not [p for p in folder.rglob("*") if p.is_file()]


def test_a_failure_in_the_middle_leaves_no_object_and_no_upload(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    each_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _contacts(db, org, 2 * ROWS)
    written: list[int] = []

    def fail_after_parts(rows: int) -> None:
        if each_backend.name == "s3":
            written.append(len(_parts(each_backend)))
        if rows >= 4 * ROWS // 3:
            raise Broken("the writer broke")

    _watching(monkeypatch, fail_after_parts)
    job = _export(app_client, org, {"format": "csv", "compression": None})
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "failed" and "the writer broke" in done["error_message"]
    assert done["result_path"] is None
    if each_backend.name == "s3":
        assert max(written) >= 1  # parts had gone up before the failure
    _nothing_left(settings, each_backend, org, job["id"])


def test_a_cancel_in_the_middle_leaves_no_object_and_no_upload(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    each_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _contacts(db, org, 2 * ROWS)
    monkeypatch.setattr(running, "PROGRESS_INTERVAL", 0.0)  # every chunk asks for cancels
    job = _export(app_client, org, {"format": "jsonl"})
    requested: list[int] = []

    def cancel_midway(rows: int) -> None:
        if rows >= ROWS and not requested:
            if each_backend.name == "s3":
                assert _parts(each_backend)  # the upload is under way
            with db.owner_connect() as conn:
                conn.execute(
                    "UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s",
                    [uuid.UUID(job["id"])],
                )
            requested.append(rows)

    seen = _watching(monkeypatch, cancel_midway)
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "cancelled"
    assert requested and seen[-1] < 2 * ROWS  # stopped before the end
    _nothing_left(settings, each_backend, org, job["id"])
