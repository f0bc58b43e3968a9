"""Write the good staged rows set-based, logging every change.

Each statement is a chain of data-modifying CTEs: the write, then the change
log (`import_changes`), then the counts. Rows whose values would not change are
not rewritten and count as unchanged: validation marked them (`unchanged`, against
the record as it read it), and the write compares the others again with the record
as it finds it (`IS DISTINCT FROM`). Rows meet their
records by primary key: validation resolved each row's natural key to its
record (`target_id`) before any write.

The log keeps an update's previous values (jsonb, read from the snapshot the
write started from), one row per record, and an insert's new ids in lists of up
to 100 (`record_ids`): a log row per inserted record cost a fifth of a fresh
million-row import.

An upsert is an UPDATE of the records that change, then a plain INSERT of the rows
that match none: `INSERT … ON CONFLICT` pays for a speculative insertion on every
row (about a fifth of a fresh million-row write). Should another transaction
insert one of the same keys in between, the INSERT fails on the unique index, is
rolled back to its savepoint, and the `ON CONFLICT` form writes those rows instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.options import ImportOptions
from crmferry.imports.validate import ORG, ROWS_TABLE, RowsPlan
from crmferry.records import TEXT_LIKE, DataType

_ROW_COUNTS = """
SELECT count(*) AS total, count(*) FILTER (WHERE cardinality(errors) > 0) AS bad
  FROM {rows}
"""

# What each good row would do: be new, change a record, or match it exactly.
_PLAN_COUNTS = """
SELECT count(*) FILTER (WHERE t.id IS NULL) AS new,
       count(*) FILTER (WHERE t.id IS NOT NULL AND ({old}) IS DISTINCT FROM ({new})) AS changed,
       count(*) FILTER (WHERE t.id IS NOT NULL AND ({old}) IS NOT DISTINCT FROM ({new})) AS same
  FROM {rows} AS r LEFT JOIN {table} AS t ON {match}
 WHERE cardinality(r.errors) = 0
"""

# The change log of the rows a write names `written` (its CTE), and the counts: the two
# CTEs every write statement below ends with, in the same WITH.
LOG_CHANGES = """
logged_inserts AS (
    INSERT INTO import_changes (organization_id, job_id, data_type, action, record_ids)
    SELECT {org}, {job}, {data_type}, 'insert', array_agg(id)
      FROM (SELECT id, (row_number() OVER () - 1) / 100 AS chunk
              FROM written WHERE inserted) AS new
     GROUP BY chunk
    RETURNING cardinality(record_ids) AS records
),
logged_updates AS (
    INSERT INTO import_changes (organization_id, job_id, data_type, record_id, action, previous)
    SELECT {org}, {job}, {data_type}, w.id, 'update',
           -- one primary-key lookup per updated row, in the snapshot from before the write
           (SELECT to_jsonb(old) FROM {table} AS old WHERE old.id = w.id)
      FROM written AS w
     WHERE NOT w.inserted
    RETURNING 1
)
SELECT (SELECT coalesce(sum(records), 0) FROM logged_inserts)::bigint AS inserted,
       (SELECT count(*) FROM logged_updates) AS updated
"""

UPSERT_ROWS = """
WITH written AS (
    INSERT INTO {table} AS t (organization_id, {insert_columns}, import_job_id)
    SELECT {org}, {values}, {job} FROM {rows} AS r
     WHERE cardinality(r.errors) = 0 {not_same}
    ON CONFLICT {conflict} DO UPDATE
       SET {assignments}, updated_at = now(), import_job_id = excluded.import_job_id,
           changed_xid = pg_current_xact_id()
     WHERE ({old}) IS DISTINCT FROM ({excluded})
    RETURNING t.id, (t.xmax = 0) AS inserted
), {log_changes}
"""

# {only_new}: for an upsert, the rows that match no record
INSERT_ROWS = """
WITH written AS (
    INSERT INTO {table} AS t (organization_id, {insert_columns}, import_job_id)
    SELECT {org}, {values}, {job} FROM {rows} AS r
     WHERE cardinality(r.errors) = 0 {only_new}
    RETURNING t.id, true AS inserted
), {log_changes}
"""

# (a matched record that another transaction deleted since is inserted again, unless
# the row left it unchanged: the import then counts as done before that delete)
_ONLY_NEW = """
AND (r.target_id IS NULL
     OR (NOT r.unchanged
         AND NOT EXISTS (SELECT FROM {table} AS same WHERE same.id = r.target_id)))
