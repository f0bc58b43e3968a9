"""Import benchmark: our import job against PostgreSQL's own COPY of the same file.

    python bench/imports.py [--rows 1000000] [--runs 3] [--format csv|xlsx] [--json PATH]

Generates N realistic contacts (accents, quoted commas, unique e-mails) as CSV and
times, in each of --runs rounds (figures are medians; rounds interleave the runs so
that a shared machine's drift hits all alike):

* the import limit exactly as BENCHMARKS.md defines it: `COPY t (the file's columns)
  FROM STDIN (FORMAT csv, HEADER)` of the same file into `t (id bigint GENERATED
  ALWAYS AS IDENTITY PRIMARY KEY, organization_id <contacts' type> NOT NULL DEFAULT
  <the organization>, <the file's columns as text>)` with a unique index on
  `(organization_id, lower(email))`, no triggers, logged, fed in 1 MiB blocks;
* two additional baselines, printed beside it: the former "bare" table (a random
  uuid key and two time stamps) and a copy of the real contacts table (its indexes
  and the organization check);
* our import job (upsert, full validation, change log), run as the worker runs it,
  into an empty contacts table, then again with every row there and unchanged;
* with `--format xlsx`, also the same rows as an XLSX workbook, imported into an
  empty table: its target is a ratio to our own CSV import of the same run.

Each import runs in a fresh child process whose peak RSS is reported. Uses
DATABASE_URL, or an embedded PostgreSQL in a temporary folder; works in a scratch
database it drops after.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import multiprocessing
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from figures import Figure, Runs, ceiling_figure, conditions, load_average, publish, rate_figure
from harness import BenchJobContext, peak_rss_mb, scratch_database, settings_for
from psycopg import sql
from psycopg.types.json import Jsonb

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

# The import limit, exactly as BENCHMARKS.md defines it.
LIMIT_TABLE = """
CREATE TABLE bench_import_limit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id {org_type} NOT NULL DEFAULT {org},
    {columns}
);
CREATE UNIQUE INDEX ON bench_import_limit (organization_id, lower(email));
"""
# Additional: the table the former baseline used (a random v4 uuid key, two time stamps).
FORMER_TABLE = """
CREATE TABLE bench_import_limit (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL DEFAULT {org},
    {columns},
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ON bench_import_limit (organization_id, lower(email));
"""
# Additional: everything the real contacts table carries, its indexes and the check of
# each new row's organization (what our import's INSERT also pays for).
CONTACTS_COPY_TABLE = """
CREATE TABLE bench_import_limit (LIKE contacts INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TRIGGER organization_exists AFTER INSERT ON bench_import_limit
    REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT
    EXECUTE FUNCTION crmferry_check_record_organizations();
ALTER TABLE bench_import_limit ALTER COLUMN name SET DEFAULT '',
    ALTER COLUMN organization_id SET DEFAULT {org};
"""
ORGANIZATION_TYPE = """
SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
 WHERE attrelid = 'contacts'::regclass AND attname = 'organization_id'
"""
LIMIT_COPY = "COPY bench_import_limit ({columns}) FROM STDIN (FORMAT csv, HEADER)"
EMPTY_CONTACTS = "TRUNCATE contacts, import_changes CASCADE"
# The limits the benchmark reads with: the defaults (a million-row sheet passes them).
LIMITS: dict[str, Any] = {}
BLOCK = 1024 * 1024


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


def generate_xlsx(csv_path: Path, path: Path) -> None:
    """The same rows as one sheet of text cells (openpyxl's write-only mode)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Contacts")
    with csv_path.open(newline="", encoding="utf-8") as source:
        for row in csv.reader(source):
            sheet.append(row)
    book.save(path)


def generate_workbook(csv_path: Path, path: Path, fmt: str, most: int | None = None) -> None:
    """The same rows (at most `most` data rows) as a workbook of format `fmt`: xlsx by
    openpyxl, xls by xlwt, ods by odfpy (both test dependencies)."""
    if fmt == "xlsx":
        generate_xlsx(csv_path, path)
        return
    with csv_path.open(newline="", encoding="utf-8") as source:
        rows = list(itertools.islice(csv.reader(source), None if most is None else most + 1))
    if fmt == "xls":
        import xlwt  # type: ignore[import-untyped]

        book = xlwt.Workbook(encoding="utf-8")
        sheet = book.add_sheet("Contacts")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
        book.save(str(path))
        return
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Contacts")
    for row in rows:
        line = TableRow()
        for value in row:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))


def copy_into(owner_url: str, path: Path, org_id: str, create: str) -> float:
    """Seconds for PostgreSQL's own COPY of the file into a table made by `create`
    (outside the clock), fed by the client loop of the benchmark: 1 MiB blocks."""
    columns = [sql.Identifier(MAPPING[h]) for h in HEADER]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        org_type = conn.execute(ORGANIZATION_TYPE).fetchone()[0]  # type: ignore[index]
        conn.execute("DROP TABLE IF EXISTS bench_import_limit")
        conn.execute(
            sql.SQL(create).format(
                org_type=sql.SQL(org_type),
                org=sql.Literal(org_id),
                columns=sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in columns),
            )
        )
        statement = sql.SQL(LIMIT_COPY).format(columns=sql.SQL(", ").join(columns))
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(statement) as copy, path.open("rb") as source:
            while block := source.read(BLOCK):
                copy.write(block)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_import_limit")
    return elapsed


