"""The pages in a real Chromium: sign in, every page, read-only viewers, settings, time zones."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from crmferry.accounts.secrets import hash_password, verify_password
from crmferry.db import Database
from tests.conftest import TEST_PASSWORD, Org
from tests.e2e.conftest import MIN_LEAD_SECONDS, NewPage, screenshot

pytestmark = pytest.mark.browser

PAGES = {
    "import-export": ("/", "Import/Export"),
    "jobs": ("/jobs", "Scheduled Jobs"),
    "schedules": ("/schedules", "Schedules"),
    "contacts": ("/records/contacts", "Contacts"),
    "inventory": ("/records/inventory", "Inventory"),
    "bids": ("/records/bids", "Bids"),
    "settings": ("/settings", "Settings"),
}


def test_sign_in_with_the_form_then_sign_out(new_page: NewPage, org: Org) -> None:
    page = new_page()
    page.goto("/jobs")
    expect(page).to_have_url(re.compile(r"/login\?next=/jobs"))
    screenshot(page, "login")
    page.get_by_label("E-mail").fill(org.admin.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.get_by_test_id("user")).to_contain_text("Admin User")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))


def test_wrong_password_is_shown_on_the_form(new_page: NewPage, org: Org) -> None:
    page = new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(org.admin.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_with_navigation(new_page: NewPage, org: Org, name: str) -> None:
    path, heading = PAGES[name]
    page = new_page(org, org.admin)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # what the Content-Security-Policy blocks is reported on the console
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and errors.append(message.text),
    )
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=heading, exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("organization")).to_contain_text("Acme")
    page.wait_for_load_state("networkidle")
    screenshot(page, f"page-{name}")
    assert errors == []


def test_phone_width_keeps_navigation_usable(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Scheduled Jobs")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(page, "phone-import-export")


def test_keyboard_reaches_the_first_link_with_a_visible_focus(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member)
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


@pytest.mark.parametrize("path", ["/", "/jobs", "/schedules", "/settings"])
def test_a_viewer_sees_no_write_buttons(new_page: NewPage, org: Org, path: str) -> None:
    page = new_page(org, org.viewer)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    for label in [
        "Import now",
        "Dry run",
        "Schedule for Later",
        "Export now",
        "Create schedule",
        "Cancel",
        "Delete",
        "Retry",
        "Revert",
        "Invite",
        "Create token",
    ]:
        expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)
    screenshot(page, f"viewer{path.replace('/', '-') or '-root'}")


def test_records_page_searches(new_page: NewPage, org: Org, db: Database) -> None:
    with db.tenant(org.id) as conn:
        conn.execute(
            """
            INSERT INTO contacts (organization_id, name, email)
            VALUES (%(org)s, 'Ada Lovelace', 'ada@example.com'),
                   (%(org)s, 'Grace Hopper', 'grace@example.com')
            """,
            {"org": org.id},
        )
    page = new_page(org, org.viewer)
    page.goto("/records/contacts")
    table = page.get_by_test_id("records")
    expect(table).to_contain_text("Ada Lovelace")
    page.get_by_label("Search contacts").fill("hopper")
    page.get_by_role("button", name="Search").click()
    expect(table).to_contain_text("Grace Hopper")
    expect(table).not_to_contain_text("Ada Lovelace")
    expect(page.get_by_test_id("record-count")).to_contain_text("1 contacts")


def test_admin_creates_a_token_shown_once_and_revokes_it(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.admin)
    page.goto("/settings")
    page.get_by_label("Name", exact=True).last.fill("nightly sync")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token")
    expect(token).to_have_text(re.compile(r"^cf_"))
    row = page.locator("#tokens tr", has_text="nightly sync")
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text(token.inner_text())
    screenshot(page, "settings-token")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(row.locator(".badge")).to_have_text("Revoked")


def test_member_form_shows_the_field_error_in_place(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.admin)
    page.goto("/settings")
    form = page.locator("#member-form")
    form.get_by_label("E-mail").fill("not-an-address")
    form.get_by_role("button", name="Invite").click()
    error = form.locator('[data-error-for="email"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("@-sign")
    expect(form.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")


def test_an_invited_person_chooses_a_password_and_arrives_signed_in(
    new_page: NewPage, org: Org
) -> None:
    admin = new_page(org, org.admin)
    admin.goto("/settings")
    email = f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    form = admin.locator("#member-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Role").select_option("viewer")
    form.get_by_role("button", name="Invite").click()
    link = admin.get_by_test_id("invite-url")
    expect(link).to_contain_text("/invite/cf_")
    pending = admin.locator("#invitations tr", has_text=email)
    expect(pending).to_have_count(1)
    screenshot(admin, "settings-invitation")

    invitee = new_page()
    invitee.goto(link.inner_text())
    expect(invitee.get_by_role("heading", level=1)).to_contain_text("Join Acme")
    expect(invitee.get_by_test_id("invited-email")).to_have_text(email)
    invitee.get_by_label("Your name").fill("Ivy Invitee")
    invitee.get_by_label("Choose a password (at least 8 characters)").fill("ivy's own secret")
    invitee.get_by_label("The password again").fill("ivy's own secret")
    screenshot(invitee, "invitation")
    invitee.get_by_role("button", name="Create my account and join").click()
    expect(invitee.get_by_test_id("user")).to_contain_text("Ivy Invitee")
    expect(invitee.get_by_test_id("organization")).to_contain_text("Acme")

    admin.reload()
    expect(admin.locator("#members tr", has_text=email)).to_have_count(1)
    expect(admin.locator("#invitations tr", has_text=email)).to_have_count(0)


def test_a_user_changes_their_password_on_the_settings_page(
    new_page: NewPage, org: Org, db: Database
) -> None:
    page = new_page(org, org.viewer)
    page.goto("/settings")
    form = page.locator("#password-form")
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s",
            [hash_password(TEST_PASSWORD), org.viewer.user_id],
        )
    form.get_by_label("Current password").fill(TEST_PASSWORD)
    form.get_by_label("New password (at least 8 characters)").fill("viewer's new secret")
    form.get_by_label("New password again").fill("viewer's new secret")
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("status")).to_contain_text("Password changed")
    with db.owner_connect() as conn:
        row = conn.execute(
            "SELECT password_hash FROM users WHERE id = %s", [org.viewer.user_id]
        ).fetchone()
    assert row is not None and verify_password(row["password_hash"], "viewer's new secret")


def test_admin_changes_a_members_role(new_page: NewPage, org: Org, db: Database) -> None:
    page = new_page(org, org.admin)
    page.goto("/settings")
    page.get_by_label(f"Role of {org.viewer.email}").select_option("member")
    expect(page.locator("#members-error")).to_be_hidden()

    def role() -> Any:
        with db.tenant(org.id) as conn:
            row = conn.execute(
                "SELECT role FROM memberships WHERE user_id = %s", [org.viewer.user_id]
            ).fetchone()
        return row and row["role"]

    for _ in range(50):
        if role() == "member":
            break
        page.wait_for_timeout(100)
    assert role() == "member"


def test_schedule_dialog_in_tokyo_shows_tokyo_time_and_the_lead(
    new_page: NewPage, org: Org
) -> None:
    page = new_page(org, org.member, timezone_id="Asia/Tokyo")
    page.goto("/")
    card = page.locator('[data-type="contacts"]')
    card.get_by_text("Export contacts").click()
    card.get_by_role("button", name="Schedule for Later").click()
    dialog = page.get_by_role("dialog", name="Schedule for Later")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("dialog-timezone")).to_have_text("Asia/Tokyo")
    picker = dialog.get_by_label("Date and time")
    minimum = datetime.fromisoformat(picker.get_attribute("min") or "")
    tokyo_now = datetime.now(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    # the minimum is Tokyo's wall clock plus the lead, rounded up to a minute
    assert tokyo_now + timedelta(seconds=MIN_LEAD_SECONDS) - timedelta(minutes=1) <= minimum
    assert minimum <= tokyo_now + timedelta(seconds=MIN_LEAD_SECONDS, minutes=3)
    picker.fill((minimum + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    words = dialog.get_by_test_id("when-words")
    expect(words).to_contain_text("Asia/Tokyo — in 2 days")
    expect(words).to_contain_text((minimum + timedelta(days=2)).strftime("%H:%M"))
    screenshot(page, "schedule-dialog-tokyo")


def test_schedule_dialog_refuses_a_time_before_the_lead(new_page: NewPage, org: Org) -> None:
    page = new_page(org, org.member, timezone_id="Europe/Berlin")
    page.goto("/")
    card = page.locator('[data-type="bids"]')
    card.get_by_text("Export bids").click()
    card.get_by_role("button", name="Schedule for Later").click()
    dialog = page.get_by_role("dialog", name="Schedule for Later")
    picker = dialog.get_by_label("Date and time")
    past = datetime.now(ZoneInfo("Europe/Berlin")) - timedelta(hours=1)
    picker.fill(past.strftime("%Y-%m-%dT%H:%M"))
    dialog.get_by_role("button", name="Schedule Job").click()
    error = dialog.locator('[data-error-for="scheduled_time"]')
    expect(error).to_contain_text("at least")
    expect(dialog).to_be_visible()


def test_an_export_schedule_of_only_changes_since_the_last_run(
    new_page: NewPage, org: Org, db: Database
) -> None:
    page = new_page(org, org.member)
    page.goto("/schedules")
    page.get_by_label("Name").fill("Nightly changes")
    page.get_by_label("Only changes since the last run").check()
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("form .status")).to_contain_text("Nightly changes")
    with db.tenant(org.id) as conn:
        row = conn.execute(
            "SELECT options FROM schedules WHERE name = 'Nightly changes'"
        ).fetchone()
    assert row is not None and row["options"]["changed_since"] == "last_run"
    # editing it shows the choice, and unticking it makes the schedule a full export again
    page.reload()
    page.get_by_role("button", name="Edit").first.click()
    box = page.get_by_label("Only changes since the last run")
    expect(box).to_be_checked()
    box.uncheck()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("form .status")).to_contain_text("Saved")
    with db.tenant(org.id) as conn:
        row = conn.execute(
            "SELECT options FROM schedules WHERE name = 'Nightly changes'"
        ).fetchone()
    assert row is not None and "changed_since" not in row["options"]
