"""What every benchmark needs around its measurements: a scratch database on a real
PostgreSQL, a stand-in for the worker's job context, and the peak RSS of a process.

Benchmarks import this by name (`bench/` is the script's own folder, first on
`sys.path`, in the spawned children too).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from crmferry.storage import job_prefix, store_for

SECRET = "bench-secret-key-not-for-production-000000000000"


@dataclass(frozen=True)
class Server:
    """The scratch database's URL (its owner role) and how the server was found."""

    url: str
    embedded: bool
    version: str


@contextmanager
def scratch_database(prefix: str) -> Iterator[Server]:
    """A database of its own on DATABASE_URL's server, or on an embedded PostgreSQL
    started in a temporary folder; dropped (and the embedded server stopped) after."""
    from crmferry.db.embedded import start_embedded, stop_embedded
    from crmferry.db.urls import with_database

    given = os.environ.get("DATABASE_URL")
    folder = None
    if given:
        server = given
    else:
        # the embedded server's lock file lives here and is touched again at exit:
        # one lasting folder rather than a leftover per run
        os.environ.setdefault(
            "XDG_RUNTIME_DIR", f"{tempfile.gettempdir()}/crmferry-run-{os.getuid()}"
        )
        folder = Path(tempfile.mkdtemp(prefix=f"crmferry-bench-{prefix}-pg-"))
        server = start_embedded(folder)
    name = f"crmferry_bench_{prefix}_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    try:
        yield Server(with_database(server, name), folder is not None, version)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if folder is not None:
            stop_embedded(folder)
            shutil.rmtree(folder, ignore_errors=True)


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Any:
    """The service's Settings for a benchmark's scratch database and data folder."""
    from crmferry.config import Settings

    return Settings(database_url=database_url, data_dir=data_dir, secret_key=SECRET, **overrides)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (ru_maxrss), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class BenchJobContext:
    """The worker's JobContext for a job run by hand: progress is not reported (the
    worker throttles it to about once a second; its cost is not what is measured)."""

    job: dict[str, Any]
    conn: Any
    db: Any
    settings: Any

    @property
    def job_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.job["id"]))

    @property
    def organization_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.job["organization_id"]))

    def progress(self, done: int, total: int | None = None) -> None:
        pass

    def check(self) -> None:
        pass

    def files_dir(self) -> Path:
        prefix = job_prefix(self.organization_id, self.job_id)
        return store_for(self.settings).staging_dir(prefix)

    def file_key(self, name: str) -> str:
        return f"{job_prefix(self.organization_id, self.job_id)}/{name}"
