"""Export benchmark: our export job against PostgreSQL's own COPY TO, same rows, same run.

    python bench/exports.py [--rows 1000000] [--runs 3] [--xlsx-rows N | --skip-xlsx]
                            [--xlsx-runs K] [--xlsx-candidates] [--json PATH]

Generates N realistic contacts for one organization and times, each run in a fresh
child process, interleaved so that a shared machine's drift hits all alike (figures
are medians of --runs):

* the export limit exactly as BENCHMARKS.md defines it: `COPY (SELECT <the exported
  fields, in order> FROM e ORDER BY created_at, id) TO STDOUT (FORMAT csv, HEADER)`,
  where `e` holds the same rows with those fields as plain columns (vacuumed,
  analysed; indexed on (created_at, id), as contacts is on (organization_id,
  created_at, id), so that neither sorts), read by our exports' own COPY reader into
  a null sink;
* two additional baselines, printed beside it: the former one (COPY of our export's
  SELECT on contacts, in the export's tenant snapshot) and `COPY (SELECT * FROM
  contacts)`;
* our export job, run as the worker runs it (the handler in the job's transaction, its
  own snapshot, the row count, the file written and renamed): CSV, JSON Lines and XLSX.

`--xlsx-rows N` measures the XLSX export on a second organization of N contacts,
against the limit of those N rows; `--skip-xlsx` leaves it out; `--xlsx-candidates`
also runs two Python writers on the same rows (`xlsx_candidates`: xlsxwriter in
constant-memory mode and pyexcelerate, the `bench` extra), as the choice of writer
was made. Peak RSS is each export process's ru_maxrss. Uses DATABASE_URL, or an
embedded PostgreSQL in a temporary folder; works in a scratch database it drops after.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import psycopg
from datasets import generate_contacts
from figures import Figure, Runs, ceiling_figure, conditions, load_average, publish, rate_figure
from harness import BenchJobContext, peak_rss_mb, scratch_database, settings_for
from psycopg import sql
from psycopg.rows import dict_row

# `e` of BENCHMARKS.md: the exported fields as plain columns, and the sort key.
LIMIT_TABLE = """
CREATE TABLE {table} AS
SELECT {columns} FROM contacts WHERE organization_id = %(org)s ORDER BY created_at, id
"""
LIMIT_INDEX = "CREATE INDEX ON {table} (created_at, id)"
LIMIT_COPY = (
    "COPY (SELECT {fields} FROM {table} ORDER BY created_at, id) TO STDOUT (FORMAT csv, HEADER)"
)
ALL_COLUMNS_COPY = "COPY (SELECT * FROM contacts) TO STDOUT (FORMAT csv)"
SORT_KEY = ("created_at", "id")
XLSX_CANDIDATES = {
    "xlsx-xlsxwriter": "xlsxwriter (constant_memory)",
    "xlsx-pyexcelerate": "pyexcelerate",
}

CLAIM_BY_HAND = """
UPDATE scheduled_jobs SET status = 'processing', attempts = 1, started_at = now(),
       worker_id = 'bench', lease_expires_at = now() + interval '1 hour'
 WHERE id = %s RETURNING *
"""
COMPLETE = """
UPDATE scheduled_jobs SET status = 'completed', record_count = %s, result_size = %s,
       completed_at = clock_timestamp()
 WHERE id = %s
"""


@dataclass(frozen=True)
class Subject:
    """One organization's rows to export, and the name of its `e` table."""

    org_id: str
    rows: int
    limit_table: str


@dataclass(frozen=True)
class Setup:
    database_url: str
    data_dir: str
    user_id: str


@dataclass
class Run:
    what: str
    seconds: float
    rows: int
    size_bytes: int
    peak_rss_mb: float


def exported_fields() -> list[str]:
    """The fields of a default contacts export, in its order."""
    from crmferry.exports.options import parse_export_options
    from crmferry.records import CONTACTS

    return list(parse_export_options(CONTACTS, {}).fields)


