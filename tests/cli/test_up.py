"""`crmferry up` on a fresh data dir: embedded PostgreSQL, demo login, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "crmferry up exited early"
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("crmferry up did not become ready")


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may be slow to reap daemons)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_up_serves_login_prints_demo_login_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.pop("CRMFERRY_SECRET_KEY", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crmferry",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        assert "Sign in" in httpx.get(url + "/login").text
        # the CLI on the same data dir reuses the running embedded server
        created = subprocess.run(
            [sys.executable, "-m", "crmferry", "orgs", "create", "Shared Org"],
            env={**env, "CRMFERRY_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        assert len(created.stdout.strip()) == 36
        pid_file = tmp_path / "postgres" / "postmaster.pid"
        assert pid_file.exists()
        pg_pid = int(pid_file.read_text().split()[0])
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "admin@demo.example" in err and "password:" in err
    password = err.split("password:")[1].split()[0]
    assert len(password) >= 12
    # embedded PostgreSQL was stopped with everything else
    assert not pid_file.exists()
    assert not _running(pg_pid)


def test_second_start_keeps_data_and_creates_no_second_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    outputs = []
    for _ in range(2):
        port = _free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crmferry",
                "up",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path),
                "--workers",
                "0",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            outputs.append(proc.communicate(timeout=60)[1])
        assert proc.returncode == 0, outputs[-1]
    assert "admin@demo.example" in outputs[0]
    assert "admin@demo.example" not in outputs[1]
