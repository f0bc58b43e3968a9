"""The import page says how a file was read and lets the user change it: an unsure
encoding's note and choice, the header row found, with the preview following."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.conftest import Org
from tests.e2e.conftest import NewPage
from tests.e2e.test_job_flows import open_panel

pytestmark = pytest.mark.browser

FILES = Path(__file__).parent.parent / "imports" / "files"


def _choose(card: object, name: str) -> None:
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(  # type: ignore[attr-defined]
        files=[{"name": name, "mimeType": "text/csv", "buffer": (FILES / name).read_bytes()}]
    )


def test_an_unsure_encoding_is_said_and_another_one_chosen(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    _choose(card, "macroman_euro.csv")
    expect(card.get_by_test_id("encoding-note")).to_contain_text("Mac Roman")
    preview = card.locator("table.preview tbody")
    expect(preview).to_contain_text("Budget 5 000 €")
    card.get_by_test_id("encoding-select").select_option("mac-turkish")
    expect(preview).to_contain_text("Budget 5 000 ğ")
    expect(card.get_by_test_id("encoding-note")).to_be_hidden()


def test_the_header_row_found_is_shown_and_can_be_changed(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    _choose(card, "linkedin_connections.csv")
    expect(card.get_by_test_id("header-row")).to_have_value("4")
    expect(card.locator("table.preview thead")).to_contain_text("Email Address")
    card.get_by_test_id("header-row").fill("1")
    card.get_by_test_id("header-row").press("Enter")
    expect(card.locator("table.preview thead")).to_contain_text("Notes:")


def test_a_workbooks_sheets_are_offered_hidden_ones_marked(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    _choose(card, "legacy_contacts.xls")
    select = card.get_by_test_id("sheet-select")
    expect(select).to_have_value("Contacts")
    expect(select.locator("option")).to_have_text(["Lookups (hidden)", "Contacts", "Notes"])
    expect(card.get_by_test_id("encoding-select")).to_be_hidden()
    select.select_option("Notes")
    expect(card.locator("table.preview thead")).to_contain_text("Author")
    expect(card.locator("table.preview tbody")).to_contain_text("Imported from the old CRM")


def test_another_sheet_finds_its_own_header_row(
    new_page: NewPage, org: Org, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Contacts"
    first.append(["Name", "Email"])
    first.append(["Ada", "ada@example.com"])
    report = book.create_sheet("Report")
    report.append(["Pipeline, Q4"])
    report.append(["Deal", "Stage", "Amount"])
    report.append(["Big one", "won", 1200])
    book.save(tmp_path / "book.xlsx")
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(
        str(tmp_path / "book.xlsx")
    )
    expect(card.get_by_test_id("header-row")).to_have_value("1")
    card.get_by_test_id("sheet-select").select_option("Report")
    expect(card.get_by_test_id("header-row")).to_have_value("2")
    expect(card.locator("table.preview thead")).to_contain_text("Stage")


def test_broken_rows_of_the_preview_are_named_before_the_import(
    new_page: NewPage, org: Org
) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    _choose(card, "hubspot_unclosed_quote.csv")
    expect(card.get_by_test_id("read-problems")).to_contain_text("Row 3, column “Company Name”")
    _choose(card, "hubspot_nul_cell.csv")
    expect(card.get_by_test_id("read-problems")).to_be_hidden()


def test_json_lines_offers_no_encoding_or_header_row_and_names_broken_lines(
    new_page: NewPage, org: Org
) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    lines = b'{"name": "Ada", "email": "ada@example.com"}\n{"name": "Bob" "email": ""}\n'
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(
        files=[{"name": "people.jsonl", "mimeType": "application/x-ndjson", "buffer": lines}]
    )
    expect(card.locator(".file-facts")).to_contain_text("JSONL")
    expect(card.locator("table.preview thead")).to_contain_text("email")
    expect(card.get_by_test_id("encoding-select")).to_be_hidden()
    expect(card.get_by_test_id("header-row")).to_be_hidden()
    expect(card.get_by_test_id("read-problems")).to_contain_text("Row 2 is not valid JSON")
