"""The mapping step in a real Chromium: at a desktop and a phone width every header, its
select, its sample values and its note are readable (no box overlaps another or spills
out of its row), value maps are editable, and the first rows' problems are shown before
the import starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from crmferry.accounts import admin
from crmferry.db import Database
from tests.conftest import Org
from tests.e2e.conftest import NewPage, screenshot
from tests.e2e.test_job_flows import open_panel
from tests.imports.make_tool_exports import OWNERS

pytestmark = pytest.mark.browser

FILES = Path(__file__).resolve().parents[1] / "imports" / "files"

# Every pair of boxes in a mapping row that overlap, every box that leaves its row or
# clips its text, and rows that overlap each other: what "readable" rules out.
LAYOUT_PROBLEMS = """
() => {
  const problems = [];
  const box = (el) => el.getBoundingClientRect();
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const rows = [...document.querySelectorAll('[data-type="contacts"] .mapping-row')];
  rows.forEach((row, i) => {
    const r = box(row);
    const parts = [...row.querySelectorAll("label, select, .mapping-sample, .mapping-note")];
    parts.forEach((el, j) => {
      const b = box(el);
      if (b.left < r.left - 1 || b.right > r.right + 1) problems.push(`row ${i} part ${j} leaves its row`);
      if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== "SELECT") problems.push(`row ${i} part ${j} is clipped`);
      parts.slice(j + 1).forEach((other, k) => { if (overlap(b, box(other))) problems.push(`row ${i}: parts ${j} and ${j + k + 1} overlap`); });
    });
    rows.slice(i + 1).forEach((other, k) => { if (overlap(r, box(other))) problems.push(`rows ${i} and ${i + k + 1} overlap`); });
  });
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push("the page scrolls sideways");
  return {problems, rows: rows.length};
}
"""


def add_owners(db: Database, org: Org) -> None:
    with db.owner_connect() as conn:
        for name, email in OWNERS.items():
            admin.create_user(conn, org.id, email, "member", name=name)


def upload_file(card: Any, name: str) -> None:
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": (FILES / name).read_bytes()}]
    )
    expect(card.locator(".file-facts")).to_contain_text("encoding")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_mapping_step_fits_its_content(
    new_page: NewPage, org: Org, db: Database, width: int
) -> None:
    add_owners(db, org)
    page = new_page(org, org.member)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    upload_file(card, "hubspot_contacts.csv")
    expect(card.locator("[data-testid=mapping-note]").first).to_be_visible()
    layout = page.evaluate(LAYOUT_PROBLEMS)
    screenshot(page, f"mapping-step-{width}")
    assert layout["rows"] == 18
    assert layout["problems"] == []


def test_value_maps_are_editable_and_the_first_rows_are_checked(
    new_page: NewPage, org: Org, db: Database
) -> None:
    add_owners(db, org)
    page = new_page(org, org.member)
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    upload_file(card, "hubspot_contacts.csv")
    expect(card.get_by_label("Contact owner")).to_have_value("owner_name")
    expect(card.get_by_test_id("check-summary")).to_contain_text("3 would be inserted")
    value_map = card.locator("table.value-map[data-field=status]")
    expect(value_map.get_by_label("Subscriber")).to_have_value("lead")
    value_map.get_by_label("Customer").select_option("active")
    # a default that does not fit is refused by the check before anything runs
    card.get_by_role("button", name="Add a default").click()
    card.locator(".default-row .default-field").select_option("phone")
    card.locator(".default-row .default-value").fill("12ab")
    card.get_by_role("button", name="Check the first 1,000 rows").click()
    expect(card.locator(".check-result")).to_contain_text("options.defaults.phone")
    card.locator(".default-row .default-value").fill("+1 555 0100")
    card.get_by_role("button", name="Check the first 1,000 rows").click()
    expect(card.get_by_test_id("check-summary")).to_contain_text("0 with problems")
    card.get_by_role("button", name="Import now").click()
    expect(card.locator(".job-line[data-status=completed]")).to_be_visible()
    with db.tenant(org.id) as conn:
        rows = conn.execute("SELECT email, status, phone FROM contacts ORDER BY email").fetchall()
    assert {(r["email"], r["status"]) for r in rows} == {
        ("maria@acme.example", "lead"),
        ("wei@globex.example", "prospect"),
        ("olu@initech.example", "active"),
    }
    assert {r["phone"] for r in rows} == {"+1 617 555 0101", "+1 555 0100"}


def test_the_first_rows_problems_are_listed(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    card = open_panel(page, "contacts", "import")
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(
        files=[
            {
                "name": "c.csv",
                "mimeType": "text/csv",
                "buffer": b"Name,Email\nAda,ada@example.com\nBob,bob@\nCy,cy@example.com\n",
            }
        ]
    )
    errors = card.get_by_test_id("check-errors")
    expect(errors).to_contain_text("is not a valid e-mail address")
    expect(errors).to_contain_text("bob@")
    expect(card.get_by_test_id("check-summary")).to_contain_text("1 with problems")
    screenshot(page, "mapping-first-rows-390")
