"""Firing due schedules: each occurrence becomes exactly one job, whatever the number
of workers. The job and its row in the occurrence ledger (UNIQUE(schedule_id,
fire_at), ON CONFLICT DO NOTHING) are inserted in one transaction.

A schedule runs as its owner (`created_by`, whoever last edited it): when the owner
is no longer a member with a role that may create jobs, a due occurrence makes no
job; the schedule is paused with its `paused_reason` and a schedule.paused event.

Catch-up: after downtime, the missed occurrences collapse into one run, fired
for the earliest missed time; the next run is then the first one after now.

Each job is made from the schedule's input with its template's merged in, by its
kind (`JobKind.schedule_job`); a schedule's source travels in the job's options
(`options["source"]`) and names its file. When the job cannot be made (its template
is gone, or no longer fits), the occurrence still gets its job, failed at once with
the reason, so that the schedule's history says why nothing ran.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from crmferry.accounts.principal import Principal
from crmferry.audit import record
from crmferry.config import Settings
from crmferry.db import Conn, Database
from crmferry.errors import Conflict, CrmFerryError
from crmferry.jobs.cron import next_fire
from crmferry.jobs.kinds import (
    JobKind,
    NewJob,
    SavedInput,
    default_schedule_job,
    described_type,
    kind_for,
)
from crmferry.jobs.operations import db_now, insert_job
from crmferry.jobs.schedules import get_schedule
from crmferry.jobs.sources import source_for
from crmferry.jobs.templates import apply_template
from crmferry.jobs.timing import zone_named
from crmferry.notify.events import SCHEDULE_PAUSED, write_schedule_event
from crmferry.records import get_data_type

log = logging.getLogger(__name__)

DUE = "SELECT * FROM crmferry_due_schedules(%s)"

RECORD_OCCURRENCE = """
INSERT INTO schedule_occurrences (schedule_id, fire_at, organization_id)
VALUES (%(schedule)s, %(fire_at)s, crmferry_current_org())
ON CONFLICT DO NOTHING
RETURNING fire_at
"""

LINK_OCCURRENCE = """
UPDATE schedule_occurrences SET job_id = %(job)s
 WHERE organization_id = crmferry_current_org() AND schedule_id = %(schedule)s
   AND fire_at = %(fire_at)s
"""

ADVANCE = """
UPDATE schedules
   SET next_run_at = coalesce(%(next_run_at)s, next_run_at),
       last_run_at = coalesce(%(last_run_at)s, last_run_at),
       last_job_id = coalesce(%(job)s, last_job_id)
 WHERE organization_id = crmferry_current_org() AND id = %(schedule)s
"""

CREATOR_NAME = "SELECT coalesce(name, email) AS name FROM users WHERE id = %s"

# The owner may still create jobs: a member or an admin of this organization now.
OWNER_MAY_CREATE = """
SELECT role FROM memberships
 WHERE organization_id = crmferry_current_org() AND user_id = %s AND role IN ('admin', 'member')
"""

PAUSE_DEPARTED = """
UPDATE schedules
   SET enabled = false, updated_at = now(),
       paused_reason = 'Paused: its owner is no longer a member who may create jobs (removed, '
                       || 'or made a viewer). Edit the schedule to take it over, then enable it.'
 WHERE organization_id = crmferry_current_org() AND id = %s
"""

FAIL_UNMADE = """
UPDATE scheduled_jobs
   SET status = 'failed', completed_at = clock_timestamp(), updated_at = clock_timestamp(),
       error_message = %(error)s
 WHERE id = %(id)s
