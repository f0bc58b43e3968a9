"""A trivial job kind for engine tests, standing in for `export` (not registered here:
see plugin.py, and the `test_kind` fixture inside the test process). Its templates and
schedules keep their input as given.

Options drive it: `sleep` (seconds, in 0.05 s steps with progress calls), `cpu`
(seconds of busy work without progress calls), `fail` (a failed outcome with
this message), `raise` (an exception), `folder` (make the attempt's folder first,
as kinds that write files do), `trace` (a file: one line per start,
written outside the transaction, so it counts raw executions). Every run
inserts an audit_log row (action `engine-test.run`) in the job's transaction,
so the committed effect can be counted.
"""

from __future__ import annotations

import time
from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.jobs.kinds import JobContext, JobKind, JobOutcome, NewJob, SavedInput
from crmferry.records import DataType

EFFECT = """
INSERT INTO audit_log (organization_id, action, target_type, target_id, details)
VALUES (%(org)s, 'engine-test.run', 'job', %(job)s, jsonb_build_object('attempt', %(attempt)s))
"""


def prepare(
    conn: Conn, principal: Principal, data_type: DataType, body: dict[str, Any], settings: Settings
) -> NewJob:
    principal.require("member")
    return NewJob(options=dict(body.get("options") or {}), file_name="test.txt")


def keep(conn: Conn, data_type: DataType, saved: SavedInput, settings: Settings) -> SavedInput:
    return saved


def run(ctx: JobContext) -> JobOutcome:
    options = ctx.job["options"] or {}
    if options.get("trace"):
        with open(options["trace"], "a") as trace:
            trace.write(f"{ctx.job_id} {ctx.job['attempts']}\n")
    if options.get("folder"):
        ctx.files_dir()
    ctx.conn.execute(
        EFFECT, {"org": ctx.organization_id, "job": str(ctx.job_id), "attempt": ctx.job["attempts"]}
    )
    steps = int(float(options.get("sleep", 0)) / 0.05)
    for step in range(steps):
        time.sleep(0.05)
        ctx.progress(step + 1, steps)
    deadline = time.monotonic() + float(options.get("cpu", 0))
    while time.monotonic() < deadline:
        sum(range(1000))
    if options.get("raise"):
        raise RuntimeError(options["raise"])
    if options.get("result"):
        path = ctx.files_dir() / "result.csv"
        path.write_text(options["result"])
        outcome = JobOutcome(record_count=1, result_path=path, result_size=path.stat().st_size)
    else:
        outcome = JobOutcome(record_count=steps or 1)
    if options.get("report"):
        report = ctx.files_dir() / "errors.csv"
        report.write_text(options["report"])
        outcome.error_report_path = report
    if options.get("fail"):
        outcome.failed = True
        outcome.error_message = options["fail"]
    outcome.counts = {"inserted": outcome.record_count}
    return outcome


TEST_KIND = JobKind("export", prepare, run, check_template=keep, check_schedule=keep)
