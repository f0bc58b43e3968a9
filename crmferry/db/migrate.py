"""Numbered SQL migrations (`migrations/NNNN_name.sql`), each applied once, in order.

Plain SQL rather than Alembic: the schema is SQL-first (RLS policies, SECURITY
DEFINER functions, partial indexes) and there is no ORM to generate it from.
Concurrent runners serialise on an advisory lock, so `up` and a `worker`
starting together apply each file exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from crmferry.db.urls import ROLES

MIGRATION_LOCK = 0x43524D46  # "CRMF"

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS crmferry_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration file shipped with the package, in version order."""
    folder = resources.files("crmferry.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def _first(row: object) -> Any:
    """The first column of a row, whatever the connection's row factory."""
    if row is None:
        return None
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row[0]  # type: ignore[index]


def applied_versions(conn: psycopg.Connection[Any]) -> set[int]:
    exists = conn.execute("SELECT to_regclass('crmferry_migrations') IS NOT NULL").fetchone()
    if not _first(exists):
        return set()
    return {_first(row) for row in conn.execute("SELECT version FROM crmferry_migrations")}


def upgrade(owner_url: str, passwords: Mapping[str, str]) -> list[str]:
    """Apply pending migrations as the owner, after making sure each application role
    exists with its password (`passwords` by role); the names applied (empty: up to date)."""
    applied_now: list[str] = []
    with psycopg.connect(owner_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        for role in ROLES:
            _ensure_role(conn, role, passwords[role])
        conn.execute(CREATE_LEDGER)
        done = applied_versions(conn)
        for migration in available_migrations():
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO crmferry_migrations (version, name) VALUES (%s, %s)",
                    [migration.version, migration.name],
                )
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    return applied_now


def is_current(conn: psycopg.Connection[Any]) -> bool:
    """True when every shipped migration has been applied (for /readyz)."""
    wanted = {m.version for m in available_migrations()}
    cur = conn.execute("SELECT crmferry_schema_versions() AS versions")
    versions = cur.fetchone()
    applied = _first(versions)
    return wanted <= set(applied or [])


def _ensure_role(conn: psycopg.Connection[Any], name: str, password: str) -> None:
    """A login role of the application: owns nothing, never bypasses RLS. What it may
    do is granted by the migrations (crmferry_worker is a member of crmferry_app, and
    only it may run the engine's functions)."""
    role = sql.Identifier(name)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    # (CREATE ROLE takes no bound parameters: the password goes in as a quoted literal)
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}"
        ).format(role, sql.Literal(password))
    )
    dbname = conn.info.dbname
    conn.execute(
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(dbname), role
        )
    )
