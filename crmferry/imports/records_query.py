"""Read the records imports write: keyset-paged lists with a text search, and one by id."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from crmferry.db import Conn
from crmferry.errors import NotFound, ValidationFailed
from crmferry.records import DataType

# The main text fields `q` searches (case-insensitive substring).
SEARCH_FIELDS = {
    "contacts": ("name", "email", "company"),
    "inventory": ("sku", "name", "category"),
    "bids": ("bid_number", "title", "contact_email"),
}

_PAGE = """
SELECT * FROM {table}
 WHERE (%(q)s::text IS NULL OR {search})
   AND (%(after_time)s::timestamptz IS NULL OR (created_at, id) > (%(after_time)s, %(after_id)s))
 ORDER BY created_at, id
 LIMIT %(limit)s
"""

_ONE = "SELECT * FROM {table} WHERE id = %s"


def list_records(
    conn: Conn, data_type: DataType, q: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page in creation order and the cursor of the next page (None at the end)."""
    after_time, after_id = _decode_cursor(cursor) if cursor else (None, None)
    pattern = None
    if q and q.strip():
        escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    search = sql.SQL(" OR ").join(
        sql.SQL("{} ILIKE %(q)s").format(sql.Identifier(f)) for f in SEARCH_FIELDS[data_type.name]
    )
    query = sql.SQL(_PAGE).format(table=sql.Identifier(data_type.table), search=search)
    rows = conn.execute(
        query,
        {"q": pattern, "after_time": after_time, "after_id": after_id, "limit": limit + 1},
    ).fetchall()
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
    return [public_record(r) for r in page], next_cursor


def get_record(conn: Conn, data_type: DataType, record_id: str) -> dict[str, Any]:
    """One record of the current organization; NotFound for another's or a malformed id."""
    try:
        parsed = UUID(record_id)
    except ValueError:
        raise NotFound(f"No {data_type.label.lower()} record {record_id}.") from None
    query = sql.SQL(_ONE).format(table=sql.Identifier(data_type.table))
    row = conn.execute(query, [parsed]).fetchone()
    if row is None:
        raise NotFound(f"No {data_type.label.lower()} record {record_id}.")
    return public_record(row)


def public_record(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: ids as strings, times as RFC 3339, money as exact decimal strings."""
    return {key: _json_value(value) for key, value in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _encode_cursor(row: dict[str, Any]) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        return datetime.fromisoformat(when), UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "The cursor is not valid; use next_cursor from the previous page.",
            [{"field": "cursor", "message": "is not valid"}],
        ) from None
