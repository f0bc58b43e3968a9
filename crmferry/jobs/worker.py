"""The worker process: claims due jobs into N slots, wakes on NOTIFY, sleeps until
the next due time (at most the poll interval), recovers expired leases, fires
schedules, dispatches the outbox's events into delivery jobs and prunes old jobs;
stops gracefully on SIGTERM/SIGINT: no more claims, running jobs get the grace
period, the rest go back to pending at once.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterable
from uuid import UUID

import psycopg

from crmferry.config import Settings
from crmferry.db import Database, connect
from crmferry.db.urls import WORKER_ROLE
from crmferry.jobs import engine, firing, retention
from crmferry.jobs.engine import Claim
from crmferry.jobs.kinds import load_plugins
from crmferry.jobs.listener import Listener
from crmferry.jobs.running import Heartbeats, run_claimed
from crmferry.notify.dispatch import dispatch_events

log = logging.getLogger(__name__)

RETRY_AFTER_ERROR_SECONDS = 1.0
RETENTION_EVERY_SECONDS = 3600.0
# Schedules are checked at most this often (their jobs are due to the second, and a
# schedule change notifies): at high job rates a check per claim round was a
# query per job.
SCHEDULES_EVERY_SECONDS = 0.5


class Worker:
    """One worker process's loop; setting `stop` ends it gracefully."""

    def __init__(self, db: Database, settings: Settings, concurrency: int) -> None:
        self.db, self.settings, self.concurrency = db, settings, concurrency
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.running: dict[UUID, Claim] = {}
        self.lock = threading.Lock()
        self.slot_freed = threading.Condition(self.lock)
        # slots are long-lived threads fed by a queue, and one heartbeat renews all
        # their leases: no thread is started per job
        self.queue: queue.SimpleQueue[Claim | None] = queue.SimpleQueue()
        self.slots = [
            threading.Thread(target=self._slot, name=f"slot-{n}", daemon=True)
            for n in range(concurrency)
        ]
        self.heartbeats = Heartbeats(db, settings, self.worker_id)
        self._next_sweep = 0.0
        self._next_prune = time.monotonic() + 60.0
        self._next_schedules = 0.0
        self._next_dispatch = 0.0
        # set while due jobs wait behind an organization's cap: only then does another
        # worker's finished job (which frees the cap) need to wake this one
        self.capped = threading.Event()

    def run(self) -> int:
        """Work until `stop` is set, then shut down; the exit code (0)."""
        for slot in self.slots:
            slot.start()
        self.heartbeats.start()
        Listener(
            self.db, self.wake, self.stop, self.purge_dead_connections, self.capped.is_set
        ).start()
        log.info("worker %s ready (concurrency %d)", self.worker_id, self.concurrency)
        while not self.stop.is_set():
            self.wake.clear()
            try:
                timeout = self._tick()
            except psycopg.Error as exc:
                log.warning("database unavailable (%s); retrying", exc)
                self.purge_dead_connections()
                timeout = RETRY_AFTER_ERROR_SECONDS
            if timeout > 0:
                self.wake.wait(timeout)
        self.shutdown()
        return 0

    def purge_dead_connections(self) -> None:
        """Check every idle pool connection now and replace the dead ones. After a
        server restart the pool would otherwise find them one checkout at a time,
        backing off between each, and stall for tens of seconds."""
        try:
            self.db.pool.check()
        except Exception as exc:  # the server may still be down: the next round retries
            log.warning("pool check failed: %s", exc)

    def _tick(self) -> float:
        """One round: housekeeping, then claims; how long to sleep before the next."""
        self._housekeeping()
        free = self.concurrency - self._busy()
        if free <= 0:
            return self.settings.poll_seconds  # a finishing slot wakes us
        claimed = engine.claim_jobs(
            self.db,
            self.worker_id,
            free,
            self.settings.org_concurrency,
            self.settings.lease_seconds,
        )
        for claim in claimed:
            self._start(claim)
        if len(claimed) == free:
            self.capped.clear()
            return 0.0  # maybe more are due
        due, now = engine.next_due(self.db)
        if due is None or due <= now:
            # due but not claimable (locked, or over an organization's cap): the
            # commit that changes that notifies us; the poll covers a lost one
            if due is not None:
                self.capped.set()
            return min(self.settings.poll_seconds, SCHEDULES_EVERY_SECONDS)
        self.capped.clear()
        return min(self.settings.poll_seconds, (due - now).total_seconds())

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            for row in engine.recover_expired(self.db):
                log.warning("job %s lease expired: now %s", row["id"], row["status"])
            self._next_sweep = now + max(0.5, self.settings.lease_seconds / 4)
        if not self.stop.is_set() and now >= self._next_schedules:
            firing.fire_due_schedules(self.db, self.settings)
            self._next_schedules = now + SCHEDULES_EVERY_SECONDS
        if now >= self._next_dispatch:
            dispatch_events(self.db, self.settings)
            self._next_dispatch = now + SCHEDULES_EVERY_SECONDS
        if now >= self._next_prune:
            retention.prune_finished_jobs(self.db, self.settings)
            self._next_prune = now + RETENTION_EVERY_SECONDS

    def _busy(self) -> int:
        with self.lock:
            return len(self.running)

    def _start(self, claim: Claim) -> None:
        with self.lock:
            self.running[claim.job_id] = claim
        self.queue.put(claim)

    def _slot(self) -> None:
        claim = self.queue.get()
        while claim is not None:
            try:
                status = run_claimed(self.db, self.settings, claim, self.heartbeats)
                log.info("job %s (%s) %s", claim.job_id, claim.job_type, status)
            except Exception:
                log.exception("job %s: the worker could not record its end", claim.job_id)
            claim = self._follow(claim) or self.queue.get()

    def _follow(self, done: Claim) -> Claim | None:
        """The next job for the slot that just ran `done`, claimed by the slot itself:
        under load that saves two thread hand-offs per job. The slot stays counted as
        busy until then, so the claim loop never fills it meanwhile. None when nothing
        is claimable (the claim loop is woken to look again) or when stopping."""
        claimed: list[Claim] = []
        if not self.stop.is_set():
            try:
                claimed = engine.claim_jobs(
                    self.db,
                    self.worker_id,
                    1,
                    self.settings.org_concurrency,
                    self.settings.lease_seconds,
                )
            except psycopg.Error as exc:
                log.warning("claim after job %s failed: %s", done.job_id, exc)
        with self.lock:
            self.running.pop(done.job_id, None)
            for claim in claimed:
                self.running[claim.job_id] = claim
            self.slot_freed.notify_all()
        if claimed:
            return claimed[0]
        self.wake.set()
        return None

    def shutdown(self) -> None:
        """Let running jobs finish within the grace period, then give the rest back to
        pending at once (their transactions die with this process)."""
        grace = self.settings.shutdown_grace_seconds
        with self.lock:
            if self.running:
                log.info("stopping: up to %.0fs for %d job(s)", grace, len(self.running))
            self.slot_freed.wait_for(lambda: not self.running, timeout=grace)
            left = list(self.running.values())
        for claim in left:
            try:
                if engine.release(self.db, claim, "released at shutdown"):
                    log.info("job %s released to pending", claim.job_id)
            except psycopg.Error as exc:
                log.warning("could not release job %s (%s); its lease will", claim.job_id, exc)
        self.heartbeats.stop()
        for _ in self.slots:
            self.queue.put(None)


def run_worker(settings: Settings, concurrency: int = 1, plugins: Iterable[str] = ()) -> int:
    """Run a worker until SIGTERM/SIGINT, connected as crmferry_worker (the only role
    that may claim jobs); return the process exit code."""
    load_plugins(plugins)
    db = connect(settings, upgrade=False, role=WORKER_ROLE)
    # each slot holds a connection for its job and briefly another for progress
    db.pool_size = max(settings.db_pool_size, 2 * concurrency + 4)
    worker = Worker(db, settings, concurrency)

    def request_stop(*_: object) -> None:
        worker.stop.set()
        worker.wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    try:
        return worker.run()
    finally:
        db.close()
