"""Peak memory (VmHWM) of a web process and a worker for one CSV upload and its import
on object storage (moto's S3 server), and the largest file either left under its
CRMFERRY_DATA_DIR while it ran.

    .venv/bin/python bench/streaming_rss.py --mb 50
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
from harness import SECRET, scratch_database, settings_for
from scale import S3_ENV, free_port, start_s3

BUCKET = "crmferry-rss"
MAPPING = {"Name": "name", "Email": "email", "Company": "company"}


def csv_chunks(megabytes: int) -> Iterator[bytes]:
    """A contacts CSV of about `megabytes` MB, made as it is sent."""
    yield b"Name,Email,Company\n"
    sent, i = 0, 0
    while sent < megabytes * 1_000_000:
        block = "".join(
            f"Person {n},p{n}@rss.example.com,Company {n % 97}\n" for n in range(i, i + 10_000)
        ).encode()
        i += 10_000
        sent += len(block)
        yield block


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class DiskWatch:
    """The largest total size of files under a folder, polled while running."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.most = folder, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for path in self.folder.rglob("*"):
                with contextlib.suppress(OSError):  # a file gone meanwhile
                    total += path.stat().st_size if path.is_file() else 0
            self.most = max(self.most, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=50, help="size of the CSV in MB")
    args = parser.parse_args()
    os.environ.update(S3_ENV)
    s3, endpoint = start_s3()
    home = Path(tempfile.mkdtemp(prefix="crmferry-rss-"))
    try:
        with scratch_database("rss") as server:
            run(server.url, endpoint, home, args.mb)
    finally:
        s3.terminate()
        s3.wait(30)


def run(url: str, endpoint: str, home: Path, megabytes: int) -> None:
    from crmferry.accounts import admin
    from crmferry.db import connect

    settings = settings_for(url, home / "setup", storage_url=f"s3://{BUCKET}/files")
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    db = connect(settings, upgrade=True)
    with db.owner_connect() as conn:
        org = admin.create_organization(conn, "RSS")
        admin.create_user(conn, org, "rss@example.com", "member")
        token = admin.create_token(conn, org, "rss@example.com", "rss")
    db.close()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CRMFERRY_SECRET_KEY": SECRET,
        "CRMFERRY_STORAGE_URL": f"s3://{BUCKET}/files",
        "CRMFERRY_S3_ENDPOINT_URL": endpoint,
        "CRMFERRY_LOG_LEVEL": "WARNING",
        "CRMFERRY_POLL_SECONDS": "1",
        "CRMFERRY_MAX_UPLOAD_BYTES": str(4 * megabytes * 1_000_000),
    }
    port = free_port()
    web_dir, worker_dir = home / "web", home / "worker"
    web = subprocess.Popen(
        [sys.executable, "-m", "crmferry", "serve", "--port", str(port)],
        env={**env, "CRMFERRY_DATA_DIR": str(web_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "crmferry", "worker"],
        env={**env, "CRMFERRY_DATA_DIR": str(worker_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        client = httpx.Client(timeout=600)
        wait_for(client, base)
        web_dir.mkdir(exist_ok=True)
        worker_dir.mkdir(exist_ok=True)
        web_disk, worker_disk = DiskWatch(web_dir), DiskWatch(worker_dir)
        started = time.monotonic()
        upload = client.post(
            f"{base}/uploads",
            headers={**headers, "Content-Type": "multipart/form-data; boundary=rssBoundary"},
            content=body(megabytes),
        )
        upload.raise_for_status()
        uploaded = time.monotonic() - started
        job = client.post(
            f"{base}/jobs",
            headers=headers,
            json={
                "job_type": "import",
                "data_type": "contacts",
                "upload_id": upload.json()["id"],
                "mapping": MAPPING,
            },
        )
        job.raise_for_status()
        status = wait_job(client, f"{base}/jobs/{job.json()['id']}", headers)
        imported = time.monotonic() - started - uploaded
        size = upload.json()["size_bytes"]
        print(f"file: {size / 1e6:.1f} MB, {upload.json()['row_estimate']:,} rows (estimate)")
        print(f"upload {uploaded:.1f} s, import {imported:.1f} s ({status})")
        print(
            f"web peak RSS {peak_mb(web.pid):.0f} MB, worker peak RSS {peak_mb(worker.pid):.0f} MB"
        )
        print(
            f"most on disk: web {web_disk.stop() / 1e6:.1f} MB, "
            f"worker {worker_disk.stop() / 1e6:.1f} MB"
        )
    finally:
        for process in (web, worker):
            process.terminate()
            process.wait(30)


def body(megabytes: int) -> Iterator[bytes]:
    yield (
        b'--rssBoundary\r\nContent-Disposition: form-data; name="data_type"\r\n\r\ncontacts\r\n'
        b'--rssBoundary\r\nContent-Disposition: form-data; name="file"; filename="rss.csv"'
        b"\r\n\r\n"
    )
    yield from csv_chunks(megabytes)
    yield b"\r\n--rssBoundary--\r\n"


def wait_for(client: httpx.Client, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.get(base.removesuffix("/api/v1") + "/healthz")
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError("the web process did not start")


def wait_job(client: httpx.Client, url: str, headers: dict[str, str]) -> str:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = str(client.get(url, headers=headers).json()["status"])
        if status in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.5)
    raise RuntimeError("the import did not finish")


if __name__ == "__main__":
    main()
