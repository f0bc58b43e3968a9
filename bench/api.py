"""API benchmark: latency of the read endpoints with big tables, through the real server.

    python bench/api.py [--jobs 100000] [--contacts 1000000] [--others 10]
                        [--other-share 0.1] [--clients 8] [--requests 400]
                        [--processes 1] [--json PATH]

Builds, with set-based SQL as the schema owner, one organization with --jobs jobs
(spread over the last 30 days, the newest 1% in the last hour; mostly completed, some
failed, cancelled, pending and running) and --contacts contacts, and --others other
organizations beside it with --other-share of that each. Then starts `crmferry serve
--processes N` (--processes, 1 by default) in a child process on 127.0.0.1 and,
endpoint after endpoint, sends --requests requests from --clients concurrent clients
(threads, one keep-alive httpx client each; a few warm-up requests first, not counted;
a quarter as many for the e-mail search; this process's garbage collector paused while
they run), and prints p50 and p99 of each beside the same query run alone in this
process (one client, no HTTP):

* `GET /healthz`, for reference: no database, what the HTTP stack and the clients
  cost on this machine;
* `GET /jobs`, the first page and deep cursors (half-way to the end and beyond);
* `GET /jobs/{id}` (random jobs of the organization);
* `GET /contacts`, the first page, deep cursors, and `q=` searches: words many
  contacts have, and one contact's e-mail (an index lookup since migration 0150; as
  words, a search that read every contact of the organization);
* `GET /metrics`.

Targets (BENCHMARKS.md): list pages and single reads p99 < 50 ms, `q` search p99 <
200 ms, `/metrics` p99 < 100 ms. Use `--jobs 10000 --contacts 50000` while
developing. Uses DATABASE_URL, or an embedded PostgreSQL in a temporary folder;
works in a scratch database it drops after.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from datasets import generate_contacts
from figures import Figure, conditions, load_average, publish
from harness import SECRET, scratch_database, settings_for
from psycopg.rows import dict_row

API = "/api/v1"
WARM_UP = 2  # requests per client before the clock

# Jobs as a busy organization's history: one every 30 days / n, except the newest 1%,
# packed into the last hour (what /metrics looks at). The newest 20 are pending, due in
# the future, the 4 before them running; of the rest 90% completed, 7% failed, 3%
# cancelled. Row triggers (the workers' notifications) stay: this is how rows arrive.
GENERATE_JOBS = """
INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                            scheduled_time, status, created_at, started_at, completed_at,
                            updated_at, record_count, file_name, attempts, error_message,
                            options, mapping, counts, progress_done, progress_total)
SELECT %(org)s, %(user)s, 'Bench', kind.job_type, 'contacts',
       t.at, st.status, t.at - interval '1 minute',
       CASE WHEN st.status <> 'pending' THEN t.at END,
       CASE WHEN st.status IN ('completed', 'failed', 'cancelled') THEN t.at + run.took END,
       t.at + run.took,
       CASE WHEN st.status = 'completed' THEN 1000 + i %% 50000 END,
       CASE WHEN kind.job_type = 'import' THEN 'contacts-' || i || '.csv' END,
       CASE WHEN st.status = 'pending' THEN 0 ELSE 1 END,
       CASE WHEN st.status = 'failed' THEN 'Row 12, column "Email": not an e-mail address' END,
       CASE WHEN kind.job_type = 'export' THEN '{"format": "csv"}'::jsonb
            ELSE '{"mode": "upsert", "on_error": "skip"}'::jsonb END,
       CASE WHEN kind.job_type = 'import'
            THEN '{"Email": "email", "Name": "name", "Company": "company"}'::jsonb END,
       jsonb_build_object('inserted', i %% 1000, 'updated', i %% 100, 'unchanged', 0,
                          'skipped', 0, 'failed', 0),
       1000 + i %% 50000, 1000 + i %% 50000
