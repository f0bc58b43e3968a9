"""Validation tells which rows would leave their record as it is (`unchanged`), and
the write rewrites exactly the others.

The write trusts that column without joining the records again, so it must agree
with what the write itself would find: with the dry run's count of rows equal to
their records (taken from a fresh join), and with the records the write then
changes. Files mix unchanged, changed, new, blank and repeated rows, matched by
key or by id, under both blank-cell rules and with or without defaults on update.
"""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmferry.db import Conn, Database
from crmferry.imports import merge, staging, validate
from crmferry.imports.options import ImportOptions
from crmferry.records import CONTACTS
from tests.conftest import Org

FIELDS = ["name", "email", "phone", "company", "status"]
EMAILS = [f"p{n}@example.com" for n in range(6)]
EXISTING = [
    ["Ann", EMAILS[0], "555-010-0001", "Acme", "lead"],
    ["Bob", EMAILS[1], "", "Ray Co", "active"],
    ["Cy", EMAILS[2], "555-010-0003", "", "inactive"],
    ["Di", EMAILS[3], "", "", "active"],
]
OTHER = ["Eve", EMAILS[4], "555-010-0009", "Other Co", "inactive"]
# a row: an existing record's cells (or a new one's), each kept, blanked, or changed;
# the e-mail may be upper-cased (the same key); and an id column's cell
ROW = st.tuples(
    st.sampled_from([*EXISTING, OTHER]),
    st.lists(
        st.sampled_from(["same", "same", "same", "blank", "other", "upper"]),
        min_size=len(FIELDS),
        max_size=len(FIELDS),
    ),
    st.sampled_from(["none", "own", "own", "first"]),  # no id, its record's, Ann's
)


def _cells(base: list[str], changes: list[str]) -> list[str]:
    cells = []
    for n, (cell, change) in enumerate(zip(base, changes, strict=True)):
        if change == "blank":
            cell = ""
        elif change == "other":
            cell = OTHER[n]
        elif change == "upper":
            cell = cell.upper() if FIELDS[n] == "email" else cell
        cells.append(cell)
    return cells


def _id(ids: list[str], base: list[str], named: str) -> str:
    if named == "first":
        return ids[0]
    if named == "own" and base in EXISTING:
        return ids[EXISTING.index(base)]
    return ""


class _Rollback(Exception):
    pass


def _import(
    conn: Conn, fields: list[str], rows: list[list[str]], options: ImportOptions
) -> tuple[validate.RowsPlan, merge.Counts]:
    staged = validate.staged_fields(fields, options)
    numbered = [(n + 2, cells + [""] * (len(staged) - len(fields))) for n, cells in enumerate(rows)]
    staging.create_raw_table(conn, staged)
    staging.copy_rows(conn, staged, list(range(len(staged))), numbered, lambda _: None)
    plan = validate.build_rows(conn, CONTACTS, fields, options)
    return plan, merge.count_rows(conn)


def test_unchanged_rows_are_those_the_write_leaves_alone(db: Database, org: Org) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(ROW, min_size=1, max_size=10),
        st.sampled_from(["clear", "keep"]),
        st.booleans(),
        st.sampled_from(["upsert", "update"]),
    )
    # a blank key kept, the record named by its id; a changed key, by id; a blank kept
    @example(
        [(EXISTING[0], ["same", "blank", "same", "same", "same"], "own")], "keep", False, "upsert"
    )
    @example(
        [(EXISTING[1], ["same", "other", "same", "same", "same"], "own")], "keep", False, "upsert"
    )
    @example(
        [(EXISTING[2], ["same", "upper", "blank", "same", "same"], "none")], "keep", True, "update"
    )
    def check(
        rows: list[tuple[list[str], list[str], str]], blank: str, on_update: bool, mode: str
    ) -> None:
        try:
            with db.tenant(org.id) as conn:
                first = ImportOptions(mode="insert")
                plan, counts = _import(conn, FIELDS, [list(r) for r in EXISTING], first)
                merge.write_rows(conn, plan, first, uuid.uuid4(), counts)
                ids = [
                    str(
                        conn.execute("SELECT id FROM contacts WHERE email = %s", [e]).fetchone()[
                            "id"
                        ]
                    )  # type: ignore[index]
                    for e in EMAILS[:4]
                ]
                by_id = any(r[2] != "none" for r in rows)
                fields = [*FIELDS, "id"] if by_id else FIELDS
                cells = [
                    [*_cells(base, changes), _id(ids, base, named)][: len(fields)]
                    for base, changes, named in rows
                ]
                options = ImportOptions(
                    mode=mode,  # type: ignore[arg-type]
                    blank_cells=blank,  # type: ignore[arg-type]
                    defaults={"company": "Defaulted"},
                    defaults_on_update=on_update,
                )
                plan, counts = _import(conn, fields, cells, options)
                judged = conn.execute(
                    "SELECT count(*) FILTER (WHERE unchanged) AS same,"
                    "       count(*) FILTER (WHERE unchanged AND target_id IS NULL) AS unmatched,"
                    "       array_agg(target_id::text) FILTER (WHERE NOT unchanged"
                    "                 AND target_id IS NOT NULL) AS changing"
                    "  FROM import_rows WHERE cardinality(errors) = 0"
                ).fetchone()
                assert judged is not None
                _new, _changed, same = merge._plan_counts(conn, plan)
                assert judged["same"] == same
                assert judged["unmatched"] == 0
                job = uuid.uuid4()
                merge.write_rows(conn, plan, options, job, counts)
                assert counts.unchanged == same
                rewritten = conn.execute(
                    "SELECT array_agg(id::text) AS ids FROM contacts"
                    " WHERE import_job_id = %s AND id = ANY(%s::uuid[])",
                    [job, ids],
                ).fetchone()
                assert rewritten is not None
                assert sorted(rewritten["ids"] or []) == sorted(judged["changing"] or [])
                raise _Rollback
        except _Rollback:
            pass

    check()