def build(owner_url: str, rows: int, table: str) -> Subject:
    """A new organization with `rows` contacts, and its `e` table, all vacuumed and analysed."""
    fields = exported_fields()
    columns = [*fields, *(key for key in SORT_KEY if key not in fields)]
    from crmferry.accounts import admin

    with owner(owner_url) as conn:
        org_id = str(admin.create_organization(conn, f"Bench {rows:,}"))
        generate_contacts(conn, org_id, rows)
        conn.execute(
            sql.SQL(LIMIT_TABLE).format(
                table=sql.Identifier(table),
                columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            ),
            {"org": org_id},
        )
        conn.execute(sql.SQL(LIMIT_INDEX).format(table=sql.Identifier(table)))
        conn.execute("VACUUM ANALYZE contacts")
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
    return Subject(org_id, rows, table)


def limit_plan(owner_url: str, subject: Subject) -> str:
    """The nodes of the limit query's plan, outermost first (a sort would show here)."""
    fields = sql.SQL(", ").join(sql.Identifier(f) for f in exported_fields())
    query = sql.SQL("EXPLAIN (FORMAT JSON) SELECT {} FROM {} ORDER BY created_at, id").format(
        fields, sql.Identifier(subject.limit_table)
    )
    with owner(owner_url) as conn:
        plan = conn.execute(query).fetchone()["QUERY PLAN"][0]["Plan"]  # type: ignore[index]
    nodes = []
    while plan:
        nodes.append(" using ".join(filter(None, [plan["Node Type"], plan.get("Index Name")])))
        plan = (plan.get("Plans") or [None])[0]
    return " > ".join(nodes)


def owner(owner_url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(owner_url, autocommit=True, row_factory=dict_row)


def first_user(owner_url: str, org_id: str) -> str:
    from crmferry.accounts import admin

    with owner(owner_url) as conn:
        return str(admin.create_user(conn, org_id, f"bench-{org_id[:8]}@example.com", "member"))


def child(setup: Setup, subject: Subject, what: str, queue: Any) -> None:
    """In a fresh process: one baseline COPY, or one export job, timed."""
    from crmferry.db import connect

    settings = settings_for(setup.database_url, Path(setup.data_dir))
    db = connect(settings)
    with db.pool.connection() as conn:  # connected before the clock starts
        conn.execute("SELECT 1")
    if what in ("csv", "jsonl", "xlsx"):
        run = export_job(db, settings, setup, subject, what)
    elif what.startswith("xlsx-"):
        run = candidate_export(db, setup, subject, what)
    else:
        started = time.perf_counter()
        rows, size = baseline_copy(db, subject, what)
        run = Run(what, time.perf_counter() - started, rows, size, 0.0)
    db.close()
    run.peak_rss_mb = peak_rss_mb()
    queue.put(run)


def baseline_copy(db: Any, subject: Subject, what: str) -> tuple[int, int]:
    """(rows, bytes) of one of PostgreSQL's own COPYs, read into a null sink."""
    from crmferry.exports.options import parse_export_options
    from crmferry.exports.query import build_export_query
    from crmferry.exports.snapshot import snapshot_transaction
    from crmferry.records import CONTACTS

    if what == "limit":
        fields = sql.SQL(", ").join(sql.Identifier(f) for f in exported_fields())
        statement = sql.SQL(LIMIT_COPY).format(
            fields=fields, table=sql.Identifier(subject.limit_table)
        )
        with db.owner_connect() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return null_copy(conn, statement, [], True)
    with snapshot_transaction(db, subject.org_id) as conn:
        if what == "former":
            query, params = build_export_query(CONTACTS, parse_export_options(CONTACTS, {}))
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query)
            return null_copy(conn, statement, params, True)
        return null_copy(conn, sql.SQL(ALL_COLUMNS_COPY), [], False)


def export_job(db: Any, settings: Any, setup: Setup, subject: Subject, fmt: str) -> Run:
    """One export job, run as the worker runs it, timed from the handler's start to the
    commit of its status; the file is removed after."""
    import uuid

    from crmferry.accounts.principal import Principal
    from crmferry.exports.kind import run_export
    from crmferry.jobs import operations
    from crmferry.storage import store_for

    org_id, user_id = uuid.UUID(subject.org_id), uuid.UUID(setup.user_id)
    principal = Principal(user_id, org_id, "member", "bench@example.com", "Bench", "cli")
    body = {"job_type": "export", "data_type": "contacts", "options": {"format": fmt}}
    with db.tenant(org_id) as conn:
        job = operations.create_job(conn, principal, body, settings)
    with db.owner_connect() as conn:  # claimed, as the worker's claim would mark it
        job = conn.execute(CLAIM_BY_HAND, [job["id"]]).fetchone()
    with db.tenant(org_id) as conn:
        started = time.perf_counter()
        outcome = run_export(BenchJobContext(job, conn, db, settings))
        conn.execute(COMPLETE, [outcome.record_count, outcome.result_size, job["id"]])
    seconds = time.perf_counter() - started
    if outcome.result_path is not None:
        Path(outcome.result_path).unlink(missing_ok=True)
    if outcome.result_key is not None:
        store_for(settings).delete(outcome.result_key)
    return Run(fmt, seconds, outcome.record_count, outcome.result_size or 0, 0.0)