"""

UPDATE_ROWS = """
WITH written AS (
    UPDATE {table} AS t
       SET {from_rows}, updated_at = now(), import_job_id = {job},
           changed_xid = pg_current_xact_id()
      FROM {rows} AS r
     WHERE cardinality(r.errors) = 0 AND NOT r.unchanged AND {match}
       AND ({old}) IS DISTINCT FROM ({new})
    RETURNING t.id, false AS inserted
), {log_changes}
"""


@dataclass
class Counts:
    """The job's counts, as the API shows them, plus the rows read."""

    total: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def count_rows(conn: Conn) -> Counts:
    """Rows staged and rows with at least one error."""
    row = conn.execute(sql.SQL(_ROW_COUNTS).format(rows=sql.Identifier(ROWS_TABLE))).fetchone()
    assert row is not None
    return Counts(total=row["total"], failed=row["bad"])


def preview_counts(conn: Conn, plan: RowsPlan, options: ImportOptions, counts: Counts) -> Counts:
    """The counts the write would produce, from the same joins, writing nothing (dry run)."""
    new, changed, same = _plan_counts(conn, plan)
    if options.mode == "insert":
        counts.inserted = new
    elif options.mode == "update":
        counts.updated, counts.unchanged, counts.skipped = changed, same, new
    else:
        counts.inserted, counts.updated, counts.unchanged = new, changed, same
    return counts


def write_rows(
    conn: Conn, plan: RowsPlan, options: ImportOptions, job_id: UUID, counts: Counts
) -> Counts:
    """The one write of this mode; the change log is written by the same statement.

    Update mode: a row whose key matches no record is skipped (counted, not an error).
    """
    good = counts.total - counts.failed
    parts = _parts(plan, job_id)
    if options.mode == "update":
        new, _changed, _same = _plan_counts(conn, plan)
        counts.skipped = new
        counts.inserted, counts.updated = _run(conn, UPDATE_ROWS, parts)
    elif options.mode == "insert":
        counts.inserted, counts.updated = _run(conn, INSERT_ROWS, parts)
    elif not plan.matches:
        counts.inserted, counts.updated = _run(conn, INSERT_ROWS, parts)  # nothing can match
    else:
        counts.inserted, counts.updated = _upsert(conn, parts)
    counts.unchanged = good - counts.skipped - counts.inserted - counts.updated
    return counts


def _upsert(conn: Conn, parts: dict[str, sql.Composable]) -> tuple[int, int]:
    """(inserted, updated): the changed records updated, then the new rows inserted."""
    _, updated = _run(conn, UPDATE_ROWS, parts)
    try:
        with conn.transaction():
            only_new = sql.SQL(_ONLY_NEW).format(table=parts["table"])
            inserted, _ = _run(conn, INSERT_ROWS, {**parts, "only_new": only_new})
    except psycopg.errors.UniqueViolation:
        # a concurrent import inserted some of these keys: let ON CONFLICT sort them out
        inserted, more = _run(conn, UPSERT_ROWS, parts)
        updated += more
    return inserted, updated


def _run(conn: Conn, statement: str, parts: dict[str, sql.Composable]) -> tuple[int, int]:
    row = conn.execute(_compose(statement, parts)).fetchone()
    assert row is not None
    return row["inserted"], row["updated"]


def _compose(statement: str, parts: dict[str, sql.Composable]) -> sql.Composed:
    """A write statement with its parts and the change log it ends with."""
    log_changes = sql.SQL(LOG_CHANGES).format(
        org=parts["org"], job=parts["job"], data_type=parts["data_type"], table=parts["table"]
    )
    return sql.SQL(statement).format(**parts, log_changes=log_changes)


