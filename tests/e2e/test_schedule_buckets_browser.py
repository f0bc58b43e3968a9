"""The Schedules page with buckets, in a real Chromium: an import schedule from an S3
source and an export schedule delivering gzip files to an S3 destination; the secret is
sealed, never shown back ("set"), kept when not replaced, replaced when asked. The
export is run by the live worker and its object read from moto's S3 server."""

from __future__ import annotations

import gzip
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from crmferry.db import Database
from tests.conftest import Org
from tests.customer_buckets import direct_client, new_bucket, s3_endpoint
from tests.e2e.conftest import NewPage

__all__ = ["s3_endpoint"]

pytestmark = pytest.mark.browser

SECRET = "page-typed-secret-0001"


def _schedule(db: Database, org: Org, name: str) -> dict[str, Any]:
    with db.tenant(org.id) as conn:
        row = conn.execute(
            "SELECT id, source, options FROM schedules WHERE name = %s", [name]
        ).fetchone()
    assert row is not None
    return row  # type: ignore[no-any-return]


def _fill_credentials(box: Any, key_id: str, secret: str, endpoint: str) -> None:
    box.get_by_label("Access key id").fill(key_id)
    box.get_by_label("Secret key").fill(secret)
    box.get_by_label("Region").fill("eu-west-1")
    box.get_by_label("Endpoint URL").fill(endpoint)


def test_an_import_schedule_from_an_s3_source_keeps_its_secret_sealed_and_unshown(
    new_page: NewPage, org: Org, db: Database, s3_endpoint: str
) -> None:
    page = new_page(org, org.member)
    page.goto("/schedules")
    page.get_by_label("Name").fill("Bucket feed")
    page.get_by_label("Job", exact=True).select_option("import")
    page.get_by_label("Source", exact=True).select_option("s3")
    expect(page.get_by_label("Feed URL (CSV or XLSX)")).to_be_hidden()
    page.get_by_label("Bucket URL").fill("s3://feed-bucket/daily/*.csv")
    page.get_by_label("Pick").select_option("each_new")
    box = page.locator('[data-credentials="src"]')
    _fill_credentials(box, "AKIAPAGE000000000001", SECRET, s3_endpoint)
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("form .status")).to_contain_text("Bucket feed")
    saved = _schedule(db, org, "Bucket feed")
    source = saved["source"]
    assert (source["type"], source["url"], source["pick"]) == (
        "s3",
        "s3://feed-bucket/daily/*.csv",
        "each_new",
    )
    sealed = source["credentials"]["sealed"]
    assert SECRET not in str(source) and "AKIAPAGE" not in str(source)
    assert SECRET not in page.content()

    # editing shows "set", never the secret; saving without replacing keeps the seal
    page.reload()
    page.get_by_role("button", name="Edit").first.click()
    expect(box.get_by_test_id("src-credentials-set")).to_have_text("Credentials: set")
    expect(box.get_by_label("Secret key")).to_be_hidden()
    expect(box.get_by_label("Endpoint URL")).to_have_value(s3_endpoint)
    assert SECRET not in page.content()
    page.get_by_label("Pick").select_option("newest")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("form .status")).to_contain_text("Saved")
    kept = _schedule(db, org, "Bucket feed")["source"]
    assert kept["pick"] == "newest" and kept["credentials"]["sealed"] == sealed

    # replacing them seals the new ones
    page.reload()
    page.get_by_role("button", name="Edit").first.click()
    box.get_by_role("button", name="Replace credentials").click()
    _fill_credentials(box, "AKIAPAGE000000000002", "another-secret-0002", s3_endpoint)
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("form .status")).to_contain_text("Saved")
    replaced = _schedule(db, org, "Bucket feed")["source"]["credentials"]
    assert replaced["sealed"] != sealed and "another-secret" not in str(replaced)

    # replacing them with nothing removes them (a public bucket)
    page.reload()
    page.get_by_role("button", name="Edit").first.click()
    box.get_by_role("button", name="Replace credentials").click()
    box.get_by_label("Region").fill("")
    box.get_by_label("Endpoint URL").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("form .status")).to_contain_text("Saved")
    assert "credentials" not in _schedule(db, org, "Bucket feed")["source"]


def test_an_export_schedule_delivers_gzip_files_to_an_s3_destination(
    new_page: NewPage, org: Org, db: Database, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    with db.tenant(org.id) as conn:
        conn.execute(
            "INSERT INTO contacts (organization_id, name, email) "
            "VALUES (crmferry_current_org(), 'Ada Lovelace', 'ada@example.com')"
        )
    page = new_page(org, org.member)
    page.goto("/schedules")
    page.get_by_label("Name").fill("Nightly to the bucket")
    page.get_by_label("Compression").select_option("gzip")
    page.get_by_label("Deliver each file to an S3 bucket").check()
    page.get_by_label("Destination URL").fill(f"s3://{bucket}/out/{{data_type}}.csv")
    box = page.locator('[data-credentials="dst"]')
    _fill_credentials(box, "AKIAPAGE000000000003", SECRET, s3_endpoint)
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("form .status")).to_contain_text("Nightly to the bucket")
    options = _schedule(db, org, "Nightly to the bucket")["options"]
    assert options["compression"] == "gzip"
    assert options["destination"]["url"] == f"s3://{bucket}/out/{{data_type}}.csv"
    assert SECRET not in str(options)

    page.reload()
    row = page.locator("#schedules tbody tr", has_text="Nightly to the bucket")
    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Deliver each file to an S3 bucket")).to_be_checked()
    expect(page.get_by_label("Compression")).to_have_value("gzip")
    expect(box.get_by_test_id("dst-credentials-set")).to_be_visible()
    page.get_by_role("button", name="Cancel editing").click()
    row.get_by_role("button", name="Run now").click()
    body = _object(s3_endpoint, bucket, "out/contacts.csv.gz")
    assert "ada@example.com" in gzip.decompress(body).decode()


def _object(endpoint: str, bucket: str, key: str) -> bytes:
    """The delivered object, once the live worker has run the export."""
    client = direct_client(endpoint)
    for _ in range(120):
        found = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        if any(o["Key"] == key for o in found):
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"{key} was not delivered; the bucket holds {found}")