def candidate_export(db: Any, setup: Setup, subject: Subject, what: str) -> Run:
    """Another XLSX writer (`xlsx_candidates`) on the default contacts export's rows, in
    the export's snapshot, timed like the job (without its bookkeeping, which favours
    the candidate); the file is removed after."""
    from xlsx_candidates import CANDIDATES, select_list

    from crmferry.exports.options import parse_export_options
    from crmferry.exports.query import build_export_query, export_columns
    from crmferry.exports.snapshot import snapshot_transaction
    from crmferry.records import CONTACTS

    options = parse_export_options(CONTACTS, {"format": "xlsx"})
    columns = export_columns(CONTACTS, options)
    query, params = build_export_query(CONTACTS, options, select_list(columns))
    path = Path(setup.data_dir) / f"{what}.xlsx"
    started = time.perf_counter()
    with snapshot_transaction(db, subject.org_id) as conn:
        rows = CANDIDATES[what](conn, columns, query, params, path)
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    return Run(what, seconds, rows, size, 0.0)


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


@dataclass
class Measured:
    """Every run of one thing: their seconds (Runs) and the runs themselves."""

    runs: Runs
    all: list[Run] = field(default_factory=list)

    def add(self, run: Run) -> None:
        if run.rows != self.runs.rows:
            raise RuntimeError(f"{run.what}: {run.rows:,} rows, not {self.runs.rows:,}")
        self.runs.seconds.append(run.seconds)
        self.all.append(run)

    @property
    def peak_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.all)

    @property
    def size_mb(self) -> float:
        return self.all[0].size_bytes / 1e6


