"""`crmferry serve --processes 2`: two server processes share the port, each with its
own connection pool; each answers the API alone when the other is killed, and a killed
one is replaced."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from crmferry.config import Settings
from tests.conftest import TEST_SECRET, Org


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(process: psutil.Process, port: int) -> bool:
    try:
        sockets = process.net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets)


def _servers(parent: psutil.Process, port: int) -> list[psutil.Process]:
    """The parent's children that listen on the port."""
    return [child for child in parent.children() if _listening(child, port)]


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.3)


def _all_answer(url: str, headers: dict[str, str]) -> None:
    """Twenty API requests on new connections, each answered (a connection the dying
    process had accepted may fail once: it is tried again)."""
    for _ in range(20):
        for attempt in range(3):
            try:
                answer = httpx.get(url + "/api/v1/jobs", headers=headers, timeout=10)
                break
            except httpx.HTTPError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"] == []


def test_two_server_processes_share_the_port_and_both_answer(
    settings: Settings, org: Org, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(tmp_path),
        "CRMFERRY_ALLOWED_HOSTS": "127.0.0.1",
    }
    log = (tmp_path / "serve.log").open("ab")
    command = [sys.executable, "-m", "crmferry", "serve", "--port", str(port), "--processes", "2"]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 90
        while len(_servers(parent, port)) < 2:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "two server processes never listened"
            time.sleep(0.3)
        headers = {"Authorization": f"Bearer {org.member.token}"}
        _wait_ready(url)
        first, second = _servers(parent, port)
        # with one process killed the other answers alone, and the killed one is replaced
        first.kill()
        _all_answer(url, headers)
        while len(_servers(parent, port)) < 2 or first in _servers(parent, port):
            assert time.monotonic() < deadline + 60, "the killed process was not replaced"
            time.sleep(0.3)
        replacement = next(p for p in _servers(parent, port) if p.pid != second.pid)
        _wait_ready(url)
        second.kill()  # now the replacement answers alone
        _all_answer(url, headers)
        assert replacement.is_running()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode is not None
