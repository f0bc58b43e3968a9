"""Browser tests: the real server and a worker as subprocesses, Debian's Chromium via Playwright.

Never downloads a browser. Without /usr/bin/chromium the browser tests fail on CI
(CI=true) and are skipped with a message elsewhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmferry.accounts.auth import open_session
from crmferry.db import Database
from crmferry.web.deps import SESSION_COOKIE
from tests.conftest import TEST_SECRET, Member, Org

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# short enough that a scheduled job runs within the test, long enough to be a real rule
MIN_LEAD_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)."
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class LiveServer:
    url: str
    log_path: Path


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "crmferry", *args], env=env, stdout=handle, stderr=handle
    )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start: {log.read_text()[-3000:]}")


# package scope: the worker stops when the browser tests end, so it never claims
# the jobs that later test packages run with their own in-process runners
@pytest.fixture(scope="package")
def live_server(database_url: str, data_dir: Path, db: Database) -> Iterator[LiveServer]:
    """`crmferry serve` and `crmferry worker` on the session's database (migrated by `db`)."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    env = {
        **os.environ,
        "CRMFERRY_BASE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": database_url,
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(data_dir),
        "CRMFERRY_MIN_LEAD_SECONDS": str(MIN_LEAD_SECONDS),
        "CRMFERRY_POLL_SECONDS": "1",
        "CRMFERRY_OUTBOUND_ALLOW": "127.0.0.1",
    }
    server_log, worker_log = ARTIFACTS / "server.log", ARTIFACTS / "worker.log"
    server = _spawn(["serve", "--port", str(port)], env, server_log)
    worker = _spawn(["worker"], env, worker_log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server, server_log)
        yield LiveServer(url, server_log)
    finally:
        for process in (worker, server):
            process.terminate()
        for process in (worker, server):
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


NewPage = Callable[..., Any]


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer, db: Database) -> Iterator[NewPage]:
    """Factory: a page in a fresh context, signed in as `member` of `org` when given."""
    contexts: list[Any] = []

    def make(
        org: Org | None = None,
        member: Member | None = None,
        timezone_id: str | None = None,
    ) -> Any:
        options: dict[str, Any] = {
            "base_url": live_server.url,
            "viewport": {"width": 1280, "height": 900},
            "accept_downloads": True,
        }
        if timezone_id:
            options["timezone_id"] = timezone_id
        context = browser.new_context(**options)
        context.set_default_timeout(20_000)
        contexts.append(context)
        if org is not None and member is not None:
            secret = open_session(db, org.id, member.user_id, timedelta(hours=1))
            context.add_cookies([{"name": SESSION_COOKIE, "value": secret, "url": live_server.url}])
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page in test-artifacts/ (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
