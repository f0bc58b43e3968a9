"""LISTEN for job and schedule changes, to wake the worker's claim loop early.

Polling stays the truth: this only cuts latency. The listener has its own
direct connection (LISTEN does not survive transaction pooling), checks it
between waits, and reconnects after a drop; after reconnecting it wakes the
loop once, since notifications sent meanwhile are lost.
"""

from __future__ import annotations

import json
import logging
import threading

import psycopg

from crmferry.db import Database

log = logging.getLogger(__name__)

JOBS_CHANNEL = "crmferry_jobs"
SCHEDULES_CHANNEL = "crmferry_schedules"
CHECK_SECONDS = 2.0


class Listener(threading.Thread):
    def __init__(self, db: Database, wake: threading.Event, stopping: threading.Event) -> None:
        super().__init__(name="listener", daemon=True)
        self.db = db
        self.wake = wake
        self.stopping = stopping
        self.connected = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                self.connected.clear()
                log.warning("listener: %s; reconnecting", exc)
                self.stopping.wait(1.0)

    def _listen(self) -> None:
        with self.db.app_connect() as conn:
            conn.execute(f"LISTEN {JOBS_CHANNEL}")
            conn.execute(f"LISTEN {SCHEDULES_CHANNEL}")
            self.connected.set()
            self.wake.set()
            while not self.stopping.is_set():
                for notify in conn.notifies(timeout=CHECK_SECONDS):
                    if _wakes_claimers(notify.channel, notify.payload):
                        self.wake.set()
                conn.execute("SELECT 1")  # a silently dead connection raises here


def _wakes_claimers(channel: str, payload: str) -> bool:
    """New or requeued jobs and finished ones (a slot or an organization's cap frees);
    not progress, which is most of the traffic."""
    if channel != JOBS_CHANNEL:
        return True
    try:
        return bool(json.loads(payload).get("status") != "processing")
    except ValueError:
        return True
