"""Run one job in-process, as a worker would: claim it as crmferry_worker (others are
given back), run it on its tenant transaction, finish. For tests of job kinds."""

from __future__ import annotations

import atexit
import uuid
from typing import Any

from crmferry.config import Settings
from crmferry.db import Database, connect
from crmferry.db.urls import WORKER_ROLE
from crmferry.jobs import engine
from crmferry.jobs.running import run_claimed

_WORKERS: dict[str, Database] = {}


def worker_database(settings: Settings) -> Database:
    """One crmferry_worker Database per test database, closed when the tests end."""
    key = str(settings.database_url)
    if key not in _WORKERS:
        _WORKERS[key] = connect(settings, role=WORKER_ROLE)
        atexit.register(_WORKERS[key].close)
    return _WORKERS[key]


def run_job(
    db: Database, settings: Settings, org_id: uuid.UUID, job_id: uuid.UUID, cancel: bool = False
) -> dict[str, Any]:
    """The finished job row; with `cancel`, a cancel is requested once it is claimed."""
    worker = worker_database(settings)
    claimed: engine.Claim | None = None
    others: list[engine.Claim] = []  # held until the end, so each claim reaches further
    for _ in range(20):
        for claim in engine.claim_jobs(worker, "in-process-tests", 10, 100, 60):
            if str(claim.job_id) == str(job_id):
                claimed = claim
            else:
                others.append(claim)
        if claimed:
            break
    for claim in others:
        engine.release(worker, claim, "not this test's")
    assert claimed is not None, f"job {job_id} was not claimed"
    if cancel:
        with db.owner_connect() as conn:
            conn.execute(
                "UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s", [job_id]
            )
    run_claimed(worker, settings, claimed)
    with db.tenant(org_id) as conn:
        done = conn.execute("SELECT * FROM scheduled_jobs WHERE id = %s", [job_id]).fetchone()
    assert done is not None
    return done
