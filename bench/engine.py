"""Engine benchmark: start lag, trivial jobs per second, and the raw claim loop ceiling.

    python bench/engine.py [--jobs 2000] [--lag-samples 40]

Figures, all in one run on one database:
* start lag after scheduled_time on an idle system (one worker, jobs due one
  at a time): p50 / p99 of started_at - scheduled_time, both by the database clock;
* trivial jobs per second with 1, 2 and 4 worker processes, each with the default
  one slot (`crmferry worker`) and with 4 slots (`--concurrency 4`), from the first
  start to the last completion (process start-up excluded);
* the same claim (crmferry_claim_jobs, one job per statement) plus a
  completing UPDATE in a bare loop, in 1, 2 and 4 processes (BENCHMARKS.md's
  ceiling) and in as many processes as the workers have slots.

Uses DATABASE_URL, or an embedded PostgreSQL in a temporary folder; works in a
scratch database it drops after. Imported as a module (`--plugin engine`, with
bench/ on PYTHONPATH) it registers a do-nothing `export` kind in that worker.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from figures import Figure, conditions, load_average, publish
from harness import scratch_database

from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, register

BENCH_DIR = Path(__file__).resolve().parent
SLOTS = (1, 4)  # worker slots per process (--concurrency): the default, and more
SECRET = "bench-secret-key-not-for-production-000000000000"

INSERT = """
INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type, scheduled_time)
SELECT %(org)s, %(user)s, 'export', 'contacts', now() + %(delay)s * interval '1 second'
  FROM generate_series(1, %(n)s)
"""

COMPLETE = """
UPDATE scheduled_jobs SET status = 'completed', completed_at = now()
 WHERE id = %s AND status = 'processing' AND worker_id = %s AND attempts = %s
