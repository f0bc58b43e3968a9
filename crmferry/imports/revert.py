"""Undo an import from its change log, and read that log.

A revert deletes exactly the records the import inserted and puts back the
previous values of those it updated, each in one statement. It is refused
(Conflict) when a later import — one not itself reverted — changed any of the
same records, unless forced.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from crmferry import audit
from crmferry.accounts.principal import Principal
from crmferry.config import Settings
from crmferry.cursors import decode_cursor, encode_cursor
from crmferry.db import Conn
from crmferry.errors import Conflict
from crmferry.jobs import operations
from crmferry.jobs.kinds import NewJob
from crmferry.records import DATA_TYPES, DataType, get_data_type

REVERTIBLE = ("import", "import_batch")

_REVERT_EXISTS = """
SELECT id FROM scheduled_jobs
 WHERE reverts_job_id = %s AND job_type = 'revert'
   AND status IN ('pending', 'processing', 'completed')
   AND id IS DISTINCT FROM %s
 LIMIT 1
"""

# Records of this import that a later, not reverted, import changed again: every
# import write stamps the record's import_job_id, and a revert restores the previous
# one, so a record still stamped by another job was changed after this import.
_LATER_CHANGES = """
SELECT count(DISTINCT t.id) AS records
  FROM import_changes AS mine
 CROSS JOIN LATERAL unnest({ids}) AS logged(id)
  JOIN {table} AS t ON t.organization_id = mine.organization_id AND t.id = logged.id
 WHERE mine.job_id = %(job)s AND mine.data_type = %(data_type)s
   AND t.import_job_id IS DISTINCT FROM mine.job_id
"""

# Records of other imports that name a record this import inserted (a bid's lines):
# deleting the record would delete them too (or unlink them).
_DEPENDENTS = """
SELECT count(*) AS records
  FROM import_changes AS mine
 CROSS JOIN LATERAL unnest({ids}) AS logged(id)
  JOIN {child} AS d ON d.organization_id = mine.organization_id AND d.{link_id} = logged.id
 WHERE mine.organization_id = crmferry_current_org()
   AND mine.job_id = %(job)s AND mine.data_type = %(data_type)s AND mine.action = 'insert'
   AND d.import_job_id IS DISTINCT FROM mine.job_id
"""

_DELETE_INSERTED = """
DELETE FROM {table} AS t
 USING import_changes AS c CROSS JOIN LATERAL unnest({ids}) AS logged(id)
 WHERE c.job_id = %(job)s AND c.data_type = %(data_type)s AND c.action = 'insert'
   AND t.organization_id = crmferry_current_org() AND t.id = logged.id
"""

_RESTORE_UPDATED = """
UPDATE {table} AS t
   SET ({columns}) = ({previous}), changed_xid = pg_current_xact_id()
  FROM import_changes AS c
 CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, c.previous) AS p
 WHERE c.job_id = %(job)s AND c.data_type = %(data_type)s AND c.action = 'update'
   AND t.organization_id = crmferry_current_org() AND t.id = c.record_id
"""

# One item per record: a list of inserted ids is read from its position `after_item`.
_CHANGES = """
SELECT c.id, logged.item, logged.id AS record_id, c.action, c.previous, c.created_at
  FROM import_changes AS c
 CROSS JOIN LATERAL unnest({ids}) WITH ORDINALITY AS logged(id, item)
 WHERE c.organization_id = crmferry_current_org() AND c.job_id = %(job)s
   AND c.id >= %(after)s AND (c.id, logged.item) > (%(after)s, %(after_item)s)
 ORDER BY c.id, logged.item
 LIMIT %(limit)s
