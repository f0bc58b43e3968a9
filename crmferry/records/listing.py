"""Read records: keyset-paged lists in creation order with a word search, and one by id.

The one listing behind `GET /contacts|inventory|bids` and the records pages. Pages are
in creation order (oldest first: a client paging to the end also sees what was added
meanwhile), `created_at, id` keyset-paged on each table's `(organization_id,
created_at, id)` index; a cursor this API did not make is a 422. `q` matches the
records in which every word of `q` begins a word of one of the type's search fields,
found through each table's search index by `crmferry_search_records` (migration 0020
says why that is a function); a `q` that is one e-mail address some record has as its
e-mail finds the records with that address, by the e-mail index (migration 0150). Run
inside the caller's tenant transaction: row-level security shows one organization's
records only.
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
SELECT * FROM {table} ORDER BY created_at, id LIMIT %(limit)s
"""

LIST_RECORDS_AFTER = """
SELECT * FROM {table}
 WHERE (created_at, id) > (%(after_time)s, %(after_id)s)
 ORDER BY created_at, id
 LIMIT %(limit)s
"""

SEARCH_RECORDS = """
SELECT * FROM {table}
 WHERE id IN (SELECT crmferry_search_records(%(table)s::text, %(fields)s::text[], %(q)s::text,
                                             %(after_time)s::timestamptz, %(after_id)s::uuid,
                                             %(limit)s::integer))
 ORDER BY created_at, id
"""

COUNT_RECORDS = """
SELECT count(*) AS n FROM (SELECT FROM {table} LIMIT %(count_limit)s) AS found
"""

GET_RECORD = "SELECT * FROM {table} WHERE id = %(id)s"


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
    query, params = page_query(data_type, q, limit, cursor)
    # never a prepared statement: a generic plan would not know where the cursor is
    rows = conn.execute(query, params, prepare=False).fetchall()
    page = rows[:limit]
    more = len(rows) > limit
    return RecordPage(page, encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None)


def page_query(
    data_type: DataType, q: str | None, limit: int, cursor: str | None
) -> tuple[sql.Composed, dict[str, Any]]:
    """The SELECT `list_records` runs, and its parameters (one row more than `limit`, to
    tell whether there is a next page)."""
    after_time, after_id = decode_cursor(cursor, datetime, UUID) if cursor else (None, None)
    params = {
        **_search_params(data_type, q),
        "after_time": after_time,
        "after_id": after_id,
        "limit": limit + 1,
    }
    listing = LIST_RECORDS_AFTER if cursor else LIST_RECORDS
    statement = SEARCH_RECORDS if _searching(q) else listing
    return sql.SQL(statement).format(table=sql.Identifier(data_type.table)), params


def count_records(conn: Conn, data_type: DataType) -> int:
    """How many records there are, counted up to COUNT_LIMIT (a bigger count is that).

    (Searches are not counted: counting every match of a common word reads them all.)"""
    query = sql.SQL(COUNT_RECORDS).format(table=sql.Identifier(data_type.table))
    row = conn.execute(query, {"count_limit": COUNT_LIMIT}).fetchone()
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


def _searching(q: str | None) -> bool:
    return bool(q and q.strip())


def _search_params(data_type: DataType, q: str | None) -> dict[str, Any]:
    return {"table": data_type.table, "fields": list(data_type.search_fields), "q": q}


def _json_value(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
