"""Export benchmark: our export against PostgreSQL's own COPY TO, same data, same run.

    python bench/exports.py [--rows 1000000] [--runs 3] [--skip-xlsx]

Generates N realistic contacts (accents, quoted commas, unique e-mails, "+" phone
numbers, multi-line notes, a few formula-like values) for one organization, then
times, each in a fresh child process inside the export's REPEATABLE READ tenant
transaction:

* PostgreSQL's own `COPY (SELECT ...) TO STDOUT (FORMAT csv, HEADER)` of the same
  SELECT our CSV export runs (same columns, same ORDER BY, same RLS, but no formula
  neutralisation), read straight from libpq into a null sink; and, for reference,
  `COPY (SELECT * FROM contacts) TO STDOUT (FORMAT csv)`;
* our `write_export` to a file, called as the export job calls it (with a second
  connection, so a CSV export of more than 100,000 rows is read as two COPY streams
  of one snapshot): CSV (median of --runs, like the COPY above), JSON Lines (median
  of --runs) and XLSX (once);

and prints rows/s, our CSV rate as a ratio of COPY's (target >= 0.7, BENCHMARKS.md)
and each export process's peak RSS (ru_maxrss; target < 200 MB). Uses DATABASE_URL,
or an embedded PostgreSQL in a temporary folder; works in a scratch database it drops.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import psycopg
from psycopg import sql

FIRST = [
    "Anaïs",
    "Björn",
    "Chloé",
    "Dmitri",
    "Élodie",
    "François",
    "Gül",
    "Håkon",
    "Inès",
    "José",
    "Jürgen",
    "Léa",
    "Małgorzata",
    "Núria",
    "Øyvind",
    "Renée",
    "Søren",
    "Zoë",
    "Ann",
    "Bob",
]
LAST = [
    "Müller",
    "García",
    "Núñez",
    "O'Brien",
    "Ødegaard",
    "Łukasiewicz",
    "Dubois",
    "Šimić",
    "Smith",
    "Johnson",
    "Brown",
    "Lefèvre",
    "Tanaka",
    "Kowalski",
    "Rossi",
    "Nguyen",
]
COMPANIES = [
    "Acme, Inc.",
    'Globex "Global" Ltd.',
    "Initech",
    "Umbrella, S.A.",
    "Hooli",
    "Société Générale de Test",
    "Wayne Enterprises",
    "Stark Industries",
]
CITIES = ["Montréal", "Zürich", "São Paulo", "Kraków", "Toronto", "Paris", "Berlin", "Tokyo"]

GENERATE = """
INSERT INTO contacts (organization_id, name, first_name, last_name, email, phone, company,
                      title, address, city, state, postal_code, country, status, notes,
                      owner_email, created_at)
SELECT %(org)s, f || ' ' || l, f, l,
       lower(left(f, 1)) || '.' || i || '@example' || i %% 97 || '.com',
       '+1 555 ' || lpad((i %% 1000)::text, 3, '0') || ' ' || lpad((i %% 10000)::text, 4, '0'),
       co, 'Manager', i || ' Rue de la Paix, apt. ' || i %% 50, city, 'QC', 'H2X 1Y4', 'Canada',
       (ARRAY['active', 'lead', 'customer', 'prospect'])[1 + i %% 4],
       CASE WHEN i %% 100 = 0 THEN '=HYPERLINK("http://example.com")'
            WHEN i %% 10 = 0 THEN E'Called on Monday.\\nSays "call back", maybe.'
       END,
       'owner@example.com',
       timestamptz '2024-01-01' + i * interval '10 milliseconds'
FROM generate_series(1, %(rows)s) AS i,
     LATERAL (SELECT (%(first)s::text[])[1 + i %% %(nf)s] AS f,
                     (%(last)s::text[])[1 + (i / 7) %% %(nl)s] AS l,
                     (%(companies)s::text[])[1 + (i / 3) %% %(nc)s] AS co,
                     (%(cities)s::text[])[1 + (i / 11) %% %(nci)s] AS city) AS pick
"""


@dataclass
class Run:
    what: str
    seconds: float
    rows: int
    size_bytes: int
    peak_rss_mb: float


def generate(owner_url: str, rows: int) -> str:
    """A new organization with `rows` contacts; its id."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        org = conn.execute("INSERT INTO organizations (name) VALUES ('Bench') RETURNING id")
        org_id = str(org.fetchone()[0])  # type: ignore[index]
        conn.execute(
            GENERATE,
            {
                "org": org_id,
                "rows": rows,
                "first": FIRST,
                "nf": len(FIRST),
                "last": LAST,
                "nl": len(LAST),
                "companies": COMPANIES,
                "nc": len(COMPANIES),
                "cities": CITIES,
                "nci": len(CITIES),
            },
        )
        conn.execute("VACUUM ANALYZE contacts")
    return org_id


