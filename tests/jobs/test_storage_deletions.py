"""Retention while the file store is down: the rows go, their files' keys are queued
(`storage_deletions`), and the next sweep with the store back deletes them; a sweep
with the store still down keeps them queued."""

from __future__ import annotations

import socket
import uuid

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.retention import prune_finished_jobs
from tests.conftest import Backend, Org
from tests.imports.conftest import Importer
from tests.s3server import bucket_keys

CSV = "Name,Email\nAnn,ann@example.com\nBob,bob@\n"


@pytest.fixture
def importer(app_client: TestClient, db: Database, settings: Settings) -> Importer:
    return Importer(app_client, db, settings)


QUEUED = "SELECT organization_id, storage_key, whole_prefix, attempts FROM storage_deletions"


def _dead_endpoint() -> str:
    """An address nothing listens on (the store is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _age(db: Database, settings: Settings, org: Org) -> None:
    past = f"{settings.retention_days + 1} days"
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET completed_at = now() - %s::interval"
            " WHERE organization_id = %s",
            [past, str(org.id)],
        )
        conn.execute(
            "UPDATE uploads SET created_at = now() - %s::interval WHERE organization_id = %s",
            [past, org.id],
        )


def _queued(db: Database, org: Org) -> list[dict[str, object]]:
    with db.owner_connect() as conn:
        rows = conn.execute(QUEUED + " WHERE organization_id = %s ORDER BY storage_key", [org.id])
        return rows.fetchall()


def test_files_retention_could_not_delete_are_queued_and_deleted_once_the_store_is_back(
    importer: Importer,
    db: Database,
    worker_db: Database,
    settings: Settings,
    org: Org,
    s3_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert s3_backend.endpoint and s3_backend.bucket
    upload = importer.upload(org.member, CSV, data_type="contacts")
    job_id = importer.create(org, "contacts", upload["id"], {"Name": "name", "Email": "email"})
    job = importer.run(org, job_id)
    report = job["error_report_path"]
    assert report
    assert len(bucket_keys(s3_backend.endpoint, s3_backend.bucket)) == 2  # upload, report
    _age(db, settings, org)

    monkeypatch.setattr(settings, "s3_endpoint_url", _dead_endpoint())
    assert prune_finished_jobs(worker_db, settings) >= 1  # the rows go all the same
    queued = _queued(db, org)
    upload_key = f"uploads/{org.id}/{upload['id']}"
    prefix = f"jobs/{org.id}/{job_id}"
    assert {(r["storage_key"], r["whole_prefix"]) for r in queued} == {
        (prefix, True),
        (report, False),
        (upload_key, False),
    }
    assert len(bucket_keys(s3_backend.endpoint, s3_backend.bucket)) == 2  # still there

    prune_finished_jobs(worker_db, settings)  # still down: they wait, counted
    assert max(r["attempts"] for r in _queued(db, org)) == 2  # type: ignore[type-var]

    monkeypatch.setattr(settings, "s3_endpoint_url", s3_backend.endpoint)
    prune_finished_jobs(worker_db, settings)
    assert bucket_keys(s3_backend.endpoint, s3_backend.bucket) == []
    assert _queued(db, org) == []


def test_the_queue_is_not_readable_by_the_application(db: Database) -> None:
    with db.app_connect() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(QUEUED).fetchall()
    with db.app_connect() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute("SELECT crmferry_queue_deletion(%s, 'x', false)", [uuid.uuid4()])


def test_deleting_a_job_while_the_store_is_down_is_503_and_keeps_the_job(
    importer: Importer,
    app_client: TestClient,
    settings: Settings,
    org: Org,
    s3_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    job_id = importer.create(org, "contacts", upload["id"], {"Name": "name", "Email": "email"})
    importer.run(org, job_id)
    monkeypatch.setattr(settings, "s3_endpoint_url", _dead_endpoint())
    response = app_client.delete(f"/api/v1/jobs/{job_id}", headers=org.member.headers)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    monkeypatch.setattr(settings, "s3_endpoint_url", s3_backend.endpoint)
    found = app_client.get(f"/api/v1/jobs/{job_id}", headers=org.member.headers)
    assert found.status_code == 200 and found.json()["error_report_url"]
