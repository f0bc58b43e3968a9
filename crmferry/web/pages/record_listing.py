"""One page of a data type's records, newest first, searched and keyset-paged.

The columns come from the data-type description only; the search matches any
text field case-insensitively.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from crmferry.db import Conn
from crmferry.records import DataType

PAGE_SIZE = 50

LIST_RECORDS = """
SELECT id, {columns}, updated_at, created_at
  FROM {table}
 WHERE ({search} ILIKE %(pattern)s::text OR %(pattern)s::text IS NULL)
   AND (%(after_id)s::uuid IS NULL
        OR (created_at, id) < (%(after_time)s::timestamptz, %(after_id)s::uuid))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""

COUNT_RECORDS = """
SELECT count(*) AS n
  FROM {table}
 WHERE ({search} ILIKE %(pattern)s::text OR %(pattern)s::text IS NULL)
"""


@dataclass(frozen=True)
class RecordPage:
    rows: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def _search_expression(data_type: DataType) -> sql.Composable:
    text_fields = [f.name for f in data_type.fields if f.sql_type == "text"]
    return sql.SQL("concat_ws(' ', {})").format(
        sql.SQL(", ").join(sql.Identifier(name) for name in text_fields)
    )


def encode_cursor(created_at: datetime, record_id: UUID) -> str:
    raw = f"{created_at.isoformat()}|{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime | None, UUID | None]:
    """The (created_at, id) a cursor names; a damaged cursor starts from the top."""
    if not cursor:
        return None, None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, record_id = raw.split("|")
        return datetime.fromisoformat(created_at), UUID(record_id)
    except (ValueError, binascii.Error):
        return None, None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_records(
    conn: Conn, data_type: DataType, q: str = "", cursor: str | None = None
) -> RecordPage:
    """A page of `data_type`'s records matching `q` (inside the caller's tenant transaction)."""
    search = _search_expression(data_type)
    table = sql.Identifier(data_type.table)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in data_type.field_names)
    after_time, after_id = decode_cursor(cursor)
    params: dict[str, Any] = {
        "pattern": f"%{_escape_like(q.strip())}%" if q.strip() else None,
        "after_time": after_time,
        "after_id": after_id,
        "limit": PAGE_SIZE + 1,
    }
    query = sql.SQL(LIST_RECORDS).format(columns=columns, table=table, search=search)
    rows = conn.execute(query, params).fetchall()
    count = conn.execute(sql.SQL(COUNT_RECORDS).format(table=table, search=search), params)
    total = count.fetchone()["n"]  # type: ignore[index]
    next_cursor = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    return RecordPage(rows, total, next_cursor)
