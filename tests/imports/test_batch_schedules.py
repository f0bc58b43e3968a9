"""Recurring batch imports: a schedule whose files each come from a URL of their own;
every run downloads them all, types and maps them from their headers, and imports them
as one batch job (all or nothing)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.imports.test_batch import CONTACTS, LINES, PRODUCTS, QUOTES
from tests.imports.test_sources import Answer, Feed, feed, fire_and_run, stored_files

__all__ = ["feed"]

FILES = {"/q.csv": QUOTES, "/l.csv": LINES, "/p.csv": PRODUCTS, "/c.csv": CONTACTS}


def _schedule(client: TestClient, org: Org, feed: Feed, **extra: Any) -> Any:
    body = {
        "name": "Nightly CRM move",
        "job_type": "import_batch",
        "cron": "0 2 * * *",
        "timezone": "Europe/Paris",
        "options": {
            "items": [{"source": {"type": "url", "url": feed.url(path)}} for path in FILES],
            **extra,
        },
    }
    return client.post("/api/v1/schedules", headers=org.member.headers, json=body)


def _serve(feed: Feed) -> None:
    for path, content in FILES.items():
        feed.answers[path] = Answer(body=content.encode())


def test_each_run_downloads_every_file_and_imports_them_as_one_batch(
    app_client: TestClient, db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    _serve(feed)
    created = _schedule(app_client, org, feed)
    assert created.status_code == 201, created.text
    assert (created.json()["job_type"], created.json()["data_type"]) == ("import_batch", "batch")
    job = fire_and_run(db, settings, org, created.json()["id"])
    assert job["status"] == "completed", job["error_message"]
    assert [i["data_type"] for i in job["items"]] == ["inventory", "contacts", "bids", "bid_items"]
    assert [i["file_name"] for i in job["items"]] == ["p.csv", "c.csv", "q.csv", "l.csv"]
    assert job["counts"]["inserted"] == 9
    again = fire_and_run(db, settings, org, created.json()["id"])
    assert again["status"] == "completed" and again["counts"]["unchanged"] == 9


def test_a_run_whose_last_file_cannot_be_fetched_keeps_nothing_of_any_file(
    app_client: TestClient, db: Database, settings: Settings, org: Org, feed: Feed
) -> None:
    _serve(feed)
    del feed.answers["/c.csv"]
    created = _schedule(app_client, org, feed)
    before = stored_files(settings, org)
    job = fire_and_run(db, settings, org, created.json()["id"])
    assert job["status"] == "failed"
    assert feed.url("/c.csv") in job["error_message"]
    with db.tenant(org.id) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM bids) + (SELECT count(*) FROM uploads) AS n"
        ).fetchone()
    assert counts is not None and counts["n"] == 0
    assert stored_files(settings, org) == before


def test_a_batch_schedule_names_a_source_for_every_file(
    app_client: TestClient, org: Org, feed: Feed
) -> None:
    body = {
        "name": "Broken",
        "job_type": "import_batch",
        "cron": "0 2 * * *",
        "timezone": "UTC",
        "options": {"items": [{"source": {"type": "url", "url": "ftp://x/y.csv"}}]},
    }
    response = app_client.post("/api/v1/schedules", headers=org.member.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith("options.items[0].source")
