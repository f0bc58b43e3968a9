"""The worker's LISTEN connection: wakes the claim loop on new, requeued, finished
and cancelled jobs and on schedule changes.

Polling stays the truth; notifications only cut latency. The listener has its
own direct connection (LISTEN does not survive transaction pooling), checks it
between waits, and reconnects after a loss. After reconnecting it wakes the loop
once, since notifications sent meanwhile are gone, and tells the worker (which
then purges its pool of connections the server dropped too).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import psycopg

from crmferry.db import Database
from crmferry.jobs.model import FINISHED

log = logging.getLogger(__name__)

JOBS_CHANNEL = "crmferry_jobs"
SCHEDULES_CHANNEL = "crmferry_schedules"
CHECK_SECONDS = 2.0
RECONNECT_SECONDS = 1.0


class Listener(threading.Thread):
    """Sets `wake` on notifications that may make work claimable, until `stopping`."""

    def __init__(
        self,
        db: Database,
        wake: threading.Event,
        stopping: threading.Event,
        on_lost: Callable[[], None] = lambda: None,
        wants_finished: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(name="listener", daemon=True)
        self.db, self.wake, self.stopping, self.on_lost = db, wake, stopping, on_lost
        self.wants_finished = wants_finished
        self.connected = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                self.connected.clear()
                log.warning("listener: %s; reconnecting", exc)
                self.on_lost()
                self.wake.set()
                self.stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with self.db.app_connect() as conn:
            conn.execute(f"LISTEN {JOBS_CHANNEL}")
            conn.execute(f"LISTEN {SCHEDULES_CHANNEL}")
            self.connected.set()
            self.wake.set()
            while not self.stopping.is_set():
                for notify in conn.notifies(timeout=CHECK_SECONDS):
                    if wakes_claimers(notify.channel, notify.payload, self.wants_finished()):
                        self.wake.set()
                conn.execute("SELECT 1")  # a silently dead connection raises here


def wakes_claimers(channel: str, payload: str, wants_finished: bool = True) -> bool:
    """New and requeued jobs and schedule changes; finished jobs only for a worker
    whose due jobs wait behind an organization's cap (a finish frees it). Never
    progress, which is most of the traffic; a worker's own slots wake it directly."""
    if channel != JOBS_CHANNEL:
        return True
    try:
        status = json.loads(payload).get("status")
    except ValueError:
        return True
    if status in FINISHED:
        return wants_finished
    return bool(status != "processing")
