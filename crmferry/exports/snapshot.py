"""The transaction an export reads from: one snapshot, one organization.

An export file must show the data as it was at one instant, even while imports write
the same tables: the whole file is read inside one REPEATABLE READ, READ ONLY
transaction. Times come out in UTC and dates as ISO (`YYYY-MM-DD`) whatever the
server's defaults, so files do not depend on where PostgreSQL runs.

A large CSV export reads its two halves on two connections at once: the second one
imports the first one's snapshot (`pg_export_snapshot()` / `SET TRANSACTION SNAPSHOT`,
as `pg_dump -j` does), so both see exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

import psycopg
from psycopg import IsolationLevel, sql

from crmferry.db import Conn, Database


@contextmanager
def snapshot_transaction(db: Database, organization_id: UUID | str) -> Iterator[Conn]:
    """A pool connection in a REPEATABLE READ, READ ONLY transaction that sees only
    `organization_id`'s rows (RLS), with UTC and ISO dates; committed on exit.

    The pool connection's isolation level and read-only flag are restored afterwards.
    """
    with db.pool.connection() as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction():
                prepare_snapshot(conn, organization_id)
                yield conn
        finally:
            _restore(conn)


EXPORT_SNAPSHOT = """
SELECT pg_export_snapshot() AS snapshot,
       current_setting('app.current_organization_id') AS organization_id
"""

# No parameters: a simple query, so both statements travel together. The snapshot must
# be set before the transaction's first query.
FOLLOW_SNAPSHOT = sql.SQL(
    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {}"
)


@contextmanager
def shared_snapshot(conn: Conn, connect: Callable[[], Conn]) -> Iterator[Conn]:
    """A second connection that sees exactly what `conn` sees: a new connection from
    `connect` (an autocommit application-role connection, such as
    `Database.app_connect`) in a REPEATABLE READ, READ ONLY transaction that imports
    the snapshot of `conn`'s snapshot transaction, with the same organization and
    settings (`prepare_snapshot`). Closed on exit; `conn` must stay in its
    transaction meanwhile (an exported snapshot lives as long as it).
    """
    row = conn.execute(EXPORT_SNAPSHOT).fetchone()
    assert row is not None
    second = connect()
    try:
        second.execute(FOLLOW_SNAPSHOT.format(sql.Literal(row["snapshot"])))
        prepare_snapshot(second, row["organization_id"])
        yield second
    finally:
        second.close()  # a read-only transaction: closing ends it


def _restore(conn: Conn) -> None:
    """Give the pool its connection back as it was; one that cannot be reset (broken
    mid-export) is closed, and the pool replaces it."""
    try:
        conn.isolation_level = None
        conn.read_only = None
    except psycopg.Error:
        conn.close()


def prepare_snapshot(conn: Conn, organization_id: UUID | str) -> None:
    """Set the organization, UTC, ISO dates and a serial plan for the rest of the
    transaction.

    In a REPEATABLE READ transaction the first statement fixes the snapshot; this one
    reads no data, so whatever runs next sees the database as of this instant.
    Parallel plans are off: an export streams rows in index order, and the planner,
    seeing the per-row cost of formula neutralisation or JSON, picks a Gather Merge
    that moves every wide row between processes and measured slower than a plain
    index scan (and a worker's cores are shared with the process writing the file).
    """
    conn.execute(
        "SELECT set_config('app.current_organization_id', %s, true),"
        " set_config('TimeZone', 'UTC', true),"
        " set_config('DateStyle', 'ISO, YMD', true),"
        " set_config('IntervalStyle', 'iso_8601', true),"
        " set_config('max_parallel_workers_per_gather', '0', true)",
        [str(organization_id)],
    )
