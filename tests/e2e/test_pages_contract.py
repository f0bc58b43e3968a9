"""The live pages against API.md's shapes: answers are served by Playwright routes in the
contract's exact form, so the pages' use of the contract is checked on its own.
(The same pages against the real API and worker: test_job_flows.py.)
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.conftest import Org
from tests.e2e.conftest import NewPage, screenshot

pytestmark = pytest.mark.browser


def job(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "00000000-0000-4000-8000-000000000001",
        "organization_id": "o",
        "created_by": "u",
        "creator_name": "Member User",
        "job_type": "export",
        "data_type": "contacts",
        "status": "pending",
        "scheduled_time": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "created_at": datetime.now(UTC).isoformat(),
        "started_at": None,
        "completed_at": None,
        "error_message": None,
        "record_count": None,
        "file_name": None,
        "priority": 0,
        "attempts": 0,
        "cancel_requested": False,
        "progress": {"done": 0, "total": None},
        "counts": {"inserted": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0},
        "options": {"format": "csv"},
        "schedule_id": None,
        "result_url": None,
        "error_report_url": None,
    }
    return {**base, **fields}


PENDING = job()
RUNNING = job(
    id="00000000-0000-4000-8000-000000000002",
    job_type="import",
    status="processing",
    file_name="big.csv",
    started_at=(datetime.now(UTC) - timedelta(seconds=10)).isoformat(),
    progress={"done": 400, "total": 1000},
)
DONE = job(
    id="00000000-0000-4000-8000-000000000003",
    job_type="import",
    status="completed",
    file_name="people.csv",
    started_at=(datetime.now(UTC) - timedelta(minutes=3)).isoformat(),
    completed_at=(datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    counts={"inserted": 7, "updated": 2, "unchanged": 1, "skipped": 0, "failed": 3},
    error_report_url="/api/v1/jobs/00000000-0000-4000-8000-000000000003/errors",
    options={"mode": "upsert"},
)


def serve_jobs(route: Route) -> None:
    url = route.request.url
    if "status=pending" in url:
        items = [PENDING]
    elif "status=processing" in url:
        items = [RUNNING]
    else:
        items = [PENDING, RUNNING, DONE]
    route.fulfill(json={"items": items, "next_cursor": None})


def test_jobs_page_shows_pending_running_and_history(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member, timezone_id="Europe/Berlin")
    page.route("**/api/v1/jobs?*", serve_jobs)
    page.route("**/api/v1/events", lambda route: route.fulfill(status=404))
    page.goto("/jobs")
    pending = page.locator("#pending-jobs tr[data-status='pending']")
    expect(pending).to_contain_text("Member User")
    expect(pending.locator(".countdown")).to_have_text(re.compile(r"^1:5\d:\d\d$"))
    running = page.locator("#running-jobs tbody tr")
    expect(running.locator("progress")).to_have_attribute("value", "400")
    expect(running).to_contain_text("400 / 1000 rows")
    history = page.locator("#history-jobs tr[data-status='completed']")
    expect(history.locator(".badge")).to_have_text("Completed")
    expect(history.locator(".counts")).to_have_text(
        "7 inserted · 2 updated · 1 unchanged · 3 failed"
    )
    expect(history.get_by_role("link", name="Error report")).to_have_attribute(
        "href", DONE["error_report_url"]
    )
    for name in ("Revert", "Delete"):
        expect(history.get_by_role("button", name=name)).to_be_visible()
    screenshot(page, "contract-jobs")


def test_jobs_page_cancel_asks_first_and_posts_cancel(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.route("**/api/v1/jobs?*", serve_jobs)
    page.route("**/api/v1/events", lambda route: route.fulfill(status=404))
    posted: list[str] = []

    def cancel(route: Route) -> None:
        posted.append(route.request.url)
        route.fulfill(json={**PENDING, "status": "cancelled"})

    page.route(f"**/api/v1/jobs/{PENDING['id']}/cancel", cancel)
    page.goto("/jobs")
    row = page.locator("#pending-jobs tr[data-status='pending']")
    page.once("dialog", lambda confirm: confirm.dismiss())
    row.get_by_role("button", name="Cancel").click()
    assert posted == []
    page.once("dialog", lambda confirm: confirm.accept())
    row.get_by_role("button", name="Cancel").click()
    expect(page.locator("#history-jobs tr[data-status='cancelled']")).to_have_count(1)
    assert len(posted) == 1


def test_a_job_event_moves_a_row_live(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.viewer)
    page.route("**/api/v1/jobs?*", serve_jobs)
    finished = {**RUNNING, "status": "completed", "completed_at": datetime.now(UTC).isoformat()}
    page.route(
        "**/api/v1/events",
        lambda route: route.fulfill(
            headers={"Content-Type": "text/event-stream"},
            body=f"retry: 60000\nevent: job\ndata: {json.dumps(finished)}\n\n",
        ),
    )
    page.goto("/jobs")
    expect(page.locator("#history-jobs tr[data-status='completed']")).to_have_count(2)
    expect(page.locator("#running-jobs tbody tr")).to_have_count(0)
    # a viewer: downloads only
    expect(page.get_by_role("button", name="Revert")).to_have_count(0)


UPLOAD = {
    "id": "00000000-0000-4000-8000-0000000000aa",
    "file_name": "people.csv",
    "size_bytes": 80,
    "format": "csv",
    "encoding": "utf-8",
    "delimiter": ";",
    "headers": ["Full Name", "Mail", "Notes"],
    "preview": [["Ada Lovelace", "ada@example.com", "first"]],
    "row_estimate": 1,
    "suggested_mapping": {"Full Name": "name", "Mail": "email", "Notes": None},
}


def test_import_flow_sends_the_mapping_and_tokyo_wall_time(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member, timezone_id="Asia/Tokyo")
    sent: list[dict[str, Any]] = []
    page.route("**/api/v1/uploads", lambda route: route.fulfill(status=201, json=UPLOAD))
    page.route("**/api/v1/templates?*", lambda route: route.fulfill(json={"items": []}))

    def create(route: Route) -> None:
        body = route.request.post_data_json
        sent.append(body)
        route.fulfill(
            status=201,
            json=job(
                job_type="import",
                scheduled_time="2031-01-07T00:30:00+00:00",
                file_name="people.csv",
            ),
        )

    page.route("**/api/v1/jobs", create)
    page.goto("/")
    card = page.locator('[data-type="contacts"]')
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": b"x"}]
    )
    expect(card.locator(".file-facts")).to_contain_text("encoding utf-8 · delimiter “;”")
    expect(card.locator(".mapping").get_by_label("Mail", exact=True)).to_have_value("email")
    expect(card.locator(".mapping").get_by_label("Notes", exact=True)).to_have_value("")
    card.locator(".mapping").get_by_label("Notes", exact=True).select_option("notes")
    card.get_by_label("When a row is bad").select_option("abort")
    card.get_by_role("button", name="Schedule for Later").click()
    dialog = page.get_by_role("dialog", name="Schedule for Later")
    dialog.get_by_label("Date and time").fill("2031-01-07T09:30")
    expect(dialog.get_by_test_id("when-words")).to_contain_text("Tue 7 Jan 2031, 09:30 Asia/Tokyo")
    dialog.get_by_role("button", name="Schedule Job").click()
    expect(dialog.get_by_role("status")).to_contain_text("09:30 Asia/Tokyo")
    screenshot(page, "contract-import-scheduled")
    assert sent == [
        {
            "job_type": "import",
            "data_type": "contacts",
            "upload_id": UPLOAD["id"],
            "mapping": {"Full Name": "name", "Mail": "email", "Notes": "notes"},
            "options": {
                "mode": "upsert",
                "on_error": "abort",
                "date_format": "auto",
                "decimal": ".",
                "dry_run": False,
            },
            "scheduled_time": "2031-01-07T09:30:00",
            "timezone": "Asia/Tokyo",
        }
    ]


def test_the_servers_refusal_is_shown_in_the_dialog(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    problem = {
        "type": "x",
        "title": "Validation failed",
        "status": 422,
        "detail": "The scheduled time must be at least 5 minutes ahead.",
        "errors": [{"field": "scheduled_time", "message": "earliest 10:05"}],
    }
    page.route(
        "**/api/v1/jobs",
        lambda route: route.fulfill(
            status=422, body=json.dumps(problem), content_type="application/problem+json"
        ),
    )
    page.goto("/")
    card = page.locator('[data-type="inventory"]')
    card.get_by_text("Export inventory").click()
    card.get_by_role("button", name="Schedule for Later").click()
    dialog = page.get_by_role("dialog", name="Schedule for Later")
    dialog.get_by_role("button", name="Schedule Job").click()
    expect(dialog.locator('[data-error-for="scheduled_time"]')).to_have_text("earliest 10:05")
    expect(dialog.locator("[data-form-error]")).to_contain_text("at least 5 minutes")
    expect(dialog.get_by_role("button", name="Schedule Job")).to_be_enabled()


def test_a_last_name_column_satisfies_a_contacts_name_as_the_api_says(
    new_page: NewPage, org: Org
) -> None:
    """The page reads composed fields from the description: a last name alone is a name
    (the page used to accept only a first name, and refused what the API takes)."""
    page = new_page(org, org.member)
    upload = {
        **UPLOAD,
        "headers": ["Surname", "Mail"],
        "preview": [["Lovelace", "ada@example.com"]],
        "suggested_mapping": {"Surname": "last_name", "Mail": "email"},
    }
    sent: list[dict[str, Any]] = []
    page.route("**/api/v1/uploads", lambda route: route.fulfill(status=201, json=upload))
    page.route("**/api/v1/templates?*", lambda route: route.fulfill(json={"items": []}))

    def create(route: Route) -> None:
        sent.append(route.request.post_data_json)
        route.fulfill(status=201, json=job(job_type="import", status="completed"))

    page.route("**/api/v1/jobs", create)
    page.goto("/")
    card = page.locator('[data-type="contacts"]')
    card.get_by_label("Choose or drop a CSV or XLSX file").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": b"x"}]
    )
    expect(card.locator(".mapping").get_by_label("Surname", exact=True)).to_have_value("last_name")
    card.get_by_role("button", name="Import now").click()
    expect(card.locator(".job-status .badge")).to_have_text("Completed")
    assert [body["mapping"] for body in sent] == [{"Surname": "last_name", "Mail": "email"}]
    card.locator(".mapping").get_by_label("Surname", exact=True).select_option("")
    card.get_by_role("button", name="Import now").click()
    expect(card.locator('[data-error-for="mapping"]')).to_have_text("Not mapped: Name.")
    assert len(sent) == 1


def test_export_filters_offer_the_servers_operators(new_page: NewPage, org: Org) -> None:
    from crmferry.exports.filters import OPERATOR_LABELS

    page = new_page(org, org.member)
    page.goto("/")
    card = page.locator('[data-type="bids"]')
    card.get_by_text("Export bids").click()
    card.get_by_role("button", name="Add filter").click()
    options = card.locator(".filter-op option")
    expect(options).to_have_count(len(OPERATOR_LABELS))
    assert options.evaluate_all("els => els.map(e => e.value)") == list(OPERATOR_LABELS)
