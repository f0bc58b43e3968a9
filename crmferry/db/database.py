"""The database edge: a pool of application-role connections and tenant transactions.

The web process and the CLI connect as `crmferry_app`, the workers as
`crmferry_worker` (which alone may claim jobs and run the engine's other functions);
migrations and operator commands as the owner."""

from __future__ import annotations

import contextlib
import secrets
import select
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from crmferry.config import Settings
from crmferry.db import migrate
from crmferry.db.embedded import start_embedded
from crmferry.db.json_values import parse_json_with_pydantic_core
from crmferry.db.urls import APP_ROLE, ROLES, WORKER_ROLE, role_password, role_url

Conn = psycopg.Connection[dict[str, Any]]

parse_json_with_pydantic_core()

# No parameters: a simple query, so both statements travel together.
TENANT_BEGIN = sql.SQL("BEGIN; SELECT set_config('app.current_organization_id', {}, true)")


@dataclass
class Database:
    """Both connection strings and the lazily opened pool of the application role this
    process connects as (`app_url`: crmferry_app's, or crmferry_worker's in a worker)."""

    owner_url: str
    app_url: str
    pool_size: int = 10
    # server settings of every connection (`-c name=value ...`): the engine's rules
    # that run inside the database read them (crmferry.schedule_max_failures)
    session_options: str = ""
    _pool: ConnectionPool[Conn] | None = field(default=None, repr=False)

    @property
    def pool(self) -> ConnectionPool[Conn]:
        if self._pool is None:
            self._pool = ConnectionPool(
                self.app_url,
                min_size=1,
                max_size=self.pool_size,
                kwargs={
                    "autocommit": True,
                    "row_factory": dict_row,
                    "options": self.session_options,
                },
                open=True,
                check=check_idle_connection,
            )
        return self._pool

    @contextmanager
    def tenant(self, organization_id: UUID | str) -> Iterator[Conn]:
        """One transaction that sees only `organization_id`'s rows (RLS).

        BEGIN and the organization go in one round trip (a job's whole transaction
        may be three); `conn.transaction()` blocks inside it are savepoints.
        """
        begin = TENANT_BEGIN.format(sql.Literal(str(UUID(str(organization_id)))))
        with self.pool.connection() as conn:
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(psycopg.Error):  # a broken one: the pool drops it
                    conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def autocommit(self) -> Iterator[Conn]:
        """A pooled connection with no organization where each statement is its own
        transaction: for single calls of the SECURITY DEFINER engine functions."""
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def anonymous(self) -> Iterator[Conn]:
        """A transaction with no organization: only the authentication functions answer."""
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    def owner_connect(self) -> Conn:
        """A direct owner connection, for migrations and operator commands."""
        return psycopg.connect(self.owner_url, autocommit=True, row_factory=dict_row)

    def app_connect(self) -> Conn:
        """A direct connection as this process's application role, outside the pool
        (LISTEN, an export's second stream)."""
        return psycopg.connect(
            self.app_url, autocommit=True, row_factory=dict_row, options=self.session_options
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def ensure_secret_key(settings: Settings) -> str:
    """The configured secret key, or one generated once and kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir.resolve() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    settings.secret_key = path.read_text().strip()
    return settings.secret_key


def owner_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's URL (started here if needed)."""
    return settings.database_url or start_embedded(settings.data_dir)


def role_passwords(settings: Settings) -> dict[str, str]:
    """Each application role's password: CRMFERRY_APP_DB_PASSWORD and
    CRMFERRY_WORKER_DB_PASSWORD, or derived from the secret key."""
    secret = ensure_secret_key(settings)
    explicit = {APP_ROLE: settings.app_db_password, WORKER_ROLE: settings.worker_db_password}
    return {role: role_password(secret, role, explicit[role]) for role in ROLES}


def connect(settings: Settings, upgrade: bool = False, role: str = APP_ROLE) -> Database:
    """The Database for these settings, connecting as `role` (crmferry_app, or
    crmferry_worker for a worker); with `upgrade`, migrations are applied first."""
    passwords = role_passwords(settings)
    url = owner_url(settings)
    if upgrade:
        migrate.upgrade(url, passwords)
    return Database(
        url,
        role_url(url, role, passwords[role]),
        pool_size=settings.db_pool_size,
        session_options=session_options(settings),
    )


def session_options(settings: Settings) -> str:
    """The server settings each connection carries: CRMFERRY_SCHEDULE_MAX_FAILURES for the
    outbox trigger that pauses a schedule failing too often (0070_outbox.sql)."""
    return f"-c crmferry.schedule_max_failures={settings.schedule_max_failures}"


def check_idle_connection(conn: Conn) -> None:
    """The pool's check on checkout, without a round trip in the usual case.

    An idle connection has nothing to read; one whose socket is readable holds a
    notice, or the end of a connection the server dropped (a restart): only then
    is it checked with a query, and the pool replaces it if that fails.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)
