"""Recurring batch imports: a schedule whose files each come from a URL or an S3 source
(its newest matching object; moto's S3 server on 127.0.0.1) of their own;
every run downloads them all, types and maps them from their headers, and imports them
as one batch job (all or nothing)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from tests.conftest import Org
from tests.customer_buckets import direct_client, new_bucket, s3_endpoint
from tests.imports.test_batch import CONTACTS, LINES, PRODUCTS, QUOTES
from tests.imports.test_s3_source import put, s3_source
from tests.imports.test_sources import Answer, Feed, feed, fire_and_run, stored_files

__all__ = ["feed", "s3_endpoint"]

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


S3_FILES = {"q/quotes.csv": QUOTES, "l/lines.csv": LINES, "p/products.csv": PRODUCTS}


def _s3_schedule(
    client: TestClient, org: Org, bucket: str, endpoint: str, pick: str = "newest"
) -> Any:
    def source(folder: str) -> dict[str, Any]:
        return {**s3_source(f"s3://{bucket}/{folder}/*.csv", endpoint), "pick": pick}

    body = {
        "name": "Nightly bucket move",
        "job_type": "import_batch",
        "cron": "0 2 * * *",
        "timezone": "UTC",
        "options": {"items": [{"source": source(f)} for f in ("q", "l", "p", "c")]},
    }
    return client.post("/api/v1/schedules", headers=org.member.headers, json=body)


def test_a_batch_schedule_takes_the_newest_object_of_each_s3_source(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "c/old.csv", CONTACTS.replace("Ada", "Old Ada").encode())
    put(s3_endpoint, bucket, "c/contacts.csv", CONTACTS.encode())
    for key, content in S3_FILES.items():
        direct_client(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=content.encode())
    created = _s3_schedule(app_client, org, bucket, s3_endpoint)
    assert created.status_code == 201, created.text
    assert "secret_access_key" not in created.text
    job = fire_and_run(db, settings, org, created.json()["id"])
    assert job["status"] == "completed", job["error_message"]
    assert [i["file_name"] for i in job["items"]] == [
        "products.csv",
        "contacts.csv",
        "quotes.csv",
        "lines.csv",
    ]
    assert job["counts"]["inserted"] == 9
    with db.tenant(org.id) as conn:
        names = conn.execute("SELECT name FROM contacts ORDER BY name").fetchall()
    assert [n["name"] for n in names] == ["Ada Lovelace", "Alan Turing"]


def test_a_batch_whose_s3_object_is_missing_keeps_nothing_of_any_file(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    for key, content in S3_FILES.items():  # no contacts object
        direct_client(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=content.encode())
    created = _s3_schedule(app_client, org, bucket, s3_endpoint)
    job = fire_and_run(db, settings, org, created.json()["id"])
    assert job["status"] == "failed"
    assert f"s3://{bucket}/c/*.csv" in job["error_message"], job["error_message"]
    with db.tenant(org.id) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM inventory) + (SELECT count(*) FROM uploads) AS n"
        ).fetchone()
    assert counts is not None and counts["n"] == 0


def test_each_new_is_refused_in_a_batch_schedule(
    app_client: TestClient, org: Org, s3_endpoint: str
) -> None:
    response = _s3_schedule(app_client, org, "some-bucket", s3_endpoint, "each_new")
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "options.items[0].source.pick"
    assert "newest" in error["message"]
