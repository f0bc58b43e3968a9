"""Reading COPY data: every row exactly, at chunk boundaries, and an error in the middle
of a COPY raised with the connection left usable."""

from __future__ import annotations

import io
from collections.abc import Callable
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from crmferry.db import Database
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.exports.streams import CopyStream, copy_into_files


def test_an_error_in_the_middle_of_copy_is_raised(
    db: Database, new_org: Callable[[], UUID]
) -> None:
    org = new_org()
    failing = sql.SQL("COPY (SELECT 10 / (3 - g) FROM generate_series(1, 5) AS g) TO STDOUT")
    out = io.BytesIO()
    with (
        pytest.raises(psycopg.errors.DivisionByZero),
        snapshot_transaction(db, org) as conn,
        conn.cursor() as cur,
        cur.copy(failing),
    ):
        copy_into_files([CopyStream(conn.pgconn, out)], lambda _: None, 1)
    assert out.getvalue() in (b"", b"5\n", b"5\n10\n")  # what arrived before the error
    with db.tenant(org) as conn:  # the pool's connection is usable again
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_copy_rows_are_read_exactly(db: Database, new_org: Callable[[], UUID]) -> None:
    statement = sql.SQL(
        "COPY (SELECT g, repeat('x', g) FROM generate_series(1, 3000) AS g) TO STDOUT"
    )
    out, calls = io.BytesIO(), []
    with snapshot_transaction(db, new_org()) as conn, conn.cursor() as cur, cur.copy(statement):
        count = copy_into_files([CopyStream(conn.pgconn, out)], calls.append, 700)
    assert count == 3000 and calls == [700, 1400, 2100, 2800, 3000]
    assert out.getvalue() == b"".join(f"{g}\t{'x' * g}\n".encode() for g in range(1, 3001))
