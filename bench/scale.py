"""Scale-out benchmark: 1, 2 and 4 worker processes that share no disk, one PostgreSQL,
one S3-compatible server, the same mix of jobs each time.

    python bench/scale.py [--imports 8] [--exports 8] [--rows 20000] [--workers 1,2,4]

Each round starts the given number of `crmferry worker` processes, each with an empty
CRMFERRY_DATA_DIR of its own and CRMFERRY_STORAGE_URL pointing at moto's S3 server (its
own process on 127.0.0.1). The files to import (`--rows` new contacts each) are put
into the bucket first, as the web would; then the imports and CSV exports (of the
organization's `--rows` seeded contacts, created first so that each reads those alone),
spread over 4 organizations, are created due at once. Printed per worker count: jobs/s and rows/s from the first due time to the
last completion, start lag (started_at - scheduled_time by the database clock, p50 and
max: with every job due at once this is the wait in the queue), the ratio to one
worker, and whether any worker's data folder kept a file (it must not).

Uses DATABASE_URL, or an embedded PostgreSQL in a temporary folder; works in a
scratch database it drops after.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from datasets import generate_contacts
from figures import conditions, load_average
from harness import SECRET, scratch_database, settings_for

ORGS = 4
BUCKET = "crmferry-scale"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
MAPPING = {"Name": "name", "Email": "email", "Company": "company"}

FINISHED_COUNT = """
SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'cancelled')) AS done,
       count(*) FILTER (WHERE status <> 'completed' AND status IN ('failed', 'cancelled'))
           AS bad
  FROM scheduled_jobs
"""

ROUND_FIGURES = """
SELECT count(*) AS jobs, coalesce(sum(record_count), 0) AS rows,
       extract(epoch FROM max(completed_at) - min(scheduled_time)) AS seconds,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM started_at - scheduled_time)) AS lag_p50,
       max(extract(epoch FROM started_at - scheduled_time)) AS lag_max,
       count(DISTINCT worker_id) AS workers_used
  FROM scheduled_jobs WHERE status = 'completed'
