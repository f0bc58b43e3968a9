"""Export files: each format × each data type read back, formula injection, RFC 4180,
Unicode and multi-line values, typed XLSX and JSON Lines, progress and cancellation,
one snapshot, tenancy, bounded memory, and result file names."""

from __future__ import annotations

import csv
import io
import json
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import psutil
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet._writer import ALL_TEMP_FILES as openpyxl_temp_files
from psycopg import sql

from crmferry.db import Database
from crmferry.errors import JobCancelled
from crmferry.exports import xlsx_writer
from crmferry.exports.formulas import neutralise_formula, neutralise_formula_sql
from crmferry.exports.naming import result_file_name
from crmferry.exports.options import TEXT_LIKE, export_field, parse_export_options
from crmferry.exports.snapshot import snapshot_transaction
from crmferry.exports.streams import CopyStream, copy_into_files
from crmferry.exports.writers import ExportResult, write_export
from crmferry.records import BIDS, CONTACTS, INVENTORY, DataType

from .conftest import Insert, cancel_at_second_chunk

# formula neutralisation -------------------------------------------------------------------

FORMULA_CASES = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\rx", "'\rx"),
    ("+1 555 0100", "'+1 555 0100"),  # a phone number in a text field: prefixed too
    ("-5", "'-5"),  # a signed number in a text field: prefixed too
    ("'=already quoted", "''=already quoted"),  # keeps the rule reversible
    ("''+x", "'''+x"),
    ("'", "'"),
    ("'plain", "'plain"),
    ("", ""),
    ("a=1", "a=1"),
    (" =1", " =1"),
    ("Zoë 😀", "Zoë 😀"),
    ("5-3", "5-3"),
]


NEUTRALISE_ONE = sql.SQL("SELECT {} AS v FROM (SELECT %s::text AS t) AS x").format(
    neutralise_formula_sql(sql.Identifier("t"))
)


@pytest.mark.parametrize(("value", "expected"), FORMULA_CASES)
def test_neutralise_formula(value: str, expected: str) -> None:
    assert neutralise_formula(value) == expected


IMPORT_CLEAN = "SELECT t, crmferry_clean(t) AS cleaned FROM unnest(%s::text[]) AS t"


def import_cleaned(db: Database, values: list[str]) -> dict[str, str | None]:
    """What an import makes of each cell (`crmferry_clean`, applied to every cell)."""
    with db.anonymous() as conn:
        return {r["t"]: r["cleaned"] for r in conn.execute(IMPORT_CLEAN, [values])}


def test_an_import_takes_the_quote_off_again(db: Database) -> None:
    """Text as an import stores it (cleaned), exported (neutralised) and imported back, is
    the same text: the import's cleaning is the rule's inverse (also for text led by a
    tab or CR, which no import stores but records made otherwise may hold)."""
    stored = [v for v in import_cleaned(db, [v for v, _ in FORMULA_CASES]).values() if v]
    stored += ["'\t=1", "''\r+1", "\t=1", "\rx"]
    exported = {value: neutralise_formula(value) for value in stored}
    back = import_cleaned(db, list(exported.values()))
    assert {value: back[cell] for value, cell in exported.items()} == {v: v for v in stored}


def test_sql_rule_is_the_python_rule(db: Database, new_org: Callable[[], UUID]) -> None:
    values = [v for v, _ in FORMULA_CASES] + ["''", "'\t", "@", "=", "-", "\r", "x'=", None]
    with snapshot_transaction(db, new_org()) as conn:
        for value in values:
            row = conn.execute(NEUTRALISE_ONE, [value]).fetchone()
            assert row is not None
            assert row["v"] == (None if value is None else neutralise_formula(value)), value


def test_sql_rule_is_the_python_rule_for_every_first_character(db: Database) -> None:
    """Each ASCII character (and a few others) first, alone, after quotes, before text:
    every branch of the SQL's tests on the first character's code."""
    firsts = [chr(c) for c in range(1, 128)] + ["é", "Ω", "😀", "\u00a0"]
    values = [v for c in firsts for v in (c, c + "x=1", "'" + c, "''" + c + "1")]
    query = sql.SQL("SELECT t, {} AS v FROM unnest(%s::text[]) AS t").format(
        neutralise_formula_sql(sql.Identifier("t"))
    )
    with db.anonymous() as conn:
        rows = conn.execute(query, [values]).fetchall()
    assert [(r["t"], r["v"]) for r in rows] == [(v, neutralise_formula(v)) for v in values]


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))
def test_sql_rule_matches_python_on_any_text(db: Database, value: str) -> None:
    with db.anonymous() as conn:
        row = conn.execute(NEUTRALISE_ONE, [value]).fetchone()
    assert row is not None and row["v"] == neutralise_formula(value)


