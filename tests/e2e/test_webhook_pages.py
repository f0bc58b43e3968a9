"""Settings → Webhooks and Settings → Audit log in a real Chromium, against the served
app and a worker delivering to a real receiver on 127.0.0.1."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook as Verifier

from tests.conftest import Org
from tests.e2e.conftest import NewPage, screenshot
from tests.webhooks.receiver import receiver

pytestmark = pytest.mark.browser


def test_admin_adds_an_endpoint_tests_rotates_and_replays(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.admin)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with receiver() as hook:
        page.goto("/settings/webhooks")
        page.get_by_label("URL").fill(hook.url)
        page.get_by_label("Description").fill("ERP sync")
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_test_id("new-secret")
        expect(secret).to_have_text(re.compile(r"^whsec_"))
        first_secret = secret.inner_text()
        row = page.locator("#webhooks tr", has_text=hook.url)
        expect(row).to_have_count(1)
        expect(row).not_to_contain_text(first_secret)
        expect(row).to_contain_text("job.completed")

        row.get_by_role("button", name="Send test").click()
        delivered = page.locator("#deliveries tr[data-status='succeeded']")
        expect(delivered).to_have_count(1, timeout=30_000)
        expect(delivered).to_contain_text("webhook.test")
        [got] = hook.received
        assert Verifier(first_secret).verify(got.body, got.headers)["type"] == "webhook.test"
        screenshot(page, "settings-webhooks")

        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Rotate secret").click()
        expect(secret).not_to_have_text(first_secret)
        new_secret = secret.inner_text()
        delivered.get_by_role("button", name="Replay").click()
        replays = page.locator("#deliveries tr", has_text="(replay)")
        expect(replays).to_have_count(1, timeout=30_000)
        hook.wait_for(2)
        again = hook.received[1]
        assert again.headers["webhook-id"] == got.headers["webhook-id"]
        for key in (first_secret, new_secret):  # both sign during the overlap
            Verifier(key).verify(again.body, again.headers)

        row.get_by_role("button", name="Disable").click()
        expect(row).to_contain_text("Disabled")
    assert errors == []


def test_the_audit_page_shows_who_did_what_and_filters(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.admin)
    page.goto("/settings")
    page.get_by_label("Name", exact=True).last.fill("audited token")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("new-token")).to_have_text(re.compile(r"^cf_"))
    page.get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/settings/audit$"))
    entry = page.locator("#audit tr[data-action='token.created']")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(org.admin.email)
    expect(entry).to_contain_text("audited token")
    page.get_by_label("Action").select_option("export.downloaded")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#no-entries")).to_be_visible()
    screenshot(page, "settings-audit")


def test_members_cannot_open_the_admin_pages(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    for path in ("/settings/webhooks", "/settings/audit"):
        response = page.goto(path)
        assert response is not None and response.status == 403
