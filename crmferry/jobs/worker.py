"""The worker process: connects and waits for work until told to stop."""

from __future__ import annotations

import logging
import signal
import threading

from crmferry.config import Settings
from crmferry.db import connect

log = logging.getLogger(__name__)


def run_worker(settings: Settings, concurrency: int = 1) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    db = connect(settings, upgrade=False)
    with db.anonymous() as conn:
        conn.execute("SELECT 1")
    log.info("worker ready (concurrency %d)", concurrency)
    while not stop.wait(settings.poll_seconds):
        pass
    db.close()
    return 0
