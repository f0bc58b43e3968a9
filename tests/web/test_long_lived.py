"""A server process freezes what it built before its first request (`gc.freeze`), so
that full collections of the garbage collector no longer walk the modules, routes and
models: in both ways a process of `crmferry serve` builds its application."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crmferry.config import Settings
from tests.conftest import TEST_SECRET

# What the collector still tracks, and what it froze, once the application is built.
REPORT = (
    "import gc, json; print('GC ' + json.dumps([gc.get_freeze_count(), len(gc.get_objects())]))"
)

# `crmferry serve` with one process: uvicorn.run replaced by the report.
ONE_PROCESS = f"""
import sys, uvicorn
uvicorn.run = lambda *args, **kwargs: exec({REPORT!r})
from crmferry.cli import main
sys.argv = ["crmferry", "serve", "--port", "0"]
main()
"""

# Each process of `crmferry serve --processes N` builds its application this way.
EACH_OF_SEVERAL = f"""
from crmferry.web.serving import app_from_environment
app = app_from_environment()
{REPORT}
"""


def _counts(code: str, settings: Settings, data_dir: Path) -> tuple[int, int]:
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(data_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("GC ")]
    assert lines, done.stdout + done.stderr
    frozen, tracked = json.loads(lines[-1][3:])
    return int(frozen), int(tracked)


def test_one_server_process_freezes_what_it_built(settings: Settings, tmp_path: Path) -> None:
    frozen, tracked = _counts(ONE_PROCESS, settings, tmp_path)
    assert frozen > 20_000  # the modules, routes and models
    assert tracked < frozen / 10  # what a full collection still walks


def test_each_of_several_server_processes_freezes_what_it_built(
    settings: Settings, tmp_path: Path
) -> None:
    frozen, tracked = _counts(EACH_OF_SEVERAL, settings, tmp_path)
    assert frozen > 20_000
    assert tracked < frozen / 10