FROM generate_series(1, %(n)s) AS i,
     LATERAL (SELECT CASE WHEN i > %(n)s - %(n)s / 100
                          THEN now() - (%(n)s - i) * interval '1 hour' / greatest(%(n)s / 100, 1)
                          ELSE now() - interval '1 hour'
                               - (%(n)s - %(n)s / 100 - i) * interval '30 days' / %(n)s
                     END AS at) AS t,
     LATERAL (SELECT CASE WHEN i > %(n)s - 20 THEN 'pending'
                          WHEN i > %(n)s - 24 THEN 'processing'
                          WHEN i %% 100 < 7 THEN 'failed'
                          WHEN i %% 100 < 10 THEN 'cancelled'
                          ELSE 'completed' END AS status) AS st,
     LATERAL (SELECT CASE WHEN i %% 3 = 0 THEN 'import' ELSE 'export' END AS job_type) AS kind,
     LATERAL (SELECT (1 + i %% 120) * interval '1 second' AS took) AS run
"""
PENDING_IN_FUTURE = """
UPDATE scheduled_jobs SET scheduled_time = now() + interval '1 day'
 WHERE organization_id = %(org)s AND status = 'pending'
"""
SAMPLE_JOBS = """
SELECT id, created_at FROM scheduled_jobs WHERE organization_id = %(org)s
 ORDER BY created_at DESC, id DESC OFFSET %(offset)s LIMIT 1
"""
SAMPLE_CONTACTS = """
SELECT id, created_at, email FROM contacts WHERE organization_id = %(org)s
 ORDER BY created_at, id OFFSET %(offset)s LIMIT 1