# records of every data type -----------------------------------------------------------------

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


@pytest.fixture
def filled_org(new_org: Callable[[], UUID], insert: Insert) -> UUID:
    """An organization with the rows above; Q-1 is linked to the first contact."""
    org = new_org()
    contact_ids = insert("contacts", org, CONTACT_ROWS)
    insert("inventory", org, INVENTORY_ROWS)
    insert("bids", org, [{**BID_ROWS[0], "contact_id": contact_ids[0]}, BID_ROWS[1]])
    return org


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
            return value.replace("\r\n", "\n").replace("\r", "\n")  # XML normalises line ends
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        return value
    return value.isoformat() if isinstance(value, date) else value


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    width = len(header)
    padded = (row + (None,) * (width - len(row)) for row in rows)  # read-only rows end early
    return [dict(zip(header, row, strict=True)) for row in padded]  # type: ignore[arg-type]


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


# each format × each data type -------------------------------------------------------------


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


# CSV --------------------------------------------------------------------------------------


def test_csv_rfc4180_quoting_and_bom(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    export(db, filled_org, CONTACTS, {"fields": ["company", "notes", "phone", "name"]}, path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcompany,notes,phone,name\n")
    text = data.decode("utf-8-sig")
    first = '"Acme, ""Best"" Inc.","line one\nline two\r\nline three",\'+1 555 0100,Zoë Ñúñez 😀\n'
    assert text.split("\n", 1)[1].startswith(first)
    assert '"\'=HYPERLINK(""http://evil.example"",""x"")"' in text
    assert text.endswith("#N/A,,Plain; semi|pipe\ttab\n")


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


# XLSX -------------------------------------------------------------------------------------


def test_xlsx_cells_are_typed(db: Database, filled_org: UUID, tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    export(
        db,
        filled_org,
        INVENTORY,
        {"format": "xlsx", "fields": ["sku", "quantity", "cost", "description", "created_at"]},
        path,
    )
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.title == "Inventory"
    assert [c.value for c in sheet[1]] == ["sku", "quantity", "cost", "description", "created_at"]
    _, quantity, cost, description, created = sheet[2]
    assert (quantity.value, quantity.data_type) == (3, "n")
    assert (cost.value, cost.data_type, cost.number_format) == (-5, "n", "0.00")
    assert (description.value, description.data_type) == ("'=1+1", "s")
    assert created.value == datetime(2024, 1, 1)  # UTC, naive
    assert created.is_date
    assert (sheet["A3"].value, sheet["A3"].data_type) == ("'-5", "s")
    assert sheet["B3"].value == -7


def test_xlsx_text_that_looks_like_an_error_code_stays_text(
    db: Database, filled_org: UUID, tmp_path: Path
) -> None:
    path = tmp_path / "e.xlsx"
    export(
        db,
        filled_org,
        CONTACTS,
        {
            "format": "xlsx",
            "fields": ["notes"],
            "filters": [{"field": "notes", "op": "eq", "value": "#N/A"}],
        },
        path,
    )
    cell = openpyxl.load_workbook(path).worksheets[0]["A2"]
    assert (cell.value, cell.data_type) == ("#N/A", "s")


def test_xlsx_drops_control_characters_xml_cannot_hold(
    db: Database, new_org: Callable[[], UUID], insert: Insert, tmp_path: Path
) -> None:
    org = new_org()
    insert("contacts", org, [{"name": "bell\x07 and \x1b escape", "notes": "tab\tkept"}])
    path = tmp_path / "x.xlsx"
    export(db, org, CONTACTS, {"format": "xlsx", "fields": ["name", "notes"]}, path)
    assert read_xlsx(path) == [{"name": "bell and  escape", "notes": "tab\tkept"}]


def test_xlsx_starts_a_new_sheet_when_one_is_full(
    db: Database, filled_org: UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_writer, "MAX_XLSX_ROWS", 2)
    path = tmp_path / "s.xlsx"
    export(db, filled_org, CONTACTS, {"format": "xlsx", "fields": ["status"]}, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Contacts", "Contacts (2)"]
    sheets = [[[c.value for c in row] for row in sheet.iter_rows()] for sheet in book.worksheets]
    assert sheets == [[["status"], ["customer"], ["active"]], [["status"], ["lead"]]]


# JSON Lines ---------------------------------------------------------------------------------


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


# progress, cancellation, snapshot, tenancy --------------------------------------------------


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


def test_an_error_in_the_middle_of_copy_is_raised(
    db: Database, new_org: Callable[[], UUID]
) -> None:
    org = new_org()
    failing = sql.SQL("COPY (SELECT 10 / (3 - g) FROM generate_series(1, 5) AS g) TO STDOUT")
    out = io.BytesIO()
    with (
        pytest.raises(psycopg.errors.DivisionByZero),
        snapshot_transaction(db, org) as conn,
        conn.cursor() as cur,
        cur.copy(failing),
    ):
        copy_into_files([CopyStream(conn.pgconn, out)], lambda _: None, 1)
    assert out.getvalue() in (b"", b"5\n", b"5\n10\n")  # what arrived before the error
    with db.tenant(org) as conn:  # the pool's connection is usable again
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_copy_rows_are_read_exactly(db: Database, new_org: Callable[[], UUID]) -> None:
    statement = sql.SQL(
        "COPY (SELECT g, repeat('x', g) FROM generate_series(1, 3000) AS g) TO STDOUT"
    )
    out, calls = io.BytesIO(), []
    with snapshot_transaction(db, new_org()) as conn, conn.cursor() as cur, cur.copy(statement):
        count = copy_into_files([CopyStream(conn.pgconn, out)], calls.append, 700)
    assert count == 3000 and calls == [700, 1400, 2100, 2800, 3000]
    assert out.getvalue() == b"".join(f"{g}\t{'x' * g}\n".encode() for g in range(1, 3001))


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


# bounded memory ----------------------------------------------------------------------------

BIG = 200_000


@pytest.fixture(scope="module")
def big_org(db: Database) -> UUID:
    """An organization with 200k contacts, made in SQL."""
    with db.owner_connect() as conn:
        row = conn.execute(
            "INSERT INTO organizations (name) VALUES ('Big') RETURNING id"
        ).fetchone()
        assert row is not None
        conn.execute(
            """
            INSERT INTO contacts (organization_id, name, first_name, last_name, email, phone,
                                  company, city, notes, created_at)
            SELECT %s, 'Zoë Núñez ' || i, 'Zoë', 'Núñez', 'user' || i || '@example.com',
                   '+1 555 ' || i, 'Acme, Inc.', 'Montréal', E'line one\\nline "two"',
                   timestamptz '2024-01-01' + i * interval '1 second'
            FROM generate_series(1, %s) AS i
            """,
            [row["id"], BIG],
        )
        return UUID(str(row["id"]))


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
    chunk = 5_000 if fmt == "xlsx" else 10_000  # XLSX reports at each cursor fetch
    assert calls == [chunk, 2 * chunk]
    assert list(tmp_path.iterdir()) == []
    with db.tenant(big_org) as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": BIG}


def peak_rss_growth(work: Callable[[], Any]) -> tuple[Any, int]:
    """Run `work` while sampling this process's RSS; return its result and the growth."""
    process = psutil.Process()
    start = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, peak - start


@pytest.mark.slow
def test_big_xlsx_export_memory_is_bounded(db: Database, big_org: UUID, tmp_path: Path) -> None:
    """XLSX by RSS growth (tracemalloc would slow openpyxl several times over)."""
    path = tmp_path / "big.xlsx"
    result, growth = peak_rss_growth(
        lambda: export(db, big_org, CONTACTS, {"format": "xlsx"}, path)
    )
    assert result.record_count == BIG
    print(f"xlsx RSS growth {growth / 1e6:.1f} MB")
    assert growth < 60_000_000, f"RSS grew {growth / 1e6:.1f} MB"
    assert f'<row r="{BIG + 1}"'.encode() in xlsx_sheet_tail(path)


def xlsx_sheet_tail(path: Path, size: int = 1 << 16) -> bytes:
    """The last bytes of the first sheet's XML, read as a stream."""
    tail = b""
    with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
        while block := sheet.read(size):
            tail = (tail + block)[-2 * size :]
    return tail


# result file names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "tz", "fmt", "expected"),
    [
        (
            datetime(2024, 5, 1, 7, 30, 5, tzinfo=UTC),
            "Europe/Paris",
            "csv",
            "contacts-20240501-093005.csv",
        ),
        (
            datetime(2024, 1, 1, 3, 0, tzinfo=UTC),
            "America/New_York",
            "xlsx",
            "contacts-20231231-220000.xlsx",
        ),
        (
            datetime(2024, 7, 1, 3, 0, tzinfo=UTC),
            "America/New_York",
            "jsonl",
            "contacts-20240630-230000.jsonl",
        ),
        (datetime(2024, 5, 1, 7, 30, 5), "UTC", "csv", "contacts-20240501-073005.csv"),
        (
            datetime(2024, 5, 1, 7, 30, 5, tzinfo=UTC),
            "Not/AZone",
            "csv",
            "contacts-20240501-073005.csv",
        ),
    ],
)
def test_result_file_name(when: datetime, tz: str, fmt: Any, expected: str) -> None:
    assert result_file_name(CONTACTS, when, tz, fmt) == expected
    assert result_file_name("contacts", when, tz, fmt) == expected