def measure_once(setup: Setup, subject: Subject, what: str) -> Run:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=child, args=(setup, subject, what, queue))
    process.start()
    run: Run = queue.get()
    process.join()
    print(
        f"  {what:17} {run.seconds:7.2f} s  {run.rows:,} rows  {run.size_bytes / 1e6:.1f} MB"
        f"  peak RSS {run.peak_rss_mb:.0f} MB",
        flush=True,
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each (figures are medians)")
    parser.add_argument("--xlsx-rows", type=int, help="XLSX on this many rows (default --rows)")
    parser.add_argument("--xlsx-runs", type=int, default=1, help="runs of the XLSX export")
    parser.add_argument("--skip-xlsx", action="store_true", help="no XLSX export")
    parser.add_argument(
        "--xlsx-candidates",
        action="store_true",
        help="also xlsxwriter (constant memory) and pyexcelerate on the XLSX rows",
    )
    parser.add_argument("--json", help="also save the table here (for bench/all.py)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="crmferry-bench-exports-"))
    try:
        with scratch_database("exports") as server:
            figures, notes = measure(server, work, args)
            publish(f"Exports, {args.rows:,} contacts", figures, notes, args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(server: Any, work: Path, args: Any) -> tuple[list[Figure], list[str]]:
    from crmferry.db import connect

    load = load_average()
    connect(settings_for(server.url, work / "data"), upgrade=True).close()
    started = time.perf_counter()
    main_rows = build(server.url, args.rows, "bench_export_limit")
    xlsx_rows = args.xlsx_rows or args.rows
    xlsx_subject = main_rows
    if not args.skip_xlsx and xlsx_rows != args.rows:
        xlsx_subject = build(server.url, xlsx_rows, "bench_export_limit_xlsx")
    print(f"contacts generated in {time.perf_counter() - started:.1f} s", flush=True)
    setup = Setup(server.url, str(work / "data"), first_user(server.url, main_rows.org_id))
    xlsx_setup = Setup(server.url, setup.data_dir, first_user(server.url, xlsx_subject.org_id))

    kinds = ("limit", "former", "table", "csv", "jsonl")
    measured = {kind: Measured(Runs(args.rows)) for kind in kinds}
    for round_number in range(1, args.runs + 1):
        print(f"round {round_number} of {args.runs}", flush=True)
        for kind in kinds:
            measured[kind].add(measure_once(setup, main_rows, kind))
    figures = table(args.rows, measured)
    if not args.skip_xlsx:
        figures[3:3] = xlsx_figures(args, xlsx_setup, xlsx_subject, measured["limit"])
    notes = [
        conditions(server, load, rows=args.rows, runs=args.runs),
        f"export limit: COPY (SELECT the {len(exported_fields())} exported fields (id first) "
        "FROM e ORDER BY created_at, id) "
        "TO STDOUT (FORMAT csv, HEADER), e holding the same rows as plain columns, vacuumed "
        "and analysed, with an index on (created_at, id) (BENCHMARKS.md)",
        f"the limit's plan: {limit_plan(server.url, main_rows)}",
        f"file sizes: CSV {measured['csv'].size_mb:.1f} MB, JSON Lines "
        f"{measured['jsonl'].size_mb:.1f} MB; the limit's COPY {measured['limit'].size_mb:.1f} MB",
    ]
    return figures, notes


def xlsx_figures(args: Any, setup: Setup, subject: Subject, limit: Measured) -> list[Figure]:
    """The XLSX export against the limit of the same rows (measured again when it is a
    smaller set, interleaved with the XLSX runs)."""
    xlsx = Measured(Runs(subject.rows))
    own_limit = limit if subject.rows == args.rows else Measured(Runs(subject.rows))
    others = {name: Measured(Runs(subject.rows)) for name in XLSX_CANDIDATES}
    for i in range(max(args.runs, args.xlsx_runs)):
        if own_limit is not limit and i < args.runs:
            own_limit.add(measure_once(setup, subject, "limit"))
        if i < args.xlsx_runs:
            xlsx.add(measure_once(setup, subject, "xlsx"))
            if args.xlsx_candidates:
                for name, measured in others.items():
                    measured.add(measure_once(setup, subject, name))
    named = f"{subject.rows:,} rows"
    figures = [
        rate_figure(
            f"XLSX export, {named}", xlsx.runs, "export limit", own_limit.runs, 0.1, "≥ 0.1×"
        ),
        ceiling_figure(
            f"export worker peak RSS, XLSX, {named}",
            f"{xlsx.peak_mb:.0f} MB",
            xlsx.peak_mb,
            200,
            "< 200 MB",
        ),
    ]
    for name, measured in others.items() if args.xlsx_candidates else ():
        figures.append(
            rate_figure(
                f"(candidate) XLSX by {XLSX_CANDIDATES[name]}, {named},"
                f" peak RSS {measured.peak_mb:.0f} MB",
                measured.runs,
                "export limit",
                own_limit.runs,
                None,
                "—",
            )
        )
    return figures


def table(rows: int, measured: dict[str, Measured]) -> list[Figure]:
    named = f"{rows:,} rows"
    limit = measured["limit"].runs
    csv, jsonl = measured["csv"], measured["jsonl"]
    return [
        rate_figure(f"CSV export, {named}", csv.runs, "export limit", limit, 0.7, "≥ 0.7×"),
        rate_figure(
            f"JSON Lines export, {named}", jsonl.runs, "export limit", limit, 0.5, "≥ 0.5×"
        ),
        ceiling_figure(
            f"export worker peak RSS, CSV / JSON Lines, {named}",
            f"{csv.peak_mb:.0f} / {jsonl.peak_mb:.0f} MB",
            max(csv.peak_mb, jsonl.peak_mb),
            200,
            "< 200 MB",
        ),
        rate_figure(
            "(additional baseline) CSV export against the former baseline",
            csv.runs,
            "COPY of the export's SELECT on contacts (RLS, tenant snapshot, no neutralisation)",
            measured["former"].runs,
            None,
            "—",
        ),
        rate_figure(
            "(additional baseline) CSV export against every column",
            csv.runs,
            "COPY (SELECT * FROM contacts) TO STDOUT (FORMAT csv)",
            measured["table"].runs,
            None,
            "—",
        ),
    ]


if __name__ == "__main__":
    main()
