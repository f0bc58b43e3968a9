"""The database edge: a pool of application-role connections and tenant transactions."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from crmferry.config import Settings
from crmferry.db import migrate
from crmferry.db.embedded import start_embedded
from crmferry.db.urls import app_role_password, app_url

Conn = psycopg.Connection[dict[str, Any]]


@dataclass
class Database:
    """Both connection strings and the lazily opened application pool."""

    owner_url: str
    app_url: str
    pool_size: int = 10
    _pool: ConnectionPool[Conn] | None = field(default=None, repr=False)

    @property
    def pool(self) -> ConnectionPool[Conn]:
        if self._pool is None:
            self._pool = ConnectionPool(
                self.app_url,
                min_size=1,
                max_size=self.pool_size,
                kwargs={"autocommit": True, "row_factory": dict_row},
                open=True,
                check=ConnectionPool.check_connection,
            )
        return self._pool

    @contextmanager
    def tenant(self, organization_id: UUID | str) -> Iterator[Conn]:
        """One transaction that sees only `organization_id`'s rows (RLS)."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "SELECT set_config('app.current_organization_id', %s, true)",
                [str(organization_id)],
            )
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
        """A direct application-role connection outside the pool (LISTEN, long jobs)."""
        return psycopg.connect(self.app_url, autocommit=True, row_factory=dict_row)

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


def connect(settings: Settings, upgrade: bool = False) -> Database:
    """The Database for these settings; with `upgrade`, migrations are applied first."""
    secret = ensure_secret_key(settings)
    url = owner_url(settings)
    password = app_role_password(secret, settings.app_db_password)
    if upgrade:
        migrate.upgrade(url, password)
    return Database(url, app_url(url, password), pool_size=settings.db_pool_size)
