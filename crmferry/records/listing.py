"""Read records: keyset-paged lists in creation order with a word search, and one by id.

The one listing behind `GET /contacts|inventory|bids` and the records pages. Pages are
in creation order (oldest first: a client paging to the end also sees what was added
meanwhile), `created_at, id` keyset-paged on each table's `(organization_id,
created_at, id)` index; a cursor this API did not make is a 422. `q` matches the
records in which every word of `q` begins a word of one of the type's search fields
(see migration 0020), through each table's search index. Run inside the caller's
tenant transaction: row-level security shows one organization's records only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from crmferry.cursors import decode_cursor, encode_cursor
from crmferry.db import Conn
from crmferry.errors import NotFound
from crmferry.ids import id_or_not_found
from crmferry.records.fields import DataType

PAGE_SIZE = 50
COUNT_LIMIT = 10_000  # a count stops there ("10,000 or more"): counting is a scan

LIST_RECORDS = """
SELECT * FROM {table}
 WHERE {conditions}
 ORDER BY created_at, id
 LIMIT %(limit)s
"""

COUNT_RECORDS = """
SELECT count(*) AS n FROM (SELECT FROM {table} WHERE {conditions} LIMIT %(count_limit)s) AS found
"""

GET_RECORD = "SELECT * FROM {table} WHERE id = %(id)s"

# Each table's search index is on this very expression (migration 0020).
MATCHES_SEARCH = "crmferry_search_document({fields}) @@ crmferry_search_query(%(q)s)"

AFTER_CURSOR = "(created_at, id) > (%(after_time)s, %(after_id)s)"


@dataclass(frozen=True)
class RecordPage:
    """A page of records as stored (typed values) and the cursor of the next page."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def list_records(
    conn: Conn, data_type: DataType, q: str | None, limit: int, cursor: str | None
) -> RecordPage:
    """At most `limit` records after `cursor` (None: from the first), matching `q` when
    it holds a word; ValidationFailed for a cursor this API did not make."""
    after_time, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    params = {"q": q, "after_time": after_time, "after_id": after_id, "limit": limit + 1}
    query = sql.SQL(LIST_RECORDS).format(
        table=sql.Identifier(data_type.table), conditions=_conditions(data_type, q, cursor)
    )
    # never a prepared statement: a generic plan would not know how selective `q` is
    rows = conn.execute(query, params, prepare=False).fetchall()
    page = rows[:limit]
    more = len(rows) > limit
    return RecordPage(page, encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None)


def count_records(conn: Conn, data_type: DataType, q: str | None) -> int:
    """How many records match `q`, counted up to COUNT_LIMIT (a bigger count is that)."""
    query = sql.SQL(COUNT_RECORDS).format(
        table=sql.Identifier(data_type.table), conditions=_conditions(data_type, q, None)
    )
    row = conn.execute(query, {"q": q, "count_limit": COUNT_LIMIT}, prepare=False).fetchone()
    assert row is not None
    return int(row["n"])


def get_record(conn: Conn, data_type: DataType, record_id: str) -> dict[str, Any]:
    """One record of the current organization, JSON-ready; NotFound for another's or a
    malformed id."""
    what = f"{data_type.label.lower()} record"
    query = sql.SQL(GET_RECORD).format(table=sql.Identifier(data_type.table))
    row = conn.execute(query, {"id": id_or_not_found(record_id, what)}).fetchone()
    if row is None:
        raise NotFound(f"No {what} {record_id}.")
    return public_record(row)


def public_record(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: ids as strings, times as RFC 3339, money as exact decimal strings."""
    return {key: _json_value(value) for key, value in row.items()}


def search_expression(data_type: DataType) -> sql.Composable:
    """The condition `q` (a bound `%(q)s`) puts on `data_type`'s records."""
    fields = sql.SQL(", ").join(sql.Identifier(name) for name in data_type.search_fields)
    return sql.SQL(MATCHES_SEARCH).format(fields=fields)


def _conditions(data_type: DataType, q: str | None, cursor: str | None) -> sql.Composable:
    """Only the conditions in use, so that each query is planned for what it asks."""
    parts: list[sql.Composable] = [sql.SQL("true")]
    if q and q.strip():
        parts.append(search_expression(data_type))
    if cursor:
        parts.append(sql.SQL(AFTER_CURSOR))
    return sql.SQL(" AND ").join(parts)


def _json_value(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
