"""The one entry point, write_export: each format × each data type read back, field
order, filters, progress and cancellation, tenancy and bounded memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest
from openpyxl.worksheet._writer import ALL_TEMP_FILES as openpyxl_temp_files

from crmferry.db import Database
from crmferry.errors import JobCancelled
from crmferry.exports.writers import ExportResult
from crmferry.records import BIDS, CONTACTS, INVENTORY, DataType

from .conftest import BIG, Insert, cancel_at_second_chunk
from .samples import READERS, ROWS, expected_cell, export, stored


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
@pytest.mark.parametrize("data_type", [CONTACTS, INVENTORY, BIDS], ids=lambda t: t.name)
def test_every_format_and_data_type_reads_back(
    db: Database, filled_org: UUID, tmp_path: Path, data_type: DataType, fmt: str
) -> None:
    fields = list(data_type.field_names) + [f.name for f in data_type.extra_export_fields]
    path = tmp_path / f"out.{fmt}"
    result = export(db, filled_org, data_type, {"format": fmt, "fields": fields}, path)
    rows = READERS[fmt](path)
    source = ROWS[data_type.name]
    assert result == ExportResult(len(source), path.stat().st_size)
    assert [list(r) for r in rows] == [fields] * len(source)
    for got, row in zip(rows, source, strict=True):
        expected = {n: expected_cell(data_type, fmt, n, stored(data_type, row, n)) for n in fields}
        assert got == expected


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_field_order_is_the_requested_one(
    db: Database, filled_org: UUID, tmp_path: Path, fmt: str
) -> None:
    fields = ["valid_until", "contact_name", "amount", "bid_number"]
    path = tmp_path / f"bids.{fmt}"
    export(db, filled_org, BIDS, {"format": fmt, "fields": fields, "sort": "-amount"}, path)
    rows = READERS[fmt](path)
    assert [list(r) for r in rows] == [fields, fields]
    assert [r["bid_number"] for r in rows] == ["Q-1", "Q-2"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_filters_apply_in_every_format(
    db: Database, filled_org: UUID, tmp_path: Path, fmt: str
) -> None:
    raw = {
        "format": fmt,
        "fields": ["sku"],
        "filters": [{"field": "quantity", "op": "lt", "value": 0}],
    }
    result = export(db, filled_org, INVENTORY, raw, tmp_path / f"f.{fmt}")
    assert result.record_count == 1
    assert [r["sku"] for r in READERS[fmt](tmp_path / f"f.{fmt}")] == [
        "'-5" if fmt != "jsonl" else "-5"
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_empty_export_has_a_header_only(
    db: Database, new_org: Callable[[], UUID], tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"empty.{fmt}"
    assert export(db, new_org(), CONTACTS, {"format": fmt}, path).record_count == 0
    assert READERS[fmt](path) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_id_and_times_export_as_stored(
    db: Database, new_org: Callable[[], UUID], insert: Insert, tmp_path: Path, fmt: str
) -> None:
    """The id is a uuid, never taken for text that could hold a formula."""
    org = new_org()
    (contact_id,) = insert("contacts", org, [{"name": "=Zoë"}])
    path = tmp_path / f"ids.{fmt}"
    export(db, org, CONTACTS, {"format": fmt, "fields": ["id", "name", "created_at"]}, path)
    (row,) = READERS[fmt](path)
    assert str(row["id"]) == str(contact_id)
    assert row["name"] == ("=Zoë" if fmt == "jsonl" else "'=Zoë")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_progress_at_chunk_boundaries(
    db: Database, filled_org: UUID, tmp_path: Path, fmt: str
) -> None:
    calls: list[int] = []
    export(db, filled_org, CONTACTS, {"format": fmt}, tmp_path / "p", calls.append, chunk_rows=2)
    assert calls == [2, 3]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_cancel_removes_the_partial_file(
    db: Database, filled_org: UUID, tmp_path: Path, fmt: str
) -> None:
    def cancel(done: int) -> None:
        raise JobCancelled("cancel requested")

    path = tmp_path / "out" / f"cancelled.{fmt}"
    temp_files = list(openpyxl_temp_files)
    with pytest.raises(JobCancelled):
        export(db, filled_org, CONTACTS, {"format": fmt}, path, cancel, chunk_rows=1)
    assert list(path.parent.iterdir()) == []
    assert openpyxl_temp_files == temp_files  # no sheet left behind in /tmp
    # the pool connection is clean again: default isolation, not read-only
    with db.tenant(filled_org) as conn:
        row = conn.execute(
            "SELECT current_setting('transaction_isolation') AS iso,"
            " current_setting('transaction_read_only') AS ro"
        ).fetchone()
    assert row == {"iso": "read committed", "ro": "off"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_tenancy_no_rows_of_another_organization(
    db: Database, new_org: Callable[[], UUID], insert: Insert, tmp_path: Path, fmt: str
) -> None:
    mine, theirs = new_org(), new_org()
    insert("contacts", mine, [{"name": "Mine", "email": "mine@example.com"}])
    insert("contacts", theirs, [{"name": "Theirs", "email": "theirs@example.com"}])
    path = tmp_path / f"t.{fmt}"
    assert export(db, mine, CONTACTS, {"format": fmt}, path).record_count == 1
    assert [r["email"] for r in READERS[fmt](path)] == ["mine@example.com"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_big_export_memory_is_bounded_traced(
    db: Database, big_org: UUID, tmp_path: Path, fmt: str
) -> None:
    tracemalloc.start()
    try:
        result = export(db, big_org, CONTACTS, {"format": fmt}, tmp_path / f"big.{fmt}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.record_count == BIG
    assert result.size_bytes > 20_000_000
    print(f"{fmt} traced peak {peak / 1e6:.1f} MB")
    assert peak < 60_000_000, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_cancel_in_the_middle_of_a_big_export(
    db: Database, big_org: UUID, tmp_path: Path, fmt: str
) -> None:
    calls: list[int] = []
    path = tmp_path / f"big.{fmt}"
    with pytest.raises(JobCancelled):
        export(db, big_org, CONTACTS, {"format": fmt}, path, cancel_at_second_chunk(calls))
    assert calls == [10_000, 20_000]
    assert list(tmp_path.iterdir()) == []
    with db.tenant(big_org) as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": BIG}
