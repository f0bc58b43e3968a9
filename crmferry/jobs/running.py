"""Running one claimed job: its context, its heartbeat, and how its attempt ends.

The kind runs inside the job's tenant transaction (`ctx.conn`); the final
status is written on that same connection, so the job's data and its
"completed" commit together or not at all. Anything else (a failure, a cancel,
a lost lease, an exception) rolls the data back first.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from crmferry.config import Settings
from crmferry.db import Conn, Database
from crmferry.errors import CrmFerryError, JobCancelled, LeaseLost, RetryLater
from crmferry.jobs import engine
from crmferry.jobs.engine import Claim, Finish
from crmferry.jobs.files import (
    attempt_dir,
    attempt_key,
    discard_attempt,
    publish,
    release_attempt,
)
from crmferry.jobs.kinds import JobOutcome, kind_for

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0  # seconds between progress writes: NOTIFY takes a global lock


class JobSignals:
    """What the heartbeat learned about one attempt: a cancel was requested, or the
    claim is gone (swept after a lost lease, or taken by another attempt)."""

    def __init__(self) -> None:
        self.cancel_requested = threading.Event()
        self.lost = threading.Event()


class Heartbeats(threading.Thread):
    """Renews the leases of all the jobs one worker runs, in one statement every
    heartbeat interval (also through long CPU-bound steps, since it is a thread of
    its own), and flags each job's cancel request or lost claim."""

    def __init__(self, db: Database, settings: Settings, worker_id: str) -> None:
        super().__init__(name="heartbeats", daemon=True)
        self.db, self.settings, self.worker_id = db, settings, worker_id
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._jobs: dict[Claim, JobSignals] = {}

    def watch(self, claim: Claim) -> JobSignals:
        with self._lock:
            return self._jobs.setdefault(claim, JobSignals())

    def forget(self, claim: Claim) -> None:
        with self._lock:
            self._jobs.pop(claim, None)

    def run(self) -> None:
        while not self.stopped.wait(self.settings.effective_heartbeat_seconds):
            self.beat()

    def beat(self) -> None:
        with self._lock:
            claims = list(self._jobs)
        if not claims:
            return
        try:
            states = engine.renew_leases(
                self.db, self.worker_id, claims, self.settings.lease_seconds
            )
        except psycopg.Error as exc:
            log.warning("heartbeat of %d job(s) failed: %s", len(claims), exc)
            return
        with self._lock:
            for claim, cancel in states.items():
                signals = self._jobs.get(claim)
                if signals is None:
                    continue  # finished meanwhile
                if cancel is None:
                    signals.lost.set()
                elif cancel:
                    signals.cancel_requested.set()

    def stop(self) -> None:
        self.stopped.set()


class RunningJob:
    """The JobContext a kind sees."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        job: dict[str, Any],
        conn: Conn,
        claim: Claim,
        signals: JobSignals,
    ) -> None:
        self.db, self.settings, self.job, self.conn = db, settings, job, conn
        self.claim = claim
        self._signals = signals
        self._last_write = 0.0

    @property
    def job_id(self) -> UUID:
        return self.claim.job_id

    @property
    def organization_id(self) -> UUID:
        return UUID(self.claim.organization_id)

    def progress(self, done: int, total: int | None = None) -> None:
        """Report rows done (written about once a second, and always when done == total);
        raises JobCancelled after a cancel request and LeaseLost when the claim is gone."""
        self.check()
        now = time.monotonic()
        if now - self._last_write < PROGRESS_INTERVAL and (total is None or done < total):
            return
        self._last_write = now
        cancel = engine.record_progress(
            self.db, self.claim, done, total, self.settings.lease_seconds
        )
        if cancel is None:
            self._signals.lost.set()
        elif cancel:
            self._signals.cancel_requested.set()
        self.check()

    def check(self) -> None:
        """Raise if the job must stop (no database call): for kinds' batch boundaries."""
        if self._signals.lost.is_set():
            raise LeaseLost(f"Job {self.job_id} is no longer held by this worker.")
        if self._signals.cancel_requested.is_set():
            raise JobCancelled("Cancelled while running.")

    def files_dir(self) -> Path:
        return attempt_dir(
            self.settings, self.claim.organization_id, self.job_id, self.claim.attempts
        )

    def file_key(self, name: str) -> str:
        return attempt_key(self.claim.organization_id, self.job_id, self.claim.attempts, name)


class _RollBack(Exception):
    """Leave the job's transaction without committing, carrying why."""

    def __init__(self, outcome: JobOutcome | None) -> None:
        super().__init__("roll back")
        self.outcome = outcome


def run_claimed(
    db: Database, settings: Settings, claim: Claim, heartbeats: Heartbeats | None = None
) -> str:
    """Run one claimed job to the end of its attempt; the status it ended with, or
    'lost' when the claim was gone (another attempt owns the job now).

    A worker passes its `heartbeats`; without, the job gets a heartbeat of its own.
    """
    own = heartbeats is None
    if heartbeats is None:
        heartbeats = Heartbeats(db, settings, claim.worker_id)
        heartbeats.start()
    signals = heartbeats.watch(claim)
    try:
        return _attempt(db, settings, claim, signals)
    finally:
        release_attempt(settings, claim.organization_id, claim.job_id, claim.attempts)
        heartbeats.forget(claim)
        if own:
            heartbeats.stop()