def child(owner_url: str, app_url: str, org_id: str, what: str, out_dir: str, queue: Any) -> None:
    """In a fresh process: one export (or one bare COPY) timed inside its snapshot."""
    from crmferry.db import Database
    from crmferry.exports.options import parse_export_options
    from crmferry.exports.query import build_export_query
    from crmferry.exports.snapshot import snapshot_transaction
    from crmferry.exports.writers import write_export
    from crmferry.records import CONTACTS

    db = Database(owner_url, app_url, pool_size=1)
    with db.pool.connection() as conn:  # connected before the clock starts
        conn.execute("SELECT 1")
    fmt = what if what in ("csv", "jsonl", "xlsx") else "csv"
    options = parse_export_options(CONTACTS, {"format": fmt})
    out = Path(out_dir) / f"contacts.{fmt}"
    started = time.perf_counter()
    with snapshot_transaction(db, org_id) as conn:
        if what == "copy-same":
            query, params = build_export_query(CONTACTS, options)
            rows, size = null_copy(
                conn,
                sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query),
                params,
                True,
            )
        elif what == "copy-table":
            rows, size = null_copy(
                conn, sql.SQL("COPY (SELECT * FROM contacts) TO STDOUT (FORMAT csv)"), [], False
            )
        else:
            # as the export job runs it: a second connection for a large CSV export
            result = write_export(
                conn, CONTACTS, options, out, lambda _: None, connect=db.app_connect
            )
            rows, size = result.record_count, result.size_bytes
    seconds = time.perf_counter() - started
    out.unlink(missing_ok=True)
    db.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(Run(what, seconds, rows, size, peak))


def null_copy(
    conn: Any, statement: sql.Composed, params: list[Any], header: bool
) -> tuple[int, int]:
    """COPY TO STDOUT read and thrown away: (rows, bytes). Read by our export's own
    reader, so that the comparison is of the SQL and the file, not the reader."""
    from crmferry.exports.streams import CopyStream, copy_into_files

    sink = _Sink()
    with conn.cursor() as cur, cur.copy(statement, params):
        stream = CopyStream(conn.pgconn, cast(BinaryIO, sink), header_lines=int(header))
        rows = copy_into_files([stream], lambda _: None, 10_000)
    return rows, sink.size


class _Sink(io.RawIOBase):
    """A file that keeps nothing but the number of bytes written to it."""

    size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def measure(ctx: Any, args: tuple[str, str, str], what: str, out_dir: Path) -> Run:
    queue = ctx.Queue()
    process = ctx.Process(target=child, args=(*args, what, str(out_dir), queue))
    process.start()
    run: Run = queue.get()
    process.join()
    return run


def report(label: str, runs: list[Run], reference: float | None = None) -> float:
    """Print one line; return the median rate (rows/s)."""
    seconds = statistics.median(r.seconds for r in runs)
    rate = runs[0].rows / seconds
    all_runs = ", ".join(f"{r.seconds:.2f}" for r in runs)
    line = f"{label:44} {seconds:7.2f}s {rate:11,.0f} rows/s  [{all_runs}]"
    if reference:
        line += f"  {rate / reference:5.2f} x COPY"
    line += (
        f"  {runs[0].size_bytes / 1e6:7.1f} MB  peak RSS {max(r.peak_rss_mb for r in runs):4.0f} MB"
    )
    print(line, flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of COPY, CSV and JSONL (median)")
    parser.add_argument("--skip-xlsx", action="store_true", help="XLSX is ~10k rows/s")
    args = parser.parse_args()

    from crmferry.config import Settings
    from crmferry.db import connect
    from crmferry.db.embedded import start_embedded, stop_embedded
    from crmferry.db.urls import with_database

    work = Path(tempfile.mkdtemp(prefix="crmferry-bench-exports-"))
    server = os.environ.get("DATABASE_URL")
    embedded = server is None
    if server is None:
        # the embedded server's lock file lives here and is touched again at exit:
        # one lasting folder rather than a leftover per run
        os.environ.setdefault(
            "XDG_RUNTIME_DIR", f"{tempfile.gettempdir()}/crmferry-run-{os.getuid()}"
        )
        server = start_embedded(work / "pg")
    scratch = f"crmferry_bench_exports_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    try:
        settings = Settings(
            database_url=with_database(server, scratch),
            data_dir=work / "data",
            secret_key="bench-" + "k" * 40,
        )
        db = connect(settings, upgrade=True)
        db.close()
        started = time.perf_counter()
        org_id = generate(db.owner_url, args.rows)
        print(
            f"PostgreSQL {version} ({'embedded' if embedded else 'DATABASE_URL'}); "
            f"{args.rows:,} contacts generated in {time.perf_counter() - started:.1f}s",
            flush=True,
        )

        ctx = multiprocessing.get_context("spawn")
        child_args = (db.owner_url, db.app_url, org_id)
        copy_runs: list[Run] = []
        csv_runs: list[Run] = []
        for _ in range(args.runs):  # interleaved, so that drift hits both alike
            copy_runs.append(measure(ctx, child_args, "copy-same", work))
            csv_runs.append(measure(ctx, child_args, "csv", work))
        copy_rate = report("COPY (same SELECT) TO STDOUT, csv -> null", copy_runs)
        table_rate = report(
            "COPY (SELECT * FROM contacts), csv -> null",
            [measure(ctx, child_args, "copy-table", work) for _ in range(args.runs)],
        )
        csv_rate = report("our CSV export -> file", csv_runs, copy_rate)
        report(
            "our JSONL export -> file",
            [measure(ctx, child_args, "jsonl", work) for _ in range(args.runs)],
            copy_rate,
        )
        if not args.skip_xlsx:
            report("our XLSX export -> file", [measure(ctx, child_args, "xlsx", work)], copy_rate)
        print(
            f"CSV export / COPY (same SELECT): {csv_rate / copy_rate:.2f} (target >= 0.70); "
            f"/ COPY (SELECT * FROM contacts): {csv_rate / table_rate:.2f}"
        )
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
        if embedded:
            stop_embedded(work / "pg")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
