"""Records of every data type for the writer tests, what each export format holds for
them, and reading an export file back."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from crmferry.db import Database
from crmferry.exports.formulas import neutralise_formula
from crmferry.exports.options import TEXT_LIKE, export_field, parse_export_options
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.exports.writers import ExportResult, write_export
from crmferry.records import DataType

ONE_MS = timedelta(milliseconds=1)

CONTACT_ROWS: list[dict[str, Any]] = [
    {
        "name": "Zoë Ñúñez 😀",
        "first_name": "Zoë",
        "last_name": "Ñúñez",
        "email": "zoe@example.com",
        "phone": "+1 555 0100",
        "company": 'Acme, "Best" Inc.',
        "notes": "line one\nline two\r\nline three",
        "status": "customer",
        "country": "日本",
    },
    {
        "name": '=HYPERLINK("http://evil.example","x")',
        "email": "eve@example.com",
        "phone": "-5",
        "company": "@SUM(A1:A2)",
        "title": "\tTabbed",
        "address": "\rCarriage",
        "city": "'=already",
        "state": "'''",
        "notes": "+cmd|' /C calc'!A0",
        "country": "",
        "owner_email": "owner@example.com",
    },
    {"name": "Plain; semi|pipe\ttab", "notes": "#N/A", "status": "lead"},
]


INVENTORY_ROWS: list[dict[str, Any]] = [
    {
        "sku": "A-1",
        "name": "Anvil",
        "quantity": 3,
        "quantity_on_order": 0,
        "unit_price": Decimal("1234.50"),
        "cost": Decimal("-5.00"),
        "unit_of_measure": "ea",
        "description": "=1+1",
        "category": "Tools",
    },
    {
        "sku": "-5",
        "name": "Négative sku",
        "quantity": -7,
        "unit_price": None,
        "cost": Decimal("0.01"),
    },
]


BID_ROWS: list[dict[str, Any]] = [
    {
        "bid_number": "Q-1",
        "title": "Roof",
        "amount": Decimal("99999.99"),
        "currency": "EUR",
        "status": "sent",
        "valid_until": date(2024, 6, 30),
        "description": "two\nlines",
        "contact_email": "zoe@example.com",
    },
    {"bid_number": "Q-2", "title": "@risk", "amount": Decimal("-1.00"), "status": "draft"},
]


ROWS = {"contacts": CONTACT_ROWS, "inventory": INVENTORY_ROWS, "bids": BID_ROWS}


DEFAULTS = {"status": "active", "unit_of_measure": "ea", "quantity": 0, "currency": "USD"}


def stored(data_type: DataType, row: dict[str, Any], name: str) -> Any:
    """The value a record holds for field `name` (with column defaults, and the join)."""
    if name == "contact_name":
        return CONTACT_ROWS[0]["name"] if row.get("contact_email") else None
    return row.get(name, DEFAULTS.get(name) if name in data_type.field_names else None)


def expected_cell(data_type: DataType, fmt: str, name: str, value: Any) -> Any:
    """What a file of format `fmt` holds for `value` of field `name`, read back."""
    kind = export_field(data_type, name).type
    if value is None:
        return "" if fmt == "csv" else None
    if kind in TEXT_LIKE and fmt != "jsonl":
        value = neutralise_formula(value)
    if fmt == "csv":
        return str(value)
    if fmt == "xlsx":
        if value == "":
            return None  # an empty string is an empty cell
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, str):
            return value  # a CR too: written as the workbook escape _x000D_
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        return value
    return value.isoformat() if isinstance(value, date) else value


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    """The first sheet's records as openpyxl reads them (text with the workbook escapes
    `_xHHHH_` undone, which openpyxl leaves to its caller), checked cell by cell against
    what python-calamine, an independent reader, reads."""
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    width = len(header)
    padded = [row + (None,) * (width - len(row)) for row in rows]  # read-only rows end early
    values = [[unescape(v) if isinstance(v, str) else v for v in row] for row in padded]
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert [list(header), *values] == [
        [same_cell(mine, theirs) for mine, theirs in zip(ours, their_row, strict=True)]
        for ours, their_row in zip([list(header), *values], calamine, strict=True)
    ]
    return [dict(zip(header, row, strict=True)) for row in values]  # type: ignore[arg-type]


def same_cell(openpyxl_value: Any, calamine_value: Any) -> Any:
    """openpyxl's value when calamine reads the same cell (calamine's types: floats for
    every number, '' for an empty cell, a date for a date cell), else calamine's."""
    if calamine_value == "" and openpyxl_value is None:
        return None
    if isinstance(openpyxl_value, datetime) and isinstance(calamine_value, date):
        if not isinstance(calamine_value, datetime):
            calamine_value = datetime(calamine_value.year, calamine_value.month, calamine_value.day)
        return openpyxl_value if abs(openpyxl_value - calamine_value) < ONE_MS else calamine_value
    if isinstance(openpyxl_value, int | float) and not isinstance(openpyxl_value, bool):
        return openpyxl_value if float(openpyxl_value) == calamine_value else calamine_value
    return calamine_value


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in path.read_text("utf-8").splitlines()]


READERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "csv": read_csv,
    "xlsx": read_xlsx,
    "jsonl": read_jsonl,
}


def export(
    db: Database,
    org: UUID,
    data_type: DataType,
    raw: dict[str, Any],
    path: Path,
    progress: Callable[[int], None] | None = None,
    **kwargs: Any,
) -> ExportResult:
    options = parse_export_options(data_type, raw)
    with snapshot_transaction(db, org) as conn:
        return write_export(conn, data_type, options, path, progress or (lambda _: None), **kwargs)


IMPORT_CLEAN = "SELECT t, crmferry_clean(t) AS cleaned FROM unnest(%s::text[]) AS t"


def import_cleaned(db: Database, values: list[str]) -> dict[str, str | None]:
    """What an import makes of each cell (`crmferry_clean`, applied to every cell)."""
    with db.anonymous() as conn:
        return {r["t"]: r["cleaned"] for r in conn.execute(IMPORT_CLEAN, [values])}
