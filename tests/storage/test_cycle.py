"""With CRMFERRY_STORAGE_URL set, a whole life of jobs (import with an error report,
export cancelled and retried, revert, retention) keeps every file in the bucket and
none on the machine, and retention leaves the bucket empty."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.retention import prune_finished_jobs
from tests.conftest import Backend, Org
from tests.jobrun import run_job
from tests.s3server import bucket_keys, open_multipart_uploads
from tests.stored import download

CSV = b"Name,Email\nAnn,ann@example.com\nBob,bob@\nCy,cy@example.com\n"


def _post(client: TestClient, org: Org, url: str, body: dict[str, Any] | None = None) -> Any:
    response = client.post(url, headers=org.member.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _run(db: Database, settings: Settings, org: Org, job: dict[str, Any], **kw: Any) -> Any:
    return run_job(db, settings, org.id, uuid.UUID(job["id"]), **kw)


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_full_cycle_on_object_storage_leaves_nothing_on_disk(
    app_client: TestClient,
    db: Database,
    worker_db: Database,
    settings: Settings,
    org: Org,
    s3_backend: Backend,
    own_data_dir: Path,
) -> None:
    endpoint, bucket = s3_backend.endpoint or "", s3_backend.bucket or ""
    upload = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("people.csv", CSV)},
        data={"data_type": "contacts"},
    )
    assert upload.status_code == 201, upload.text
    mapping = {"Name": "name", "Email": "email"}
    body = {"job_type": "import", "data_type": "contacts", "upload_id": upload.json()["id"]}
    imported = _run(
        db, settings, org, _post(app_client, org, "/api/v1/jobs", {**body, "mapping": mapping})
    )
    assert imported["status"] == "completed" and imported["error_report_path"]
    report = download(app_client, f"/api/v1/jobs/{imported['id']}/errors", org.member.headers)
    assert b"bob@" in report.content

    export = _post(app_client, org, "/api/v1/jobs", {"job_type": "export", "data_type": "contacts"})
    assert _run(db, settings, org, export, cancel=True)["status"] == "cancelled"
    assert not [k for k in bucket_keys(endpoint, bucket) if f"/{export['id']}/" in k]
    assert open_multipart_uploads(endpoint, bucket) == []
    retried = _post(app_client, org, f"/api/v1/jobs/{export['id']}/retry")
    exported = _run(db, settings, org, retried)
    assert exported["status"] == "completed" and exported["record_count"] == 2
    result = download(app_client, f"/api/v1/jobs/{retried['id']}/result", org.member.headers)
    assert b"ann@example.com" in result.content and b"cy@example.com" in result.content

    revert = _post(app_client, org, f"/api/v1/jobs/{imported['id']}/revert")
    assert _run(db, settings, org, revert)["status"] == "completed"
    with db.tenant(org.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": 0}

    assert _files_under(own_data_dir) == []
    assert set(bucket_keys(endpoint, bucket)) == {
        f"files/uploads/{org.id}/{upload.json()['id']}",
        f"files/{imported['error_report_path']}",
        f"files/{exported['result_path']}",
    }

    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET completed_at = now() - %s::interval"
            " WHERE organization_id = %s",
            [f"{settings.retention_days + 1} days", str(org.id)],
        )
        conn.execute(
            "UPDATE uploads SET created_at = now() - %s::interval WHERE organization_id = %s",
            [f"{settings.retention_days + 1} days", org.id],
        )
    assert prune_finished_jobs(worker_db, settings) >= 4
    assert bucket_keys(endpoint, bucket) == []
    assert _files_under(own_data_dir) == []