def _attempt(db: Database, settings: Settings, claim: Claim, signals: JobSignals) -> str:
    try:
        kind = kind_for(claim.job_type)
    except KeyError:
        return _fail(db, settings, claim, f"No worker here can run a {claim.job_type} job.")
    outcome: JobOutcome | None = None
    try:
        with db.tenant(claim.organization_id) as conn:
            job = engine.read_claimed(conn, claim)
            if job is None:
                raise LeaseLost(f"Job {claim.job_id} is no longer held by this worker.")
            ctx = RunningJob(db, settings, job, conn, claim, signals)
            outcome = kind.run(ctx)
            if outcome.failed:
                raise _RollBack(outcome)
            # one transaction: the job's data and its "completed" commit together
            if engine.finish(conn, claim, _completed(settings, claim, outcome)) is None:
                raise _RollBack(None)
        return "completed"
    except _RollBack as stop:
        if stop.outcome is None:
            return _cancelled(db, settings, claim, outcome)
        return _failed_outcome(db, settings, claim, stop.outcome)
    except JobCancelled:
        return _cancelled(db, settings, claim, outcome)
    except RetryLater as later:
        status = engine.retry_later(db, claim, later.detail, later.after_seconds) or "lost"
        _discard(settings, claim, final=status == "failed")
        return status
    except LeaseLost:
        _discard(settings, claim, final=False)
        return "lost"
    except psycopg.OperationalError as exc:
        # the database went away, not the job's fault: give it back for another try
        log.warning("job %s lost its database connection: %s", claim.job_id, exc)
        _discard(settings, claim, final=False)
        # if even that fails, the lease runs out and the sweep puts it back
        with contextlib.suppress(psycopg.Error):
            engine.release(db, claim, "database connection lost")
        return "lost"
    except Exception as exc:
        log.exception("job %s failed", claim.job_id)
        message = exc.detail if isinstance(exc, CrmFerryError) else f"{type(exc).__name__}: {exc}"
        status = _fail(db, settings, claim, message)
        _discard(settings, claim, final=status != "lost")
        return status


def _cancelled(db: Database, settings: Settings, claim: Claim, outcome: JobOutcome | None) -> str:
    """A cancel request stopped the attempt (or arrived before its completion)."""
    status = "cancelled" if engine.mark_cancelled(db, claim) else "lost"
    _discard(settings, claim, final=status != "lost")
    return status


def _completed(settings: Settings, claim: Claim, outcome: JobOutcome) -> Finish:
    """The job's "completed", its files stored first (so the row names stored files)."""
    org, job, attempt = claim.organization_id, claim.job_id, claim.attempts
    report = outcome.error_report_key or publish(
        settings, org, job, attempt, outcome.error_report_path
    )
    return Finish(
        status="completed",
        error=outcome.error_message,
        record_count=outcome.record_count,
        counts=outcome.counts,
        result_path=outcome.result_key or publish(settings, org, job, attempt, outcome.result_path),
        result_size=outcome.result_size,
        error_report_path=report,
        result_file_name=outcome.result_file_name,
        upload_id=outcome.upload_id,
        mapping=outcome.mapping,
        options=outcome.options,
        items=_publish_items(settings, claim, outcome, report)[0],
    )


def _publish_items(
    settings: Settings, claim: Claim, outcome: JobOutcome, report: str | None
) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """The outcome's items (a batch's files) with each one's error report (`report`, a
    file the attempt wrote) stored like the job's own: its key as `report_path`; and
    those keys. The job's report is stored once, under the key it already has."""
    if outcome.items is None:
        return None, []
    items, keys = [], []
    for item in outcome.items:
        item = dict(item)
        path = item.pop("report", None)
        key = None
        if isinstance(path, str):
            key = path  # already in the store, written there by the kind
        elif path is not None:
            same = outcome.error_report_path is not None and Path(path) == outcome.error_report_path
            key = (
                report
                if same
                else publish(
                    settings, claim.organization_id, claim.job_id, claim.attempts, Path(path)
                )
            )
        item["report_path"] = key
        if key:
            keys.append(key)
        items.append(item)
    return items, keys


def _failed_outcome(db: Database, settings: Settings, claim: Claim, outcome: JobOutcome) -> str:
    """The kind said failed: its data is rolled back, its counts, message and report kept."""
    report = outcome.error_report_key or publish(
        settings, claim.organization_id, claim.job_id, claim.attempts, outcome.error_report_path
    )
    items, item_reports = _publish_items(settings, claim, outcome, report)
    finish = Finish(
        status="failed",
        error=outcome.error_message or "The job failed.",
        record_count=outcome.record_count,
        counts=outcome.counts,
        error_report_path=report,
        items=items,
    )
    status = "failed" if engine.finish_apart(db, claim, finish) is not None else "lost"
    kept = status != "lost"
    discard_attempt(
        settings,
        claim.organization_id,
        claim.job_id,
        claim.attempts,
        keep=(report, *item_reports) if kept else (),
        final=kept,
    )
    return status


def _fail(db: Database, settings: Settings, claim: Claim, message: str) -> str:
    return "failed" if engine.finish_apart(db, claim, Finish("failed", message)) else "lost"


def _discard(settings: Settings, claim: Claim, *, final: bool) -> None:
    """Remove the files of an attempt that did not commit; `final` when the job ends
    with this attempt (what is left empty goes too)."""
    discard_attempt(settings, claim.organization_id, claim.job_id, claim.attempts, final=final)
