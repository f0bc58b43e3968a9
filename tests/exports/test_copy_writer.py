"""CSV and JSON Lines through COPY: RFC 4180 quoting, delimiters, the BOM, the round trip
through an import, numbers, typed JSON values."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from crmferry.db import Database
from crmferry.exports.formulas import neutralise_formula
from crmferry.exports.options import parse_export_options
from crmferry.exports.query import build_export_query
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.records import BIDS, CONTACTS, INVENTORY, DataType

from .samples import CONTACT_ROWS, export, import_cleaned, read_csv, stored


def test_csv_rfc4180_quoting_and_bom(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    export(db, filled_org, CONTACTS, {"fields": ["company", "notes", "phone", "name"]}, path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcompany,notes,phone,name\r\n")
    text = data.decode("utf-8-sig")
    # records end in CRLF (RFC 4180); the line breaks inside a value stay as stored
    first = (
        '"Acme, ""Best"" Inc.","line one\nline two\r\nline three",\'+1 555 0100,Zoë Ñúñez 😀\r\n'
    )
    assert text.split("\r\n", 1)[1].startswith(first)
    assert '"\'=HYPERLINK(""http://evil.example"",""x"")"' in text
    assert text.endswith("#N/A,,Plain; semi|pipe\ttab\r\n")


def test_csv_lines_end_in_crlf(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    export(db, filled_org, INVENTORY, {"fields": ["sku", "quantity"], "bom": False}, path)
    assert path.read_bytes() == b"sku,quantity\r\nA-1,3\r\n'-5,-7\r\n"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiters_round_trip(
    db: Database, filled_org: UUID, tmp_path: Path, delimiter: str
) -> None:
    path = tmp_path / "d.csv"
    export(db, filled_org, CONTACTS, {"delimiter": delimiter, "bom": False}, path)
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(path, delimiter)
    assert [r["name"] for r in rows] == [neutralise_formula(r["name"]) for r in CONTACT_ROWS]
    assert rows[0]["notes"] == CONTACT_ROWS[0]["notes"]


def test_csv_round_trip_restores_the_stored_text(
    db: Database, filled_org: UUID, tmp_path: Path
) -> None:
    """What an import does with each cell of the file (`crmferry_clean`) gives back the
    records' text."""
    path = tmp_path / "r.csv"
    export(db, filled_org, CONTACTS, {}, path)
    cells = [
        (got[n], stored(CONTACTS, row, n))
        for got, row in zip(read_csv(path), CONTACT_ROWS, strict=True)
        for n in CONTACTS.field_names
    ]
    back = import_cleaned(db, [cell for cell, _ in cells])
    assert [back[cell] for cell, _ in cells] == [value or None for _, value in cells]


def test_csv_numbers_stay_numbers(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    export(db, filled_org, INVENTORY, {"fields": ["sku", "quantity", "cost"]}, path)
    assert path.read_text("utf-8-sig").splitlines() == [
        "sku,quantity,cost",
        "A-1,3,-5.00",
        "'-5,-7,0.01",
    ]


def test_jsonl_values_are_typed(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    fields = ["bid_number", "amount", "valid_until", "description", "created_at", "id"]
    export(db, filled_org, BIDS, {"format": "jsonl", "fields": fields}, path)
    lines = path.read_text("utf-8").splitlines()
    assert lines[0].startswith('{"bid_number":"Q-1","amount":99999.99,"valid_until":"2024-06-30",')
    first, second = (json.loads(line) for line in lines)
    assert isinstance(first["amount"], float) and first["amount"] == 99999.99
    assert first["description"] == "two\nlines"
    assert first["created_at"] == "2024-01-01T00:00:00+00:00"
    assert UUID(first["id"])
    assert second["amount"] == -1 and second["valid_until"] is None
    assert json.loads(lines[1], parse_float=Decimal)["amount"] == Decimal("-1.00")


def test_jsonl_integers_and_exact_decimals(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "i.jsonl"
    export(
        db, filled_org, INVENTORY, {"format": "jsonl", "fields": ["quantity", "unit_price"]}, path
    )
    assert path.read_text("utf-8").splitlines() == [
        '{"quantity":3,"unit_price":1234.50}',
        '{"quantity":-7,"unit_price":null}',
    ]


def _read_back(value: Any, stored: Any) -> Any:
    """A JSON value read as the stored value's type: ISO dates and times parsed (PostgreSQL
    writes 0.50217 s where Python writes 0.502170), ids as UUIDs, the rest as parsed."""
    if isinstance(stored, datetime):
        return datetime.fromisoformat(value)
    if isinstance(stored, date):
        assert value == stored.isoformat()
        return date.fromisoformat(value)
    if isinstance(stored, UUID):
        return UUID(value)
    return value


@pytest.mark.parametrize("data_type", [CONTACTS, INVENTORY, BIDS], ids=lambda t: t.name)
def test_jsonl_file_is_row_to_json_byte_for_byte_and_exact(
    db: Database, filled_org: UUID, tmp_path: Path, data_type: DataType
) -> None:
    """Every field of every type: the file (binary COPY, its framing dropped) is what
    row_to_json writes, line for line, and each line read with Decimal parsing is the
    stored record exactly (decimals with their scale, ISO dates and times)."""
    fields = [*data_type.field_names, "id", "created_at", "updated_at"]
    fields += [f.name for f in data_type.extra_export_fields]
    raw = {"format": "jsonl", "fields": fields}
    path = tmp_path / "all.jsonl"
    assert export(db, filled_org, data_type, raw, path).record_count > 1
    plain, params = build_export_query(data_type, parse_export_options(data_type, raw))
    reference = sql.SQL("SELECT row_to_json(q)::text AS json FROM ({}) AS q").format(plain)
    with snapshot_transaction(db, filled_org) as conn:
        expected = [r["json"] for r in conn.execute(reference, params)]
        records = conn.execute(plain, params).fetchall()
    data = path.read_bytes()
    assert data == "".join(f"{line}\n" for line in expected).encode()
    lines = data.decode("utf-8").split("\n")
    assert lines.pop() == ""
    for line, record in zip(lines, records, strict=True):
        parsed = json.loads(line, parse_float=Decimal)
        assert list(parsed) == fields
        assert {k: _read_back(parsed[k], v) for k, v in record.items()} == record
        for name, value in record.items():
            if isinstance(value, Decimal):
                assert type(parsed[name]) is Decimal
                assert str(parsed[name]) == str(value)  # the scale kept: 1234.50
            if isinstance(value, datetime):
                assert parsed[name].endswith("+00:00")  # ISO 8601, in UTC


def test_an_empty_jsonl_export_is_an_empty_file(
    db: Database, filled_org: UUID, tmp_path: Path
) -> None:
    path = tmp_path / "none.jsonl"
    raw = {"format": "jsonl", "filters": [{"field": "sku", "op": "eq", "value": "no such"}]}
    assert export(db, filled_org, INVENTORY, raw, path).record_count == 0
    assert path.read_bytes() == b""