def _plan_counts(conn: Conn, plan: RowsPlan) -> tuple[int, int, int]:
    parts = _parts(plan, None)
    query = sql.SQL(_PLAN_COUNTS).format(
        rows=parts["rows"],
        table=parts["table"],
        match=parts["match"],
        old=parts["old"],
        new=parts["new"],
    )
    row = conn.execute(query).fetchone()
    assert row is not None
    return row["new"], row["changed"], row["same"]


# A row equal to its record is left out before the write: ON CONFLICT DO UPDATE
# would lock (so write) every record it matches, even those its WHERE leaves alone.
_NOT_SAME = """
AND NOT EXISTS (SELECT FROM {table} AS same
                 WHERE same.id = r.target_id AND ({same}) IS NOT DISTINCT FROM ({new}))
"""

# A staged row's record, found by validation (see the module's docstring).
_MATCH = "t.organization_id = {org} AND t.id = r.target_id"


def _columns(prefix: str, names: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(prefix, n) for n in names)


def update_value(plan: RowsPlan, column: str, record: str) -> sql.Composable:
    """What an update of the record aliased `record` writes into `column` (see
    `RowsPlan.update_value`)."""
    return plan.update_value(column, "r", sql.Identifier(record, column))


def _update_row(plan: RowsPlan, record: str) -> sql.Composable:
    values = sql.SQL(", ").join(update_value(plan, n, record) for n in plan.update_columns)
    return sql.SQL("ROW({})").format(values)


def _parts(plan: RowsPlan, job_id: UUID | None) -> dict[str, sql.Composable]:
    data_type = plan.data_type
    org = sql.SQL(ORG)
    update = plan.update_columns
    return {
        "org": org,
        "table": sql.Identifier(data_type.table),
        "rows": sql.Identifier(ROWS_TABLE),
        "job": sql.Literal(str(job_id)) if job_id else sql.NULL,
        "data_type": sql.Literal(data_type.name),
        "match": sql.SQL(_MATCH).format(org=org),
        "insert_columns": sql.SQL(", ").join(sql.Identifier(n) for n in plan.insert_columns),
        "values": _columns("r", plan.insert_columns),
        "old": sql.SQL("ROW({})").format(_columns("t", update)),
        "new": _update_row(plan, "t"),
        # a key inserted by another transaction meanwhile: the row's new-record values
        # (the ON CONFLICT form cannot see the row's update values), blanks kept
        "excluded": sql.SQL("ROW({})").format(
            sql.SQL(", ").join(_excluded_value(plan, n) for n in update)
        ),
        "conflict": _conflict_target(data_type),
        "assignments": sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(n), _excluded_value(plan, n)) for n in update
        ),
        "from_rows": sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(n), update_value(plan, n, "t")) for n in update
        ),
        "only_new": sql.SQL(""),
        # no key in the file: no row can match a record
        "not_same": sql.SQL(_NOT_SAME).format(
            table=sql.Identifier(data_type.table),
            same=sql.SQL("ROW({})").format(_columns("same", update)),
            new=_update_row(plan, "same"),
        )
        if plan.matches
        else sql.SQL(""),
    }


def _excluded_value(plan: RowsPlan, column: str) -> sql.Composable:
    excluded = sql.Identifier("excluded", column)
    if column in plan.kept:
        return sql.SQL("coalesce({}, t.{})").format(excluded, sql.Identifier(column))
    return excluded


def _conflict_target(data_type: DataType) -> sql.Composable:
    """`(organization_id, key...)` as the type's unique index has it (`lower()` of the
    text key fields of a case-insensitive key)."""
    parts: list[sql.Composable] = [sql.SQL("organization_id")]
    for name in data_type.key_fields:
        column = sql.Identifier(name)
        folded = data_type.key_case_insensitive and data_type.field(name).type in TEXT_LIKE
        parts.append(sql.SQL("(lower({}))").format(column) if folded else column)
    return sql.SQL("({})").format(sql.SQL(", ").join(parts))