"""
RANDOM_JOB_IDS = """
SELECT id FROM scheduled_jobs TABLESAMPLE SYSTEM (5) WHERE organization_id = %(org)s LIMIT 500
"""


@dataclass(frozen=True)
class Sizes:
    jobs: int
    contacts: int
    others: int
    other_share: float


@dataclass(frozen=True)
class Tenant:
    org_id: str
    user_id: str
    token: str


def build(owner_url: str, sizes: Sizes) -> Tenant:
    """The organization measured, the others beside it, all vacuumed and analysed."""
    from crmferry.accounts import admin

    with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as conn:
        tenants = []
        for i in range(sizes.others + 1):
            org_id = admin.create_organization(conn, f"Bench {i}")
            email = f"bench-{i}@example.com"
            user_id = admin.create_user(conn, org_id, email, "member")
            tenants.append(
                Tenant(str(org_id), str(user_id), admin.create_token(conn, org_id, email))
            )
        for i, tenant in enumerate(tenants):
            share = 1.0 if i == 0 else sizes.other_share
            started = time.perf_counter()
            generate_contacts(conn, tenant.org_id, max(1, int(sizes.contacts * share)))
            jobs = max(100, int(sizes.jobs * share))
            conn.execute(GENERATE_JOBS, {"org": tenant.org_id, "user": tenant.user_id, "n": jobs})
            conn.execute(PENDING_IN_FUTURE, {"org": tenant.org_id})
            print(
                f"  organization {i}: {int(sizes.contacts * share):,} contacts, {jobs:,} jobs"
                f" in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        conn.execute("VACUUM ANALYZE scheduled_jobs")
        conn.execute("VACUUM ANALYZE contacts")
    return tenants[0]


@dataclass
class Case:
    """One endpoint measured: the paths its requests rotate through, its target, and the
    same query run alone (`direct(db, value)`, one value per request)."""

    what: str
    paths: list[str]
    limit_ms: float | None  # None: for reference, no target
    direct: Callable[[Any, int], None] | None
    authenticated: bool = True
    share: float = 1.0  # of --requests (a search that reads every row: fewer)


def cases(owner_url: str, tenant: Tenant, sizes: Sizes) -> list[Case]:
    """Every endpoint with the values its requests rotate through."""
    from uuid import UUID

    from crmferry.cursors import encode_cursor
    from crmferry.jobs import operations
    from crmferry.records import CONTACTS
    from crmferry.records.listing import list_records
    from crmferry.web.api.metrics import METRICS

    org = tenant.org_id
    rng = random.Random(16)
    with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as conn:
        deep_jobs = [
            conn.execute(
                SAMPLE_JOBS, {"org": org, "offset": rng.randrange(sizes.jobs // 2, sizes.jobs - 60)}
            ).fetchone()
            for _ in range(20)
        ]
        deep_contacts = [
            conn.execute(
                SAMPLE_CONTACTS,
                {"org": org, "offset": rng.randrange(sizes.contacts // 2, sizes.contacts - 60)},
            ).fetchone()
            for _ in range(20)
        ]
        job_ids = [str(r["id"]) for r in conn.execute(RANDOM_JOB_IDS, {"org": org}).fetchall()]
    job_cursors = [encode_cursor(r["created_at"], r["id"]) for r in deep_jobs]
    contact_cursors = [encode_cursor(r["created_at"], r["id"]) for r in deep_contacts]
    words = ["müller", "acme", "globex", "hooli", "stark", "société"]
    emails = [r["email"] for r in deep_contacts]

    def tenant_call(call: Callable[[Any, int], Any]) -> Callable[[Any, int], None]:
        def run(db: Any, i: int) -> None:
            with db.tenant(UUID(org)) as conn:
                call(conn, i)

        return run

    def metrics(db: Any, i: int) -> None:
        with db.anonymous() as conn:
            conn.execute(METRICS).fetchall()

    def contacts(
        q: Sequence[str | None], cursors: Sequence[str | None]
    ) -> Callable[[Any, int], None]:
        return tenant_call(
            lambda c, i: list_records(c, CONTACTS, q[i % len(q)], 50, cursors[i % len(cursors)])
        )

    return [
        Case(
            "(reference) GET /healthz: no database, the HTTP stack and the clients alone",
            ["/healthz"],
            None,
            None,
            authenticated=False,
        ),
        Case(
            "GET /jobs, first page",
            [f"{API}/jobs"],
            50,
            tenant_call(lambda c, i: operations.list_jobs(c)),
        ),
        Case(
            "GET /jobs, deep cursor",
            [f"{API}/jobs?cursor={c}" for c in job_cursors],
            50,
            tenant_call(
                lambda c, i: operations.list_jobs(c, cursor=job_cursors[i % len(job_cursors)])
            ),
        ),
        Case(
            "GET /jobs/{id}",
            [f"{API}/jobs/{j}" for j in job_ids],
            50,
            tenant_call(lambda c, i: operations.get_job(c, job_ids[i % len(job_ids)])),
        ),
        Case("GET /contacts, first page", [f"{API}/contacts"], 50, contacts([None], [None])),
        Case(
            "GET /contacts, deep cursor",
            [f"{API}/contacts?cursor={c}" for c in contact_cursors],
            50,
            contacts([None], contact_cursors),
        ),
        Case(
            "GET /contacts?q=, a word many contacts have",
            [f"{API}/contacts?q={w}" for w in words],
            200,
            contacts(words, [None]),
        ),
        Case(
            "GET /contacts?q=, one contact's e-mail",
            [f"{API}/contacts?q={e}" for e in emails],
            200,
            contacts(emails, [None]),
            share=0.25,
        ),
        Case("GET /metrics", ["/metrics"], 100, metrics, authenticated=False),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    database_url: str, data_dir: Path, port: int, processes: int = 1
) -> subprocess.Popen[bytes]:
    """`crmferry serve --processes N` on 127.0.0.1, once /readyz answers."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CRMFERRY_SECRET_KEY": SECRET,
        "CRMFERRY_DATA_DIR": str(data_dir),
        "CRMFERRY_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "crmferry",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--processes",
        str(processes),
    ]
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not become ready")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """This process's garbage collector off while it measures, as `timeit` does.

    The 8 clients are threads of this process: one full collection here (58-172 ms
    measured with `gc.callbacks` in this process at the default size, with the
    package imported for the direct queries) stopped all of them at once, and every
    request in flight was counted that much slower, although the server had answered.
    What the clients allocate in one pass is collected after it."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def send_requests(
    base_url: str, token: str, case: Case, clients: int, requests: int
) -> list[float]:
    """Seconds of each of `requests` requests, `clients` at a time (threads)."""
    headers = {"Authorization": f"Bearer {token}"} if case.authenticated else {}
    per_client = max(1, requests // clients)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(number: int) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            for i in range(WARM_UP + per_client):
                path = case.paths[(number * per_client + i) % len(case.paths)]
                if i == WARM_UP:
                    start.wait()
                began = time.perf_counter()
                response = http.get(path)
                took = time.perf_counter() - began
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                    return
                if i >= WARM_UP:
                    mine.append(took)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    with collector_paused():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise RuntimeError(f"{case.what}: {failures[0]}")
    return latencies


def alone(db: Any, case: Case, runs: int) -> list[float]:
    """Seconds of the same query run `runs` times in this process, one at a time."""
    if case.direct is None:
        return []
    for i in range(WARM_UP * 4):  # as warm as the server's pool: prepared after 5 runs
        case.direct(db, i)
    took = []
    with collector_paused():
        for i in range(runs):
            began = time.perf_counter()
            case.direct(db, i)
            took.append(time.perf_counter() - began)
    return took


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def figure(case: Case, latencies: list[float], direct: list[float]) -> Figure:
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    alone = ""
    if direct:
        d50, d99 = percentile(direct, 50) * 1000, percentile(direct, 99) * 1000
        alone = f"its query alone (one client, no HTTP): p50 {d50:.1f} ms, p99 {d99:.1f} ms"
    return Figure(
        case.what,
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} requests)",
        alone,
        None,
        f"p99 < {case.limit_ms:g} ms" if case.limit_ms is not None else "(reference)",
        p99 < case.limit_ms if case.limit_ms is not None else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=10, help="other organizations beside it")
    parser.add_argument(
        "--other-share", type=float, default=0.1, help="each other's size, as a share"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--requests", type=int, default=400, help="per endpoint (a quarter for the e-mail search)"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="server processes (crmferry serve --processes)"
    )
    parser.add_argument("--json", help="also save the table here (for bench/all.py)")
    args = parser.parse_args()
    sizes = Sizes(args.jobs, args.contacts, args.others, args.other_share)

    work = Path(tempfile.mkdtemp(prefix="crmferry-bench-api-"))
    try:
        with scratch_database("api") as server:
            figures, notes = measure(server, work, sizes, args)
            publish(
                f"API, {sizes.jobs:,} jobs and {sizes.contacts:,} contacts",
                figures,
                notes,
                args.json,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(server: Any, work: Path, sizes: Sizes, args: Any) -> tuple[list[Figure], list[str]]:
    from crmferry.db import connect

    load = load_average()
    settings = settings_for(server.url, work / "data")
    db = connect(settings, upgrade=True)
    started = time.perf_counter()
    tenant = build(server.url, sizes)
    print(f"data built in {time.perf_counter() - started:.1f} s", flush=True)
    port = free_port()
    process = start_server(server.url, work / "data", port, args.processes)
    figures = []
    try:
        for case in cases(server.url, tenant, sizes):
            requests = max(args.clients, int(args.requests * case.share))
            latencies = send_requests(
                f"http://127.0.0.1:{port}", tenant.token, case, args.clients, requests
            )
            direct = alone(db, case, max(20, requests // 8))
            figures.append(figure(case, latencies, direct))
            print(f"  {case.what}: {figures[-1].ours}; {figures[-1].postgres}", flush=True)
    finally:
        process.terminate()
        process.wait(30)
        db.close()
    notes = [
        conditions(
            server, load, jobs=sizes.jobs, contacts=sizes.contacts, other_organizations=sizes.others
        ),
        f"each other organization holds {sizes.other_share:g} of that; {args.clients} concurrent "
        f"clients (threads with httpx, keep-alive) against `crmferry serve --processes "
        f"{args.processes}`; "
        f"p50 / p99 over every request after {WARM_UP} warm-up requests per client; the "
        "clients' own garbage collector paused while they measure (as `timeit` does)",
        "the query alone: the package's own function, in a tenant transaction from the same pool "
        "settings, run one at a time in the benchmark's process",
    ]
    return figures, notes


if __name__ == "__main__":
    main()
