"""PostgreSQL itself restarted under a running worker and server: both carry on.

A private embedded server (never the shared test server, which other tests use)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crmferry.accounts import admin
from crmferry.config import Settings
from crmferry.db import Database, connect
from crmferry.db.embedded import start_embedded, stop_embedded
from tests.conftest import TEST_SECRET
from tests.jobs.conftest import wait_until


@pytest.fixture
def private_server() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="crmferry-restart-"))
    start_embedded(folder)
    yield folder
    stop_embedded(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _job_status(url: str, token: str, job_id: str) -> str:
    try:
        response = httpx.get(
            f"{url}/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
    except httpx.HTTPError:
        return "unreachable"
    return (
        str(response.json().get("status"))
        if response.status_code == 200
        else f"http {response.status_code}"
    )


def _export(url: str, token: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = httpx.post(
                f"{url}/api/v1/jobs",
                headers={"Authorization": f"Bearer {token}"},
                json={"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}},
                timeout=10,
            )
            if response.status_code == 201:
                return str(response.json()["id"])
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server never accepted a job after the restart"
        time.sleep(0.5)


def test_worker_and_server_carry_on_after_postgresql_restarts(
    private_server: Path, tmp_path: Path
) -> None:
    owner_url = start_embedded(private_server)
    settings = Settings(database_url=owner_url, data_dir=tmp_path, secret_key=TEST_SECRET)
    db: Database = connect(settings, upgrade=True)
    with db.owner_connect() as conn:
        org = admin.create_organization(conn, "Restart Ltd")
        admin.create_user(conn, org, "ops@restart.com", "member")
        token = admin.create_token(conn, org, "ops@restart.com")
    db.close()
    env = {
        **os.environ,
        "DATABASE_URL": owner_url,
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(tmp_path),
        "CRMFERRY_POLL_SECONDS": "1",
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "processes.log").open("ab")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "crmferry", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "crmferry", "worker"], env=env, stdout=log, stderr=log
        ),
    ]
    try:
        first = _export(url, token)
        wait_until(lambda: _job_status(url, token, first) == "completed", 60, "the first export")
        pid_file = private_server / "postgres" / "postmaster.pid"
        before = pid_file.read_text().split()[0]
        stop_embedded(private_server)
        time.sleep(1)
        start_embedded(private_server)
        assert pid_file.read_text().split()[0] != before  # a new postmaster, not the old one
        second = _export(url, token)
        wait_until(
            lambda: _job_status(url, token, second) == "completed",
            90,
            "an export after the restart",
        )
        assert all(p.poll() is None for p in processes), "a process died with the database"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
