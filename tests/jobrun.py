"""Run one job in-process, as a worker would: claim it (others are given back),
run it on its tenant transaction, finish. For tests of job kinds."""

from __future__ import annotations

import uuid
from typing import Any

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs import engine
from crmferry.jobs.running import run_claimed


def run_job(
    db: Database, settings: Settings, org_id: uuid.UUID, job_id: uuid.UUID, cancel: bool = False
) -> dict[str, Any]:
    """The finished job row; with `cancel`, a cancel is requested once it is claimed."""
    claimed: dict[str, Any] | None = None
    others: list[dict[str, Any]] = []  # held until the end, so each claim reaches further
    for _ in range(20):
        for job in engine.claim_jobs(db, "in-process-tests", 10, 100, 60):
            if str(job["id"]) == str(job_id):
                claimed = job
            else:
                others.append(job)
        if claimed:
            break
    for job in others:
        engine.release(db, engine.Claim.of(job), "not this test's")
    assert claimed is not None, f"job {job_id} was not claimed"
    if cancel:
        with db.owner_connect() as conn:
            conn.execute(
                "UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s", [job_id]
            )
    run_claimed(db, settings, claimed)
    with db.tenant(org_id) as conn:
        done = conn.execute("SELECT * FROM scheduled_jobs WHERE id = %s", [job_id]).fetchone()
    assert done is not None
    return done
