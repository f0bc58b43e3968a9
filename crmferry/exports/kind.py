"""The `export` job kind: check the options (prepare), stream the file (run).

The file is read from one REPEATABLE READ snapshot (its own transaction) and
written to the job's folder; it is published by the job's own transaction,
which records its path and download name together with "completed". If that
commit never happens, the engine discards the attempt's folder.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.exports.naming import result_file_name
from crmferry.exports.options import OPTION_KEYS, options_to_json, parse_export_options
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.exports.writers import write_export
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, register
from crmferry.records import DataType, get_data_type

NAME_RESULT = """
UPDATE scheduled_jobs
   SET options = options || jsonb_build_object('result_file_name', %(name)s::text)
 WHERE id = %(id)s
"""

COUNT_ROWS = "SELECT count(*) AS n FROM {table}"

ORGANIZATION_CLOCK = """
SELECT o.timezone, now() AS now FROM organizations o WHERE o.id = %(org)s
"""


def prepare_export(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    """Validate fields, filters, format and CSV options (422 naming what is wrong)."""
    principal.require("member")
    options = parse_export_options(data_type, body.get("options") or {})
    return NewJob(options=options_to_json(options))


def run_export(ctx: JobContext) -> JobOutcome:
    """Write the file from one snapshot; name it in the organization's time zone."""
    data_type = get_data_type(ctx.job["data_type"])
    stored = {k: v for k, v in (ctx.job["options"] or {}).items() if k in OPTION_KEYS}
    options = parse_export_options(data_type, stored)
    clock = ctx.conn.execute(ORGANIZATION_CLOCK, {"org": ctx.organization_id}).fetchone()
    assert clock is not None
    name = result_file_name(data_type, clock["now"], clock["timezone"], options.format)
    out_path = ctx.files_dir() / name
    with snapshot_transaction(ctx.db, ctx.organization_id) as snapshot:
        # the total is exact without filters; with them it is unknown until the end
        total = None
        if not options.filters:
            query = sql.SQL(COUNT_ROWS).format(table=sql.Identifier(data_type.table))
            row = snapshot.execute(query).fetchone()
            total = int(row["n"]) if row else None
        ctx.progress(0, total)
        result = write_export(
            snapshot,
            data_type,
            options,
            out_path,
            ctx.progress,
            connect=ctx.db.app_connect,
            expected_rows=total,
        )
    ctx.progress(result.record_count, result.record_count)
    # last: this locks the job row in the job's transaction, where progress cannot reach it
    ctx.conn.execute(NAME_RESULT, {"name": name, "id": ctx.job_id})
    return JobOutcome(
        record_count=result.record_count,
        result_path=out_path,
        result_size=result.size_bytes,
    )


register(JobKind("export", prepare_export, run_export))
