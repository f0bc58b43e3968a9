"""The snapshot an export reads from: REPEATABLE READ, read-only, UTC, one for the whole
file."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from crmferry.db import Database
from crmferry.exports.options import parse_export_options
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.exports.writers import write_export
from crmferry.records import CONTACTS

from .conftest import Insert
from .samples import CONTACT_ROWS


def test_snapshot_is_repeatable_read_and_read_only(db: Database, filled_org: UUID) -> None:
    with snapshot_transaction(db, filled_org) as conn:
        row = conn.execute(
            "SELECT current_setting('transaction_isolation') AS iso,"
            " current_setting('transaction_read_only') AS ro,"
            " current_setting('TimeZone') AS tz"
        ).fetchone()
    assert row == {"iso": "repeatable read", "ro": "on", "tz": "UTC"}


def test_one_snapshot_for_the_whole_file(
    db: Database, filled_org: UUID, insert: Insert, tmp_path: Path
) -> None:
    path = tmp_path / "snap.csv"
    options = parse_export_options(CONTACTS, {"fields": ["email"]})
    with snapshot_transaction(db, filled_org) as conn:
        insert("contacts", filled_org, [{"name": "Late", "email": "late@example.com"}])
        result = write_export(conn, CONTACTS, options, path, lambda _: None)
    assert result.record_count == len(CONTACT_ROWS)
    assert "late@example.com" not in path.read_text("utf-8-sig")
