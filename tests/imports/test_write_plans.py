"""The write never searches the table it is filling.

An upsert's rows were once matched to records inside the INSERT (an anti-join on
the natural key). Planned as a nested loop over a sequential scan, which PostgreSQL
chooses when the table is empty and freshly vacuumed, each row rescanned every row
inserted before it: quadratic. Now validation resolves each row's record first, so
the INSERT of new rows reads the target table not at all. Here the planner is left
no other join than that nested loop, and the executed plan must not touch the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql

from crmferry.db import Conn, Database
from crmferry.imports import merge, staging, validate
from crmferry.imports.options import ImportOptions
from crmferry.records import CONTACTS
from tests.conftest import Org

ROWS = 500
WORST_PLANS = (
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;"
    " SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off;"
    " SET LOCAL enable_bitmapscan = off; SET LOCAL enable_material = off"
)


class _Rollback(Exception):
    pass


def _scans_of(node: dict[str, Any], table: str) -> Iterator[dict[str, Any]]:
    if node.get("Relation Name") == table and node["Node Type"] != "ModifyTable":
        yield node
    for child in node.get("Plans", []):
        yield from _scans_of(child, table)


def test_an_upsert_of_new_rows_never_scans_the_table_it_fills(
    db: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans: list[dict[str, Any]] = []
    real_run = merge._run

    def explained(conn: Conn, statement: str, parts: dict[str, sql.Composable]) -> tuple[int, int]:
        if statement is not merge.INSERT_ROWS:
            return real_run(conn, statement, parts)
        conn.execute(WORST_PLANS)
        query = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + merge._compose(statement, parts)
        row = conn.execute(query).fetchone()
        assert row is not None
        plans.append(next(iter(row.values()))[0]["Plan"])
        written = conn.execute("SELECT count(*) AS n FROM contacts WHERE import_job_id = %s", [job])
        return written.fetchone()["n"], 0  # type: ignore[index]

    monkeypatch.setattr(merge, "_run", explained)
    job = uuid.uuid4()
    options = ImportOptions(mode="upsert")
    fields = ["name", "email"]
    cells = [(n + 2, [f"P{n}", f"p{n}@example.com"]) for n in range(ROWS)]
    try:
        with db.tenant(org.id) as conn:
            # records of this organization already there, not matched by the file
            conn.execute(
                "INSERT INTO contacts (organization_id, name, email)"
                " SELECT crmferry_current_org(), 'Old', 'old' || g || '@example.com'"
                " FROM generate_series(1, 200) AS g"
            )
            staging.create_raw_table(conn, fields)
            staging.copy_rows(conn, fields, [0, 1], cells, lambda _: None)
            plan = validate.build_rows(conn, CONTACTS, fields, options)
            counts = merge.write_rows(conn, plan, options, job, merge.count_rows(conn))
            assert counts.inserted == ROWS and counts.updated == 0
            raise _Rollback
    except _Rollback:
        pass
    assert len(plans) == 1
    executed = [s for s in _scans_of(plans[0], "contacts") if s["Actual Loops"] > 0]
    assert executed == []