"""


def _noop(ctx: JobContext) -> JobOutcome:
    return JobOutcome(record_count=1)


def _prepare(*_: Any) -> NewJob:
    return NewJob(options={})


if __name__ != "__main__":
    register(JobKind("export", _prepare, _noop), replace=True)


class Bench:
    def __init__(self, url: str, data_dir: Path) -> None:
        from crmferry.accounts import admin
        from crmferry.config import Settings
        from crmferry.db import connect

        self.url, self.data_dir = url, data_dir
        self.settings = Settings(database_url=url, data_dir=data_dir, secret_key=SECRET)
        self.db = connect(self.settings, upgrade=True)
        # the raw loop claims as the workers do (only crmferry_worker may)
        self.worker_url = connect(self.settings, role="crmferry_worker").app_url
        with self.db.owner_connect() as conn:
            self.org = admin.create_organization(conn, "Bench")
            self.user = admin.create_user(conn, self.org, "bench@example.com", "member")

    def owner(self) -> psycopg.Connection[Any]:
        return self.db.owner_connect()

    def reset(self) -> None:
        with self.owner() as conn:
            conn.execute("DELETE FROM scheduled_jobs")
            conn.execute("VACUUM ANALYZE scheduled_jobs")

    def insert(self, n: int, delay: float = 0.0) -> None:
        with self.owner() as conn:
            conn.execute(INSERT, {"org": str(self.org), "user": self.user, "delay": delay, "n": n})

    def spawn_workers(self, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "CRMFERRY_SECRET_KEY": SECRET,
            "CRMFERRY_DATA_DIR": str(self.data_dir),
            "CRMFERRY_ORG_CONCURRENCY": "1000",
            "CRMFERRY_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(BENCH_DIR),
        }
        command = [sys.executable, "-m", "crmferry", "worker", "--concurrency", str(concurrency)]
        workers = [
            subprocess.Popen(
                [*command, "--plugin", "engine"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        try:
            self.wait_for_listeners(count)
        except BaseException:  # workers that start too late must not outlive the benchmark
            stop(workers)
            raise
        return workers

    def wait_for_listeners(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.owner() as conn:
                row = conn.execute(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                    " AND query LIKE 'LISTEN crmferry_schedules%%'"
                ).fetchone()
            if row and row["n"] >= count:
                return
            time.sleep(0.2)
        raise RuntimeError("the workers did not start")

    def wait_done(self, n: int) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with self.owner() as conn:
                row = conn.execute(
                    "SELECT count(*) AS n FROM scheduled_jobs WHERE status = 'completed'"
                ).fetchone()
            if row and row["n"] >= n:
                return
            time.sleep(0.1)
        raise RuntimeError("the jobs did not finish")

    def span_rate(self) -> float:
        with self.owner() as conn:
            row = conn.execute(
                "SELECT count(*) AS n, extract(epoch FROM max(completed_at) - min(started_at))"
                " AS seconds FROM scheduled_jobs WHERE status = 'completed'"
            ).fetchone()
        assert row is not None
        return float(row["n"]) / float(row["seconds"])


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def start_lag(bench: Bench, samples: int) -> list[float]:
    bench.reset()
    workers = bench.spawn_workers(1, 1)
    try:
        for _ in range(samples):
            bench.insert(1, delay=0.5)
            bench.wait_done(len(_lags(bench)) + 1)
        return _lags(bench)
    finally:
        stop(workers)


def _lags(bench: Bench) -> list[float]:
    with bench.owner() as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM started_at - scheduled_time) AS lag FROM scheduled_jobs"
            " WHERE status = 'completed'"
        ).fetchall()
    return [float(r["lag"]) for r in rows]


def worker_rate(bench: Bench, processes: int, slots: int, jobs: int) -> float:
    bench.reset()
    workers = bench.spawn_workers(processes, slots)
    try:
        bench.insert(jobs)
        bench.wait_done(jobs)
    finally:
        stop(workers)
    return bench.span_rate()


def _raw_loop(worker_url: str, worker: str, barrier: Any) -> None:
    with psycopg.connect(worker_url, autocommit=True) as conn:
        barrier.wait()
        while True:
            row = conn.execute(
                "SELECT id, organization_id, attempts FROM crmferry_claim_jobs(%s, 1, 1000, 30)",
                [worker],
            ).fetchone()
            if row is None:
                return
            with conn.transaction():
                conn.execute("SELECT set_config('app.current_organization_id', %s, true)", [row[1]])
                conn.execute(COMPLETE, [row[0], worker, row[2]])


def raw_rate(bench: Bench, processes: int, jobs: int) -> float:
    bench.reset()
    bench.insert(jobs)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    children = [
        context.Process(target=_raw_loop, args=(bench.worker_url, f"raw-{i}", barrier))
        for i in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    return bench.span_rate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--lag-samples", type=int, default=40)
    parser.add_argument("--json", help="also save the table here (for bench/all.py)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="crmferry-bench-data-"))
    load = load_average()
    try:
        with scratch_database("engine") as server:
            bench = Bench(server.url, data_dir)
            figures = measure(bench, args)
            bench.db.close()
        notes = [conditions(server, load, jobs=args.jobs, lag_samples=args.lag_samples)]
        publish(f"Engine, {args.jobs:,} trivial jobs", figures, notes, args.json)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(bench: Bench, args: Any) -> list[Figure]:
    lags = sorted(start_lag(bench, args.lag_samples))
    p50 = statistics.median(lags)
    p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))]
    print(
        f"start lag after scheduled_time (idle, {len(lags)} jobs): "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    figures = [
        Figure(
            f"start lag after scheduled_time, idle ({len(lags)} jobs)",
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
            target="p50 < 100 ms, p99 < 1 s",
            met=p50 < 0.1 and p99 < 1.0,
        )
    ]
    for processes in (1, 2, 4):
        ceiling = raw_rate(bench, processes, args.jobs)
        print(
            f"raw claim+complete loop, {processes} process(es), {args.jobs} jobs: "
            f"{ceiling:,.0f} jobs/s"
        )
        for slots in SLOTS:
            engine = worker_rate(bench, processes, slots, args.jobs)
            line = (
                f"  {processes} worker process(es) x {slots} slot(s): {engine:,.0f} jobs/s,"
                f" ratio {engine / ceiling:.2f}"
            )
            # BENCHMARKS.md's target: 4 workers (the default one slot each), same run
            target = processes == 4 and slots == 1
            figures.append(
                Figure(
                    f"trivial jobs/s, {processes} worker process(es) x {slots} slot(s)",
                    f"{engine:,.0f} jobs/s",
                    f"claim limit, {processes} process(es): {ceiling:,.0f} jobs/s",
                    engine / ceiling,
                    "≥ 0.5×" if target else "(reported)",
                    engine / ceiling >= 0.5 if target else None,
                )
            )
            if slots > 1:
                same = raw_rate(bench, processes * slots, args.jobs)
                line += (
                    f"; raw loop in {processes * slots} processes: {same:,.0f} jobs/s,"
                    f" ratio {engine / same:.2f}"
                )
                figures[-1].postgres += f"; in {processes * slots}: {same:,.0f} jobs/s"
            print(line)
    return figures


if __name__ == "__main__":
    main()