RETURNING *
"""


def fire_due_schedules(db: Database, settings: Settings, limit: int = 50) -> int:
    """Fire every due schedule (each in its organization's transaction); jobs made."""
    with db.anonymous() as conn:
        due = conn.execute(DUE, [limit]).fetchall()
    made = 0
    for schedule in due:
        with db.tenant(schedule["organization_id"]) as conn:
            if fire_schedule(conn, settings, schedule["id"]) is not None:
                made += 1
    return made


def fire_schedule(
    conn: Conn, settings: Settings, schedule_id: object, now_please: bool = False
) -> dict[str, Any] | None:
    """Make the job of the schedule's due occurrence (or, with `now_please`, of a run
    now); None when it is not due or another worker made it already."""
    schedule = get_schedule(conn, schedule_id, for_update=True)
    now = db_now(conn)
    if now_please:
        fire_at = now
    elif (
        not schedule["enabled"] or schedule["next_run_at"] is None or schedule["next_run_at"] > now
    ):
        return None
    else:
        fire_at = schedule["next_run_at"]
    if conn.execute(OWNER_MAY_CREATE, [schedule["created_by"]]).fetchone() is None:
        _owner_departed(conn, schedule, now_please)
        return None
    params = {"schedule": schedule["id"], "fire_at": fire_at}
    job = None
    if conn.execute(RECORD_OCCURRENCE, params).fetchone() is not None:
        job = _insert_occurrence_job(conn, settings, schedule, fire_at)
        conn.execute(LINK_OCCURRENCE, {**params, "job": job["id"]})
    following = None
    if not now_please:
        following = next_fire(schedule["cron"], zone_named(schedule["timezone"]), max(now, fire_at))
    conn.execute(
        ADVANCE,
        {
            "schedule": schedule["id"],
            "next_run_at": following,
            "last_run_at": fire_at if job else None,
            "job": job["id"] if job else None,
        },
    )
    return job


def _owner_departed(conn: Conn, schedule: dict[str, Any], now_please: bool) -> None:
    """A schedule whose owner left (or may no longer create jobs) never runs as them: a
    due one is paused, with a schedule.paused event telling the admins (one
    transaction); a "run now" is refused until someone takes the schedule over."""
    if now_please:
        raise Conflict(
            "This schedule's owner is no longer a member who may create jobs; edit the "
            "schedule to take it over (you become its owner), then run it."
        )
    log.warning("schedule %s paused: its owner may no longer create jobs", schedule["id"])
    conn.execute(PAUSE_DEPARTED, [schedule["id"]])
    write_schedule_event(conn, SCHEDULE_PAUSED, schedule["id"], {"reason": "owner"})


def run_schedule_now(
    conn: Conn, principal: Principal, settings: Settings, schedule_id: object
) -> dict[str, Any]:
    """The job of one run now (also of a paused schedule), audited (`schedule.run`, in
    the caller's name) in its transaction; 403 for a viewer, 409 when the schedule's
    owner may no longer create jobs."""
    principal.require("member")
    job = fire_schedule(conn, settings, schedule_id, now_please=True)
    assert job is not None  # a run now has a fresh occurrence time
    details = {"job_id": str(job["id"]), "job_type": job["job_type"], "data_type": job["data_type"]}
    record(conn, principal, "schedule.run", "schedule", job["schedule_id"], details)
    return job


def _insert_occurrence_job(
    conn: Conn, settings: Settings, schedule: dict[str, Any], fire_at: datetime
) -> dict[str, Any]:
    creator = conn.execute(CREATOR_NAME, [schedule["created_by"]]).fetchone()
    own = SavedInput(dict(schedule["options"] or {}), schedule["mapping"], schedule["source"])
    problem = None
    try:
        new = _occurrence_input(conn, settings, schedule, own)
    except CrmFerryError as exc:
        problem = exc.detail
        new = NewJob(options=own.options, mapping=own.mapping)
    job = insert_job(
        conn,
        settings,
        created_by=schedule["created_by"],
        creator_name=creator["name"] if creator else schedule["name"],
        job_type=schedule["job_type"],
        data_type=schedule["data_type"],
        new=new,
        scheduled_time=fire_at,
        timezone=schedule["timezone"],
        template_id=schedule["template_id"],
        schedule_id=schedule["id"],
        occurrence_at=fire_at,
    )
    if problem is None:
        return job
    log.warning("schedule %s: its job could not be made: %s", schedule["id"], problem)
    failed = conn.execute(FAIL_UNMADE, {"id": job["id"], "error": problem}).fetchone()
    assert failed is not None
    return failed


def _occurrence_input(
    conn: Conn, settings: Settings, schedule: dict[str, Any], own: SavedInput
) -> NewJob:
    """The job of one occurrence, made by the schedule's kind from its input with its
    template's merged in; the source goes into the job's options and names its file.
    A kind this process does not know (a plugin's) takes the input as it is."""
    job_type, data_type = schedule["job_type"], schedule["data_type"]
    saved = apply_template(conn, schedule["template_id"], job_type, data_type, own)
    try:
        kind: JobKind | None = kind_for(job_type)
    except KeyError:
        kind = None
    if kind is None:
        new = default_schedule_job(conn, get_data_type(data_type), saved, settings)
    else:
        new = kind.schedule_job(conn, described_type(kind, data_type), saved, settings)
    if saved.source is None:
        return new
    file_name = new.file_name or source_for(saved.source).file_name(saved.source)
    return replace(new, options={**new.options, "source": saved.source}, file_name=file_name)