@dataclass
class Result:
    seconds: float
    counts: dict[str, int]
    peak_rss_mb: float


@dataclass(frozen=True)
class Setup:
    """What every import child needs: where, who, which upload."""

    database_url: str
    data_dir: str
    org_id: str
    user_id: str
    uploads: dict[str, str]  # format -> upload id


def prepare(database_url: str, data_dir: Path, files: dict[str, Path]) -> Setup:
    """An organization, a member, and each file stored as an upload (as the CLI does)."""
    from crmferry.accounts import admin
    from crmferry.accounts.principal import Principal
    from crmferry.db import connect
    from crmferry.imports.uploads import store_file

    settings = settings_for(database_url, data_dir, **LIMITS)
    db = connect(settings, upgrade=True)
    with db.owner_connect() as conn:
        org_id = admin.create_organization(conn, "Bench")
        user_id = admin.create_user(conn, org_id, "bench@example.com", "member")
    principal = Principal(user_id, org_id, "member", "bench@example.com", "Bench", "cli")
    uploads = {}
    for fmt, path in files.items():
        with db.tenant(org_id) as conn:
            uploads[fmt] = str(store_file(conn, settings, principal, path, "contacts")["id"])
    db.close()
    return Setup(database_url, str(data_dir), str(org_id), str(user_id), uploads)


def import_child(setup: Setup, fmt: str, queue: Any) -> None:
    """In a fresh process: one import job, run as the worker runs it (the handler in the
    job's tenant transaction, the job's status committed with its data), timed from the
    handler's start to the commit."""
    import logging
    import uuid

    from crmferry.accounts.principal import Principal
    from crmferry.db import connect
    from crmferry.imports.kind import run_import
    from crmferry.jobs import operations

    logging.basicConfig(level=logging.DEBUG, format="    %(message)s")
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    settings = settings_for(setup.database_url, Path(setup.data_dir), **LIMITS)
    db = connect(settings)
    org_id, user_id = uuid.UUID(setup.org_id), uuid.UUID(setup.user_id)
    principal = Principal(user_id, org_id, "member", "bench@example.com", "Bench", "cli")
    body = {
        "job_type": "import",
        "data_type": "contacts",
        "upload_id": setup.uploads[fmt],
        "mapping": MAPPING,
        "options": {"mode": "upsert"},
    }
    with db.tenant(org_id) as conn:
        job = operations.create_job(conn, principal, body, settings)
    with db.owner_connect() as conn:  # claimed, as the worker's claim would mark it
        job = conn.execute(CLAIM_BY_HAND, [job["id"]]).fetchone()
    with db.tenant(org_id) as conn:
        started = time.perf_counter()
        outcome = run_import(BenchJobContext(job, conn, db, settings))
        conn.execute(COMPLETE, [Jsonb(outcome.counts), outcome.record_count, job["id"]])
    elapsed = time.perf_counter() - started  # the commit included
    db.close()
    queue.put(Result(elapsed, outcome.counts, peak_rss_mb()))


CLAIM_BY_HAND = """
UPDATE scheduled_jobs SET status = 'processing', attempts = 1, started_at = now(),
       worker_id = 'bench', lease_expires_at = now() + interval '1 hour'
 WHERE id = %s RETURNING *
"""
COMPLETE = """
UPDATE scheduled_jobs SET status = 'completed', counts = %s, record_count = %s,
       completed_at = clock_timestamp()
 WHERE id = %s
"""


def run_import_once(setup: Setup, fmt: str) -> Result:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=import_child, args=(setup, fmt, queue))
    child.start()
    result: Result = queue.get()
    child.join()
    return result


def empty_contacts(owner_url: str) -> None:
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(EMPTY_CONTACTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="rounds (figures are medians)")
    parser.add_argument(
        "--format",
        choices=("csv", "xlsx", "xls", "ods"),
        default="csv",
        help="xlsx, xls, ods: the CSV runs, and the same rows as such a workbook",
    )
    parser.add_argument("--json", help="also save the table here (for bench/all.py)")
    parser.add_argument("--keep-file", action="store_true")
    args = parser.parse_args()
    if args.format == "xls" and args.rows > XLS_MAX_ROWS:
        parser.error(f"an .xls sheet holds at most {XLS_MAX_ROWS:,} data rows")

    work = Path(tempfile.mkdtemp(prefix="crmferry-bench-imports-"))
    try:
        with scratch_database("imports") as server:
            figures, notes = measure(server, work, args)
            publish(f"Imports, {args.rows:,} contacts", figures, notes, args.json)
    finally:
        if args.keep_file:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


COPIES = {"limit": LIMIT_TABLE, "former": FORMER_TABLE, "full": CONTACTS_COPY_TABLE}
# (what, file, empty the table first)
# "book": the workbook of --format (xlsx, xls, ods)
IMPORTS = {"fresh": ("csv", True), "again": ("csv", False), "book": ("book", True)}
XLS_MAX_ROWS = 65_535


