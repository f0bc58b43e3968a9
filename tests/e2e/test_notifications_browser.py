"""The bell, the notifications list, the preference and "who was notified" in a real
Chromium, against `crmferry serve` and a real worker (which dispatches the outbox)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from crmferry.db import Database
from tests.conftest import Org
from tests.e2e.conftest import NewPage, screenshot

pytestmark = pytest.mark.browser

FAIL_A_JOB = """
WITH job AS (
    INSERT INTO scheduled_jobs (organization_id, created_by, creator_name, job_type, data_type,
                                scheduled_time)
    VALUES (%(org)s, %(user)s, 'Member User', 'export', 'contacts', now() + interval '1 day')
    RETURNING id
)
SELECT id FROM job
"""


def fail_a_job(db: Database, org: Org) -> Any:
    """A member's job that fails (its event goes to the worker's dispatch)."""
    with db.owner_connect() as conn:
        row = conn.execute(FAIL_A_JOB, {"org": str(org.id), "user": org.member.user_id}).fetchone()
        assert row is not None
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'failed', completed_at = now(),"
            " error_message = 'the feed was empty' WHERE id = %s",
            [row["id"]],
        )
    return row["id"]


def test_the_bell_counts_live_the_list_links_the_job_and_marks_read(
    new_page: NewPage, db: Database, org: Org
) -> None:
    page = new_page(org, org.member)
    page.goto("/jobs")
    count = page.locator("[data-bell-count]")
    expect(count).to_be_hidden()
    job_id = fail_a_job(db, org)
    expect(count).to_have_text("1", timeout=30_000)  # over the event stream, no reload
    screenshot(page, "bell")
    page.get_by_test_id("bell").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    item = page.get_by_test_id("notifications").locator("li").first
    expect(item).to_contain_text("Export of contacts failed: the feed was empty")
    screenshot(page, "notifications")
    item.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/jobs\?job={job_id}$"))
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_have_class(re.compile("highlight"))
    row.get_by_test_id("show-notified").click()
    expect(row.get_by_test_id("notified")).to_contain_text("In the app: Member User — sent")
    page.goto("/notifications")
    page.get_by_test_id("read-all").click()
    expect(page.locator("[data-bell-count]")).to_be_hidden()
    expect(page.get_by_test_id("mark-read")).to_be_hidden()


def test_the_preference_is_saved_in_settings(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.goto("/settings")
    page.get_by_test_id("notify-preference").select_option("all")
    page.get_by_role("button", name="Save preference").click()
    expect(page.locator("#notify-form .status")).to_have_text(
        "Saved: you are told of every outcome."
    )
    page.reload()
    expect(page.get_by_test_id("notify-preference")).to_have_value("all")
