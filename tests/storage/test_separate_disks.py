"""Machines that share no disk: a file uploaded through one process's web server is
imported by a worker process with a data folder of its own, through object storage."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import TEST_SECRET, Backend, Org

CSV = b"Name,Email\n" + b"".join(b"P%d,p%d@example.com\n" % (i, i) for i in range(500))


def _job(live_url: str, org: Org, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{live_url}/api/v1/jobs/{job_id}", headers=org.member.headers)
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.slow
def test_a_worker_on_another_disk_runs_a_job_uploaded_through_the_web(
    live_url: str,
    db: Database,
    settings: Settings,
    org: Org,
    s3_backend: Backend,
    own_data_dir: Path,
    tmp_path: Path,
) -> None:
    upload = httpx.post(
        f"{live_url}/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("people.csv", CSV)},
        data={"data_type": "contacts"},
    )
    assert upload.status_code == 201, upload.text
    body = {
        "job_type": "import",
        "data_type": "contacts",
        "upload_id": upload.json()["id"],
        "mapping": {"Name": "name", "Email": "email"},
    }
    created = httpx.post(f"{live_url}/api/v1/jobs", headers=org.member.headers, json=body)
    assert created.status_code == 201, created.text
    worker_dir = tmp_path / "worker-machine"
    worker_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(worker_dir),
        "CRMFERRY_STORAGE_URL": str(settings.storage_url),
        "CRMFERRY_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
        "CRMFERRY_POLL_SECONDS": "0.5",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "crmferry", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        job = _job(live_url, org, created.json()["id"])
        deadline = time.monotonic() + 120
        while job["status"] in ("pending", "processing") and time.monotonic() < deadline:
            time.sleep(0.3)
            job = _job(live_url, org, created.json()["id"])
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=60)
    assert job["status"] == "completed", (job["error_message"], errors.decode()[-2000:])
    assert job["counts"]["inserted"] == 500
    with db.tenant(org.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": 500}
    # neither machine kept a file: the upload crossed through the bucket alone
    assert [p for p in own_data_dir.rglob("*") if p.is_file()] == []
    assert [p for p in worker_dir.rglob("*") if p.is_file()] == []
