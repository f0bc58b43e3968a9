"""Import benchmark: our import job against PostgreSQL's own COPY, same file, same run.

    python bench/imports.py [--rows 1000000] [--keep-file]

Generates N realistic contacts (accents, quoted commas, unique e-mails) as CSV,
then times (a) bare `COPY ... FROM STDIN (FORMAT csv)` into an equivalent table
with the same unique index on (organization_id, lower(email)), and (b) our
import job (upsert, full validation, change log), first into an empty table,
then again with every row already there and unchanged (each COPY figure is the
median of three runs; the machine may be shared). The import runs in a
child process whose peak RSS is reported. Uses DATABASE_URL, or an embedded
PostgreSQL in a temporary folder; works in a scratch database it drops after.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import secrets
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "Kåre",
    "Léa",
    "Małgorzata",
    "Núria",
    "Øyvind",
    "Paweł",
    "Renée",
    "Søren",
    "Zoë",
    "Ann",
    "Bob",
    "Carol",
    "David",
    "Emma",
    "Frank",
    "Grace",
    "Henry",
    "Ivy",
    "Jack",
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
    "Taylor",
    "Wilson",
    "Lefèvre",
    "Gonçalves",
    "Åberg",
]
COMPANIES = [
    "Acme, Inc.",
    "Smith, Jones & Co",
    "Café Zürich",
    "Globex",
    "Initech, LLC",
    "Société Générale du Bâtiment",
    "Umbrella",
    "Stark Industries",
    "Wayne, Ltd",
    "Hooli",
]
CITIES = ["Montréal", "São Paulo", "Zürich", "Köln", "Paris", "London", "New York", "Kraków"]
HEADER = ["First Name", "Last Name", "E-mail Address", "Phone", "Company", "City", "Country"]
MAPPING = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "E-mail Address": "email",
    "Phone": "phone",
    "Company": "company",
    "City": "city",
    "Country": "country",
}

# An ordinary (logged) table like BENCHMARKS.md's: same unique key, nothing else.
BARE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_bare_contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001',
    first_name text, last_name text, email text, phone text, company text, city text,
    country text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
TRUNCATE bench_bare_contacts;
CREATE UNIQUE INDEX IF NOT EXISTS bench_bare_email ON bench_bare_contacts (organization_id, lower(email));
"""
# The same with everything the real contacts table carries: its four indexes and
# the check of each new row's organization (what our import's INSERT also pays for).
FULL_TABLE = """
CREATE TABLE bench_full_contacts (LIKE contacts INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TRIGGER organization_exists AFTER INSERT ON bench_full_contacts
    REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT
    EXECUTE FUNCTION crmferry_check_record_organizations();
ALTER TABLE bench_full_contacts ALTER COLUMN name SET DEFAULT '',
    ALTER COLUMN organization_id SET DEFAULT '00000000-0000-0000-0000-000000000001';
INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'Bench');
"""
BARE_COPY = (
    "COPY bench_bare_contacts (first_name, last_name, email, phone, company, city, country)"
    " FROM STDIN (FORMAT csv, HEADER)"
)


def generate(path: Path, rows: int) -> None:
    rng = random.Random(42)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow(
                [
                    first,
                    last,
                    f"{first[0].lower()}.{i}@example{i % 97}.com",
                    f"+1 555 {i % 1000:03d} {i % 10000:04d}",
                    rng.choice(COMPANIES),
                    rng.choice(CITIES),
                    "CA" if i % 3 else "FR",
                ]
            )


def bare_copy(owner_url: str, path: Path, full: bool = False) -> float:
    """Seconds for PostgreSQL's own COPY of the file into the minimal (or full) table."""
    table = "bench_full_contacts" if full else "bench_bare_contacts"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(FULL_TABLE if full else BARE_TABLE)
        started = time.perf_counter()
        statement = BARE_COPY.replace("bench_bare_contacts", table)
        with conn.cursor() as cur, cur.copy(statement) as copy, path.open("rb") as source:
            while block := source.read(1024 * 1024):
                copy.write(block)
        elapsed = time.perf_counter() - started
        conn.execute(f"DROP TABLE {table}")
        if full:
            conn.execute("DELETE FROM organizations WHERE name = 'Bench'")
    return elapsed


@dataclass
class Result:
    seconds: float
    counts: dict[str, int]
    peak_rss_mb: float