"""


@dataclass
class Round:
    workers: int
    jobs: int
    rows: int
    seconds: float
    lag_p50: float
    lag_max: float
    workers_used: int
    files_left: int

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_s3() -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server in a process of its own (not sharing this one's interpreter)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, endpoint
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the S3 server did not start")


class Scale:
    def __init__(self, url: str, endpoint: str, args: argparse.Namespace) -> None:
        from crmferry.accounts import admin
        from crmferry.db import connect

        self.url, self.endpoint, self.args = url, endpoint, args
        self.home = Path(tempfile.mkdtemp(prefix="crmferry-scale-"))
        self.settings = settings_for(
            url,
            self.home / "web",
            storage_url=f"s3://{BUCKET}/files",
            s3_endpoint_url=endpoint,
        )
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        self.db = connect(self.settings, upgrade=True)
        self.orgs: list[tuple[uuid.UUID, uuid.UUID]] = []
        with self.db.owner_connect() as conn:
            for n in range(ORGS):
                org = admin.create_organization(conn, f"Scale {n}")
                user = admin.create_user(conn, org, f"scale{n}@example.com", "member")
                generate_contacts(conn, str(org), args.rows)
                self.orgs.append((org, user))
            conn.execute("VACUUM ANALYZE contacts")

    def principal(self, n: int) -> Any:
        from crmferry.accounts.principal import Principal

        org, user = self.orgs[n % ORGS]
        return Principal(user, org, "member", f"scale{n % ORGS}@example.com", None, "cli")

    def csv_file(self, round_no: int, n: int) -> bytes:
        """`--rows` contacts no earlier file had (new e-mails: every row an insert)."""
        out = io.StringIO()
        out.write("Name,Email,Company\n")
        for i in range(self.args.rows):
            out.write(f"Person {i},r{round_no}-f{n}-{i}@scale.example.com,Company {i % 97}\n")
        return out.getvalue().encode()

    def upload(self, round_no: int, n: int) -> Any:
        from crmferry.imports.uploads import store_upload

        principal = self.principal(n)
        data = self.csv_file(round_no, n)
        with self.db.tenant(principal.organization_id) as conn:
            return store_upload(
                conn,
                self.settings,
                organization_id=principal.organization_id,
                created_by=principal.user_id,
                file_name=f"scale-{n}.csv",
                chunks=[data],
                data_type="contacts",
            )

    def create_jobs(self, round_no: int) -> int:
        """The round's imports and exports, interleaved, all due now; how many."""
        from crmferry.jobs import operations

        uploads = [self.upload(round_no, n) for n in range(self.args.imports)]
        # the exports first (claimed first, by id): each reads the organization's seeded
        # rows alone, whatever the worker count, so every round moves the same rows
        requests: list[tuple[int, dict[str, Any]]] = []
        for n in range(self.args.exports):
            body = {"job_type": "export", "data_type": "contacts", "options": {"format": "csv"}}
            requests.append((n, body))
        for n, upload in enumerate(uploads):
            body = {"job_type": "import", "data_type": "contacts", "upload_id": str(upload["id"])}
            requests.append((n, {**body, "mapping": MAPPING}))
        with self.db.owner_connect() as conn:
            # every round exports the same seeded rows and imports only new ones
            conn.execute("DELETE FROM scheduled_jobs")
            conn.execute("DELETE FROM import_changes")
            conn.execute("DELETE FROM contacts WHERE email LIKE '%@scale.example.com'")
            conn.execute("VACUUM ANALYZE contacts")
        for n, request in requests:
            principal = self.principal(n)
            with self.db.tenant(principal.organization_id) as conn:
                operations.create_job(conn, principal, request, self.settings)
        return len(requests)

    def spawn(self, count: int) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
        folders = [self.home / f"worker-{count}-{i}" for i in range(count)]
        workers = []
        for folder in folders:
            folder.mkdir()
            env = {
                **os.environ,
                **S3_ENV,
                "DATABASE_URL": self.url,
                "CRMFERRY_SECRET_KEY": SECRET,
                "CRMFERRY_DATA_DIR": str(folder),
                "CRMFERRY_STORAGE_URL": f"s3://{BUCKET}/files",
                "CRMFERRY_S3_ENDPOINT_URL": self.endpoint,
                "CRMFERRY_LOG_LEVEL": "WARNING",
                "CRMFERRY_POLL_SECONDS": "1",
            }
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "crmferry", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        self.wait_for_listeners(count)
        return workers, folders

    def wait_for_listeners(self, count: int) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with self.db.owner_connect() as conn:
                row = conn.execute(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                    " AND query LIKE 'LISTEN crmferry_schedules%%'"
                ).fetchone()
            if row and row["n"] >= count:
                return
            time.sleep(0.2)
        raise RuntimeError("the workers did not start")

    def wait_done(self, n: int) -> None:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            with self.db.owner_connect() as conn:
                row = conn.execute(FINISHED_COUNT).fetchone()
            assert row is not None
            if row["bad"]:
                raise RuntimeError(f"{row['bad']} job(s) failed or were cancelled")
            if row["done"] >= n:
                return
            time.sleep(0.2)
        raise RuntimeError("the jobs did not finish")

    def run_round(self, round_no: int, count: int) -> Round:
        # the workers wait, listening, before the jobs exist: process start-up is not timed
        workers, folders = self.spawn(count)
        try:
            jobs = self.create_jobs(round_no)
            self.wait_done(jobs)
        finally:
            stop(workers)
        with self.db.owner_connect() as conn:
            row = conn.execute(ROUND_FIGURES).fetchone()
        assert row is not None
        left = sum(1 for f in folders for p in f.rglob("*") if p.is_file())
        return Round(
            count,
            int(row["jobs"]),
            int(row["rows"]),
            float(row["seconds"]),
            float(row["lag_p50"]),
            float(row["lag_max"]),
            int(row["workers_used"]),
            left,
        )

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.home, ignore_errors=True)


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def table(rounds: list[Round]) -> str:
    base = rounds[0]
    lines = [
        "| workers | jobs | rows | seconds | jobs/s | rows/s | × 1 worker | start lag p50 / max"
        " | workers used | files left on worker disks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        lines.append(
            f"| {r.workers} | {r.jobs} | {r.rows:,} | {r.seconds:.1f} | {r.jobs_per_second:.2f}"
            f" | {r.rows_per_second:,.0f} | {r.rows_per_second / base.rows_per_second:.2f}"
            f" | {r.lag_p50:.2f} s / {r.lag_max:.2f} s | {r.workers_used} | {r.files_left} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--imports", type=int, default=8, help="import jobs per round")
    parser.add_argument("--exports", type=int, default=8, help="CSV export jobs per round")
    parser.add_argument("--rows", type=int, default=20_000, help="rows per file and per org")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    os.environ.update(S3_ENV)
    load_at_start = load_average()
    s3, endpoint = start_s3()
    try:
        with scratch_database("scale") as server:
            scale = Scale(server.url, endpoint, args)
            try:
                rounds = [scale.run_round(i, count) for i, count in enumerate(counts)]
            finally:
                scale.close()
    finally:
        s3.terminate()
        s3.wait(30)
    print("\n### Scale-out: worker processes on separate disks, object storage\n")
    print(table(rounds) + "\n")
    print(
        "* "
        + conditions(
            server,
            load_at_start,
            imports=args.imports,
            exports=args.exports,
            rows_per_file=args.rows,
        )
    )
    print("* jobs/s and rows/s: from the first due time to the last completion")


if __name__ == "__main__":
    main()