def measure(server: Any, work: Path, args: Any) -> tuple[list[Figure], list[str]]:
    """Every round of every run; the table's rows and its notes."""
    load = load_average()
    files = write_files(work, args.rows, args.format)
    setup = prepare(server.url, work / "data", files)
    runs = {key: Runs(args.rows) for key in (*COPIES, *IMPORTS)}
    results: dict[str, list[Result]] = {key: [] for key in IMPORTS}
    steps = [key for key in IMPORTS if key in ("fresh", "again") or args.format != "csv"]
    for round_number in range(1, args.runs + 1):
        print(f"round {round_number} of {args.runs}", flush=True)
        for key, create in COPIES.items():
            runs[key].seconds.append(copy_into(server.url, files["csv"], setup.org_id, create))
            print(f"  COPY {key}: {runs[key].seconds[-1]:.2f} s", flush=True)
        for key in steps:
            fmt, empty_first = IMPORTS[key]
            fmt = args.format if fmt == "book" else fmt
            if empty_first:
                empty_contacts(server.url)
            result = run_import_once(setup, fmt)
            runs[key].seconds.append(result.seconds)
            results[key].append(result)
            print(
                f"  import {key}: {result.seconds:.2f} s, counts {result.counts}, "
                f"peak RSS {result.peak_rss_mb:.0f} MB",
                flush=True,
            )
    return table(args.rows, runs, results, args.format), notes_for(server, load, args, results)


def write_files(work: Path, rows: int, fmt: str) -> dict[str, Path]:
    """The CSV (and with xlsx, the same rows as a workbook)."""
    files = {"csv": work / "contacts.csv"}
    started = time.perf_counter()
    generate(files["csv"], rows)
    print(
        f"generated {rows:,} rows, {files['csv'].stat().st_size / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    if fmt != "csv":
        started = time.perf_counter()
        files[fmt] = work / f"contacts.{fmt}"
        generate_workbook(files["csv"], files[fmt], fmt)
        print(
            f"wrote the {fmt.upper()}, {files[fmt].stat().st_size / 1e6:.1f} MB, "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return files


def table(
    rows: int, runs: dict[str, Runs], results: dict[str, list[Result]], fmt: str = "xlsx"
) -> list[Figure]:
    named = f"{rows:,} rows"
    limit, fresh, xlsx = runs["limit"], runs["fresh"], runs["book"]
    book = fmt.upper()
    figures = [
        rate_figure(
            f"CSV import, fresh upsert with full validation and change log, {named}",
            fresh,
            "import limit",
            limit,
            0.35,
            "≥ 0.35× the import limit",
        ),
        rate_figure(
            f"CSV import, the same file again (all unchanged), {named}",
            runs["again"],
            "import limit",
            limit,
            0.6,
            "≥ 0.6× the import limit",
        ),
    ]
    if xlsx.seconds:
        figures.append(
            rate_figure(
                f"{book} import, fresh upsert, {named}",
                xlsx,
                "our CSV import (fresh), same run",
                fresh,
                0.5,
                "≥ 0.5× our CSV import",
            )
        )
    peaks = {key: max(r.peak_rss_mb for r in rs) for key, rs in results.items() if rs}
    figures.append(
        ceiling_figure(
            f"import worker peak RSS, {named}",
            ", ".join(f"{key} {mb:.0f} MB" for key, mb in peaks.items()),
            max(peaks.values()),
            300,
            "< 300 MB",
        )
    )
    figures += [
        rate_figure(
            "(additional baseline) CSV import, fresh, against the former bare table",
            fresh,
            "COPY into a random-uuid-keyed table with two time stamps",
            runs["former"],
            None,
            "—",
        ),
        rate_figure(
            "(additional baseline) CSV import, fresh, against a copy of contacts",
            fresh,
            "COPY into a copy of contacts (its indexes, the organization check)",
            runs["full"],
            None,
            "—",
        ),
    ]
    if xlsx.seconds:
        figures.append(
            rate_figure(
                f"(for reference) {book} import against the import limit",
                xlsx,
                "import limit",
                limit,
                None,
                "—",
            )
        )
    return figures


def notes_for(server: Any, load: str, args: Any, results: dict[str, list[Result]]) -> list[str]:
    expected = {"fresh": "inserted", "again": "unchanged", "book": "inserted"}
    odd = [
        f"{key}: {r.counts}"
        for key, rs in results.items()
        for r in rs
        if r.counts.get(expected[key]) != args.rows
    ]
    return [
        conditions(server, load, rows=args.rows, rounds=args.runs),
        "import limit: COPY FROM STDIN (FORMAT csv, HEADER) into a logged table with a bigint "
        "identity key, the organization as a default and the file's 7 columns as text, "
        "with a unique index on (organization_id, lower(email)), no triggers (BENCHMARKS.md)",
        "every fresh import inserted every row, every second one found all unchanged"
        if not odd
        else "UNEXPECTED COUNTS: " + "; ".join(odd),
    ]


if __name__ == "__main__":
    main()