def run_import_child(database_url: str, data_dir: str, path: str, runs: int, queue: Any) -> None:
    """In a fresh process: set up an organization, upload the file, run the job `runs` times."""
    from psycopg.types.json import Jsonb

    from crmferry.accounts import admin
    from crmferry.accounts.principal import Principal
    from crmferry.config import Settings
    from crmferry.db import connect
    from crmferry.imports.kind import prepare_import, run_import
    from crmferry.imports.reading import ReadLimits, sniff
    from crmferry.imports.uploads import record_upload
    from crmferry.records import CONTACTS

    settings = Settings(
        database_url=database_url, data_dir=Path(data_dir), secret_key="bench-" + "k" * 40
    )
    import logging

    logging.basicConfig(level=logging.DEBUG, format="  %(message)s")
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    db = connect(settings, upgrade=True)
    with db.owner_connect() as conn:
        org_id = admin.create_organization(conn, f"Bench {secrets.token_hex(3)}")
        user_id = admin.create_user(
            conn, org_id, f"bench-{secrets.token_hex(3)}@example.com", "member"
        )
    principal = Principal(user_id, org_id, "member", "bench@example.com", "Bench", "cli")
    upload_id = uuid.uuid4()
    relative = f"uploads/{org_id}/{upload_id}"
    (settings.files_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, settings.files_dir / relative)
    info = sniff(settings.files_dir / relative, ReadLimits.from_settings(settings))
    with db.tenant(org_id) as conn:
        record_upload(
            conn,
            {
                "id": upload_id,
                "created_by": user_id,
                "file_name": "bench.csv",
                "size_bytes": os.path.getsize(path),
                "sha256": "-",
                "storage_path": relative,
                "format": info.format,
                "encoding": info.encoding,
                "delimiter": info.delimiter,
                "headers": Jsonb(list(info.headers)),
                "row_estimate": info.row_estimate,
                "data_type": "contacts",
            },
        )
    for _ in range(runs):
        with db.tenant(org_id) as conn:
            new = prepare_import(
                conn,
                principal,
                CONTACTS,
                {"upload_id": str(upload_id), "mapping": MAPPING, "options": {"mode": "upsert"}},
                settings,
            )
            job = conn.execute(
                "INSERT INTO scheduled_jobs (organization_id, created_by, job_type, data_type, scheduled_time,"
                " status, options, mapping, upload_id, file_name) VALUES (%s, %s, 'import', 'contacts', now(),"
                " 'processing', %s, %s, %s, 'bench.csv') RETURNING *",
                [str(org_id), user_id, Jsonb(new.options), Jsonb(new.mapping), upload_id],
            ).fetchone()
        with db.tenant(org_id) as conn:
            ctx = _Context(job, conn, db, settings)
            started = time.perf_counter()
            outcome = run_import(ctx)
            conn.execute(
                "UPDATE scheduled_jobs SET status = 'completed', counts = %s WHERE id = %s",
                [Jsonb(outcome.counts), job["id"]],
            )
        elapsed = time.perf_counter() - started  # includes the commit
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put(Result(elapsed, outcome.counts, peak))
    db.close()


@dataclass
class _Context:
    job: dict[str, Any]
    conn: Any
    db: Any
    settings: Any

    @property
    def job_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.job["id"]))

    @property
    def organization_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.job["organization_id"]))

    def progress(self, done: int, total: int | None = None) -> None:
        pass

    def files_dir(self) -> Path:
        folder = Path(self.settings.files_dir) / "jobs" / str(self.job_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep-file", action="store_true")
    args = parser.parse_args()

    from crmferry.db.embedded import start_embedded, stop_embedded
    from crmferry.db.urls import with_database

    work = Path(tempfile.mkdtemp(prefix="crmferry-bench-"))
    server = os.environ.get("DATABASE_URL")
    embedded = server is None
    if server is None:
        server = start_embedded(work / "pg")
    scratch = f"crmferry_bench_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    url = with_database(server, scratch)
    try:
        path = work / "contacts.csv"
        started = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s"
        )
        # the machine may be shared: each COPY figure is the median of three runs
        bare = statistics.median(bare_copy(url, path) for _ in range(3))
        bare_rate = args.rows / bare
        print(f"bare COPY into an equivalent table:   {bare:7.2f}s  {bare_rate:10,.0f} rows/s")
        from crmferry.config import Settings
        from crmferry.db import connect

        connect(
            Settings(database_url=url, data_dir=work / "data", secret_key="bench-" + "k" * 40),
            upgrade=True,
        ).close()
        full = statistics.median(bare_copy(url, path, full=True) for _ in range(3))
        print(
            f"COPY into a copy of contacts (4 indexes, org check): {full:5.2f}s  {args.rows / full:10,.0f} rows/s  "
            f"{bare / full:4.2f} x bare COPY"
        )
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(
            target=run_import_child, args=(url, str(work / "data"), str(path), 2, queue)
        )
        child.start()
        results = [queue.get(), queue.get()]
        child.join()
        for label, result in zip(
            ("import, upsert, empty table", "import, upsert, all unchanged"), results, strict=True
        ):
            rate = args.rows / result.seconds
            print(
                f"{label + ':':37} {result.seconds:7.2f}s  {rate:10,.0f} rows/s  "
                f"{rate / bare_rate:4.2f} x bare COPY, {rate * full / args.rows:4.2f} x full-table COPY  "
                f"counts {result.counts}"
            )
        print(f"peak RSS of the importing process: {max(r.peak_rss_mb for r in results):.0f} MB")
        if args.keep_file:
            print(f"file kept: {path}")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
        if embedded:
            stop_embedded(work / "pg")
        if not args.keep_file:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
