"""A move from another CRM in a real browser: four linked files dropped at once, each
typed from its headers, dry-run, then imported as one batch by a real worker."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crmferry.db import Database
from tests.conftest import Org
from tests.e2e.conftest import NewPage, screenshot
from tests.imports.test_batch import CONTACTS, LINES, PRODUCTS, QUOTES

pytestmark = pytest.mark.browser

JOB_DONE = 180_000
FILES = [
    ("quote_lines.csv", LINES),
    ("quotes.csv", QUOTES),
    ("products.csv", PRODUCTS),
    ("contacts.csv", CONTACTS),
]


def _count(db: Database, org: Org, table: str) -> int:
    with db.tenant(org.id) as conn:
        row = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
    assert row is not None
    return int(row["n"])


def test_dropped_files_are_typed_dry_run_imported_as_one_batch_and_exported_with_lines(
    new_page: NewPage, org: Org, db: Database, tmp_path: Path
) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    batch = page.locator("[data-batch-import]")
    batch.get_by_label("Choose or drop CSV, XLSX or ZIP files").set_input_files(
        [
            {"name": name, "mimeType": "text/csv", "buffer": content.encode()}
            for name, content in FILES
        ]
    )
    types = batch.get_by_test_id("batch-type")
    expect(types).to_have_count(4)
    assert [types.nth(i).input_value() for i in range(4)] == [
        "bid_items",
        "bids",
        "inventory",
        "contacts",
    ]
    batch.get_by_role("button", name="Dry run").click()
    done = batch.locator(".job-line[data-status='completed']")
    expect(done).to_contain_text("Dry run: 9 inserted", timeout=JOB_DONE)
    expect(batch.get_by_test_id("batch-item")).to_have_count(4)
    assert _count(db, org, "bid_items") == 0
    batch.get_by_role("button", name="Import now").click()
    expect(batch.locator(".job-line[data-status='completed']")).to_contain_text(
        "9 inserted", timeout=JOB_DONE
    )
    expect(batch.locator(".job-line")).not_to_contain_text("Dry run")
    screenshot(page, "flow-batch-import")
    assert [_count(db, org, t) for t in ("contacts", "inventory", "bids", "bid_items")] == [
        2,
        2,
        2,
        3,
    ]

    # the bids they made, exported with their lines and the amount from them
    card = page.locator('[data-type="bids"]')
    card.locator(".export-panel summary").click()
    card.get_by_label("Include each record's bid items", exact=False).check()
    card.get_by_label("Amount from the bid items' totals").check()
    card.get_by_role("button", name="Export now").click()
    line = card.locator(".export-form .job-line[data-status='completed']")
    expect(line).to_be_visible(timeout=JOB_DONE)
    with page.expect_download() as download:
        line.get_by_test_id("download-result").click()
    path = tmp_path / "bids.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [(r["bid_number"], r["amount"], r["items.line_number"]) for r in rows] == [
        ("Q-1", "22.00", "1"),
        ("Q-1", "22.00", "2"),
        ("Q-2", "5.00", "1"),
    ]
