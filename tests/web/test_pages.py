"""The server-rendered pages: layout, read-only pages for viewers, record tables, settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from crmferry.accounts.auth import open_session
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.records.listing import PAGE_SIZE
from crmferry.web.app import create_app
from crmferry.web.deps import SESSION_COOKIE
from tests.conftest import Member, Org

PAGES = ["/", "/jobs", "/schedules", "/records/contacts", "/records/inventory", "/records/bids"]
WRITE_BUTTONS = ["Import now", "Dry run", "Schedule for Later", "Export now", "Create schedule"]


def browser_for(settings: Settings, db: Database, org: Org, member: Member) -> TestClient:
    client = TestClient(create_app(settings, db), follow_redirects=False)
    secret = open_session(db, org.id, member.user_id, timedelta(hours=1))
    client.cookies.set(SESSION_COOKIE, secret)
    return client


def org_name(db: Database, org: Org) -> str:
    with db.owner_connect() as conn:
        row = conn.execute("SELECT name FROM organizations WHERE id = %s", [org.id]).fetchone()
    assert row is not None
    return str(row["name"])


def add_contacts(db: Database, org: Org, count: int, prefix: str = "Person") -> None:
    with db.tenant(org.id) as conn:
        conn.execute(
            """
            INSERT INTO contacts (organization_id, name, email, company)
            SELECT %s, %s || ' ' || n, lower(%s) || n || '@example.com', 'Company ' || n
              FROM generate_series(1, %s) AS n
            """,
            [org.id, prefix, prefix, count],
        )


@pytest.mark.parametrize("path", [*PAGES, "/settings"])
def test_pages_need_a_session(app_client: TestClient, path: str) -> None:
    response = app_client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_the_shell_shows_navigation_organization_user_and_sign_out(
    settings: Settings, db: Database, org: Org
) -> None:
    client = browser_for(settings, db, org, org.member)
    page = client.get("/")
    assert page.status_code == 200
    for label in [
        "Import/Export",
        "Scheduled Jobs",
        "Schedules",
        "Contacts",
        "Inventory",
        "Bids",
        "Settings",
    ]:
        assert f">{label}</a>" in page.text
    assert org_name(db, org) in page.text
    assert "Member User" in page.text and "Sign out" in page.text
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page.text)


def test_import_export_page_has_a_card_per_data_type_and_the_dialog(
    settings: Settings, db: Database, org: Org
) -> None:
    settings = settings.model_copy(update={"min_lead_seconds": 90})
    client = browser_for(settings, db, org, org.member)
    page = client.get("/").text
    for name in ("contacts", "inventory", "bids"):
        assert f'data-type="{name}"' in page
    for label in [*WRITE_BUTTONS, "View Scheduled Jobs", "Schedule Job"]:
        assert label in page
    assert 'data-min-lead-seconds="90"' in page


@pytest.mark.parametrize("path", PAGES)
def test_viewers_get_read_only_pages(settings: Settings, db: Database, org: Org, path: str) -> None:
    client = browser_for(settings, db, org, org.viewer)
    page = client.get(path)
    assert page.status_code == 200
    assert 'data-can-write="false"' in page.text
    for label in [*WRITE_BUTTONS, "Schedule Job"]:
        assert f">{label}<" not in page.text


def test_records_page_lists_only_the_organizations_rows(
    settings: Settings, db: Database, make_org
) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    add_contacts(db, mine, 3, "Alice")
    add_contacts(db, theirs, 2, "Mallory")
    page = browser_for(settings, db, mine, mine.viewer).get("/records/contacts").text
    assert "Alice 1" in page and "alice3@example.com" in page
    assert "Mallory" not in page
    assert "3 contacts." in page


def test_records_search_matches_any_text_field_literally(
    settings: Settings, db: Database, org: Org
) -> None:
    add_contacts(db, org, 3, "Bob")
    add_contacts(db, org, 2, "Carol")
    client = browser_for(settings, db, org, org.member)
    page = client.get("/records/contacts", params={"q": "carol"}).text
    assert "Carol 1" in page and "Bob 1" not in page
    assert "2 contacts matching" in page
    by_company = client.get("/records/contacts", params={"q": "Company 3"}).text
    assert "Bob 3" in by_company and "Bob 2" not in by_company
    wildcard = client.get("/records/contacts", params={"q": "%"}).text
    assert "0 contacts matching" in wildcard


def test_records_pages_follow_the_cursor_without_repeats(
    settings: Settings, db: Database, org: Org
) -> None:
    add_contacts(db, org, PAGE_SIZE + 5, "Dana")
    client = browser_for(settings, db, org, org.member)
    first = client.get("/records/contacts").text
    match = re.search(r'cursor=([\w-]+)"', first)
    assert match, "a second page link"
    second = client.get("/records/contacts", params={"cursor": match[1]}).text
    emails = lambda html: set(re.findall(r"dana\d+@example\.com", html))  # noqa: E731
    assert len(emails(first)) == PAGE_SIZE and len(emails(second)) == 5
    assert not emails(first) & emails(second)
    assert 'rel="next"' not in second


def test_unknown_data_type_page_is_not_found(settings: Settings, db: Database, org: Org) -> None:
    client = browser_for(settings, db, org, org.member)
    assert client.get("/records/widgets").status_code == 404


def test_settings_shows_members_and_tokens_to_admins_only(
    settings: Settings, db: Database, org: Org
) -> None:
    admin_page = browser_for(settings, db, org, org.admin).get("/settings").text
    assert 'id="members"' in admin_page and 'id="tokens"' in admin_page
    assert "Your time zone" in admin_page and '<option value="Asia/Tokyo"' in admin_page
    viewer_page = browser_for(settings, db, org, org.viewer).get("/settings").text
    assert 'id="members"' not in viewer_page and 'id="tokens"' not in viewer_page
    assert "Your time zone" in viewer_page


def test_the_saved_time_zone_reaches_the_pages(settings: Settings, db: Database, org: Org) -> None:
    client = browser_for(settings, db, org, org.member)
    assert "data-user-timezone" not in client.get("/jobs").text
    csrf = re.search(r'csrf-token" content="([^"]+)"', client.get("/jobs").text)
    assert csrf
    saved = client.patch(
        "/api/v1/me", json={"timezone": "Asia/Tokyo"}, headers={"X-CSRF-Token": csrf[1]}
    )
    assert saved.status_code == 200
    assert 'data-user-timezone="Asia/Tokyo"' in client.get("/jobs").text