"""

# The records of a log row: a list of inserted ids, or the one record (see migration 0010).
_IDS = sql.SQL("coalesce({c}.record_ids, ARRAY[{c}.record_id])")


def check_revertible(
    conn: Conn, job_id: object, force: bool, revert_job_id: UUID | None = None
) -> dict[str, Any]:
    """The import job to revert; Conflict when it cannot (or, unless forced, should not) be.

    `revert_job_id`: the revert job asking (at run time), which does not count as a rival.
    """
    job = operations.get_job(conn, job_id)
    if job["job_type"] not in REVERTIBLE:
        raise Conflict("Only an import (or a batch of them) can be reverted.")
    if job["status"] != "completed":
        raise Conflict(f"Only a completed import can be reverted; this one is {job['status']}.")
    if (job["options"] or {}).get("dry_run"):
        raise Conflict("A dry run changed nothing: there is nothing to revert.")
    if conn.execute(_REVERT_EXISTS, [job["id"], revert_job_id]).fetchone() is not None:
        raise Conflict("This import is already reverted, or its revert is under way.")
    if not force:
        types = written_types(job)
        changed = sum(_later_changes(conn, job["id"], t) for t in types)
        if changed:
            raise Conflict(
                f"A later import changed {changed} of the records this import wrote; "
                'reverting would undo those changes too. Send {"force": true} to revert anyway.'
            )
        dependents = sum(_dependents(conn, job["id"], t) for t in types)
        if dependents:
            raise Conflict(
                f"Another import added {dependents} records that belong to records this import "
                "created (a bid's lines); reverting would delete them too. "
                'Send {"force": true} to revert anyway.'
            )
    return job


def written_types(job: dict[str, Any]) -> list[DataType]:
    """The data types an import job wrote, in the order it wrote them (a batch's files
    in run order, each type once)."""
    if job["job_type"] != "import_batch":
        return [get_data_type(job["data_type"])]
    names = [item["data_type"] for item in (job["options"] or {}).get("items") or []]
    return [get_data_type(n) for n in dict.fromkeys(names)]


def _later_changes(conn: Conn, job_id: UUID, data_type: DataType) -> int:
    """Records of `data_type` this import wrote that a later import changed."""
    params = {"job": job_id, "data_type": data_type.name}
    table = sql.Identifier(data_type.table)
    row = conn.execute(
        sql.SQL(_LATER_CHANGES).format(table=table, ids=_ids("mine")), params
    ).fetchone()
    return int(row["records"]) if row else 0


def _dependents(conn: Conn, job_id: UUID, data_type: DataType) -> int:
    """Records of other imports naming a record this import inserted (deleting it would
    delete them: a bid's lines)."""
    params = {"job": job_id, "data_type": data_type.name}
    found = 0
    for child, link in DATA_TYPES.included(data_type.name).values():
        assert link.id_column is not None
        query = sql.SQL(_DEPENDENTS).format(
            ids=_ids("mine"),
            child=sql.Identifier(child.table),
            link_id=sql.Identifier(link.id_column),
        )
        row = conn.execute(query, params).fetchone()
        found += int(row["records"]) if row else 0
    return found


def create_revert_job(
    conn: Conn,
    principal: Principal,
    import_job: dict[str, Any],
    force: bool,
    settings: Settings,
) -> dict[str, Any]:
    """A pending revert job, due now, for an import job `check_revertible` accepted
    (its attempt limit from `settings`); 403 for a viewer."""
    principal.require("member")
    new = NewJob(
        options={"force": force},
        file_name=import_job["file_name"],
        reverts_job_id=import_job["id"],
    )
    row = operations.insert_job(
        conn,
        settings,
        created_by=principal.user_id,
        creator_name=principal.display_name,
        job_type="revert",
        data_type=import_job["data_type"],
        new=new,
        scheduled_time=operations.db_now(conn),
    )
    details = {
        "data_type": import_job["data_type"],
        "file_name": import_job["file_name"],
        "revert_job_id": str(row["id"]),
        "force": force,
    }
    audit.record(conn, principal, "job.reverted", "job", import_job["id"], details)
    return row


def revert_changes(conn: Conn, data_type: DataType, import_job_id: UUID) -> tuple[int, int]:
    """Delete what the import inserted, restore what it updated; (deleted, restored)."""
    table = sql.Identifier(data_type.table)
    columns = restored_columns(data_type)
    params = {"job": import_job_id, "data_type": data_type.name}
    deleted = conn.execute(
        sql.SQL(_DELETE_INSERTED).format(table=table, ids=_ids("c")), params
    ).rowcount
    restored = conn.execute(
        sql.SQL(_RESTORE_UPDATED).format(
            table=table,
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            previous=sql.SQL(", ").join(sql.Identifier("p", c) for c in columns),
        ),
        params,
    ).rowcount
    return deleted, restored


def restored_columns(data_type: DataType) -> list[str]:
    """Every column an import may write (its importable fields and the ids its links
    fill), plus the bookkeeping it changes."""
    columns = [f.name for f in data_type.importable_fields]
    return [*columns, *data_type.links_filling(), "updated_at", "import_job_id"]


def list_changes(
    conn: Conn, job_id: UUID, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an import's change log, oldest first, and the next page's cursor.

    An item's `id` is its log row's: the records inserted together share one."""
    after, after_item = _parse_cursor(cursor)
    rows = conn.execute(
        sql.SQL(_CHANGES).format(ids=_ids("c")),
        {"job": job_id, "after": after, "after_item": after_item, "limit": limit + 1},
    ).fetchall()
    items = [
        {
            "id": row["id"],
            "record_id": str(row["record_id"]),
            "action": row["action"],
            "previous": row["previous"],
            "created_at": row["created_at"].isoformat(),
        }
        for row in rows[:limit]
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    return items, encode_cursor(last["id"], last["item"]) if last else None


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    """(log row id, position in its list) after which a page starts. Cursors of earlier
    releases still work: `row.position`, and a bare log row id (after that whole row)."""
    if not cursor:
        return 0, 0
    row, dot, item = cursor.partition(".")
    # ASCII digits only: '²' is a digit to str.isdigit, and int() refuses it
    if _digits(row) and (_digits(item) or not dot):
        return int(row), int(item or 2**31 - 1)
    return decode_cursor(cursor, int, int)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _ids(alias: str) -> sql.Composable:
    return _IDS.format(c=sql.Identifier(alias))
