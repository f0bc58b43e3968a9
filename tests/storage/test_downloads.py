"""Downloads: a 302 to a presigned URL of object storage (the download name kept),
streamed when the store cannot presign or CRMFERRY_STORAGE_REDIRECT=false."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Backend, Org
from tests.jobs.conftest import add_jobs
from tests.s3server import s3_client
from tests.stored import put_stored

CONTENT = b"name\nAda\n"


def _finished_job(db: Database, settings: Settings, org: Org) -> uuid.UUID:
    (job_id,) = add_jobs(db, org)
    key = f"jobs/{org.id}/{job_id}/attempt-1/contacts.csv"
    put_stored(settings, key, CONTENT)
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'completed', result_path = %s,"
            " error_report_path = %s, completed_at = '2030-01-02T03:04:05Z' WHERE id = %s",
            [key, key, job_id],
        )
    return job_id


def _get(client: TestClient, org: Org, url: str) -> Any:
    return client.get(url, headers=org.member.headers, follow_redirects=False)


def test_object_storage_answers_a_presigned_redirect_with_the_download_name(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_backend: Backend
) -> None:
    job_id = _finished_job(db, settings, org)
    response = _get(app_client, org, f"/api/v1/jobs/{job_id}/result")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{s3_backend.endpoint}/{s3_backend.bucket}/files/jobs/")
    assert "X-Amz-Expires=900" in urlsplit(location).query
    fetched = httpx.get(location)
    assert fetched.status_code == 200 and fetched.content == CONTENT
    assert 'filename="contacts-20300102-030405.csv"' in fetched.headers["content-disposition"]
    assert fetched.headers["content-type"].startswith("text/csv")
    report = _get(app_client, org, f"/api/v1/jobs/{job_id}/errors")
    assert report.status_code == 302
    fetched = httpx.get(report.headers["location"])
    assert f"contacts-{str(job_id)[:8]}-errors.csv" in fetched.headers["content-disposition"]


def test_redirect_off_streams_the_object_through_the_app(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    s3_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "storage_redirect", False)
    job_id = _finished_job(db, settings, org)
    response = _get(app_client, org, f"/api/v1/jobs/{job_id}/result")
    assert response.status_code == 200 and response.content == CONTENT
    assert response.headers["content-length"] == str(len(CONTENT))
    assert 'filename="contacts-20300102-030405.csv"' in response.headers["content-disposition"]


def test_the_folder_store_streams_and_a_gone_file_is_a_404(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    job_id = _finished_job(db, settings, org)
    response = _get(app_client, org, f"/api/v1/jobs/{job_id}/result")
    assert response.status_code == 200 and response.content == CONTENT
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET result_path = %s WHERE id = %s",
            [f"jobs/{org.id}/{job_id}/attempt-9/gone.csv", job_id],
        )
    gone = _get(app_client, org, f"/api/v1/jobs/{job_id}/result")
    assert gone.status_code == 404 and "the file is gone" in gone.json()["detail"]


def test_another_organization_gets_no_redirect(
    app_client: TestClient, db: Database, settings: Settings, make_org: Any, s3_backend: Backend
) -> None:
    mine, other = make_org("Mine"), make_org("Other")
    job_id = _finished_job(db, settings, mine)
    assert _get(app_client, other, f"/api/v1/jobs/{job_id}/result").status_code == 404


def test_an_upload_while_the_bucket_is_gone_is_a_503_and_leaves_nothing(
    app_client: TestClient, settings: Settings, org: Org, s3_backend: Backend, own_data_dir: Any
) -> None:
    s3_client(s3_backend.endpoint or "").delete_bucket(Bucket=s3_backend.bucket)
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("people.csv", b"Name,Email\nAnn,ann@example.com\n")},
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "could not store a file" in response.json()["detail"]
    assert [p for p in own_data_dir.rglob("*") if p.is_file()] == []
