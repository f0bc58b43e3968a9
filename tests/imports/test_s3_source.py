"""Import schedules with an S3 source, against moto's S3 server on 127.0.0.1: `newest`
imports the newest matching object, `each_new` makes exactly one job per object
revision; credentials are sealed and never answered; gzip objects are decompressed."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.firing import fire_schedule
from crmferry.jobs.schedules import create_schedule
from tests.conftest import Org
from tests.customer_buckets import customer_credentials, direct_client, new_bucket, s3_endpoint
from tests.imports.conftest import principal_of
from tests.imports.test_sources import CONTACTS, MAPPING, contacts_of, uploads_of
from tests.jobrun import run_job

__all__ = ["s3_endpoint"]


def s3_source(url: str, endpoint: str, pick: str = "newest") -> dict[str, Any]:
    return {"type": "s3", "url": url, "pick": pick, "credentials": customer_credentials(endpoint)}


def make_s3_schedule(
    db: Database, settings: Settings, org: Org, source: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "name": "Bucket feed",
        "job_type": "import",
        "data_type": "contacts",
        "options": {"mode": "upsert"},
        "mapping": MAPPING,
        "source": source,
        "cron": "0 6 * * *",
        "timezone": "UTC",
    }
    with db.tenant(org.id) as conn:
        return create_schedule(conn, principal_of(org, org.member), settings, body)


def fire(db: Database, settings: Settings, org: Org, schedule_id: object) -> dict[str, Any]:
    with db.tenant(org.id) as conn:
        job = fire_schedule(conn, settings, schedule_id, now_please=True)
    assert job is not None
    return run_job(db, settings, org.id, job["id"])


def put(endpoint: str, bucket: str, key: str, body: bytes) -> None:
    direct_client(endpoint).put_object(Bucket=bucket, Key=key, Body=body)
    time.sleep(1.05)  # S3's LastModified has whole seconds: the next object is newer


def test_newest_imports_the_newest_matching_object_at_each_run(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "daily/old.csv", CONTACTS.replace(b"Ray Co", b"Old Co"))
    put(s3_endpoint, bucket, "daily/new.csv", CONTACTS)
    put(s3_endpoint, bucket, "daily/sub/newer.csv", b"not,matched\n")  # * stops at /
    put(s3_endpoint, bucket, "daily/notes.txt", b"not matched")
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/daily/*.csv", s3_endpoint)
    )
    job = fire(db, settings, org, schedule["id"])
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 3
    (upload,) = uploads_of(db, org)
    assert upload["file_name"] == "new.csv" and upload["id"] == job["upload_id"]
    assert "Ray Co" in {c["company"] for c in contacts_of(db, org)}
    again = fire(db, settings, org, schedule["id"])
    assert again["status"] == "completed" and again["counts"]["unchanged"] == 3


def test_each_new_makes_one_job_per_object_revision_exactly_once(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS)
    put(s3_endpoint, bucket, "in/b.csv", CONTACTS.replace(b"Ray Co", b"Ray Group"))
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/in/*.csv", s3_endpoint, "each_new")
    )
    first = fire(db, settings, org, schedule["id"])
    assert first["status"] == "completed", first["error_message"]
    made = first["options"]["source_objects"]["objects"]
    assert [o["key"] for o in made] == ["in/a.csv", "in/b.csv"]
    children = [run_job(db, settings, org.id, o["job_id"]) for o in made]
    assert [c["status"] for c in children] == ["completed", "completed"]
    assert [c["file_name"] for c in children] == ["a.csv", "b.csv"]
    assert children[0]["counts"]["inserted"] == 3 and children[1]["counts"]["updated"] == 1
    assert {c["schedule_id"] for c in children} == {first["schedule_id"]}

    # nothing new: no job; a new object and a new revision of an old one: a job each
    nothing = fire(db, settings, org, schedule["id"])
    assert nothing["options"]["source_objects"] == {"matching": 2, "objects": []}
    put(s3_endpoint, bucket, "in/c.csv", CONTACTS)
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS.replace(b"Lee Ltd", b"Lee Plc"))
    later = fire(db, settings, org, schedule["id"])
    assert [o["key"] for o in later["options"]["source_objects"]["objects"]] == [
        "in/c.csv",
        "in/a.csv",
    ]
    with db.tenant(org.id) as conn:
        ledger = conn.execute(
            "SELECT object_key, job_id FROM source_objects WHERE schedule_id = %s",
            [schedule["id"]],
        ).fetchall()
    assert sorted(r["object_key"] for r in ledger) == [
        "in/a.csv",
        "in/a.csv",
        "in/b.csv",
        "in/c.csv",
    ]
    assert all(r["job_id"] is not None for r in ledger)


def test_an_object_replaced_before_its_job_runs_fails_that_job_and_gets_its_own(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS)
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/in/*.csv", s3_endpoint, "each_new")
    )
    (made,) = fire(db, settings, org, schedule["id"])["options"]["source_objects"]["objects"]
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS + b"Dan,Ng,dan@example.com,,\n")
    stale = run_job(db, settings, org.id, made["job_id"])
    assert stale["status"] == "failed"
    assert stale["error_message"] == (
        f"The source s3://{bucket}/in/a.csv: the object changed while it was being read."
    )
    (fresh,) = fire(db, settings, org, schedule["id"])["options"]["source_objects"]["objects"]
    assert run_job(db, settings, org.id, fresh["job_id"])["counts"]["inserted"] == 4


def test_a_gzip_object_is_decompressed_and_stored_without_its_gz(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "feed/contacts.csv.gz", gzip.compress(CONTACTS))
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/feed/*.csv.gz", s3_endpoint)
    )
    job = fire(db, settings, org, schedule["id"])
    assert job["status"] == "completed", job["error_message"]
    (upload,) = uploads_of(db, org)
    assert upload["file_name"] == "contacts.csv" and upload["size_bytes"] == len(CONTACTS)
    assert (settings.files_dir / upload["storage_path"]).read_bytes() == CONTACTS


def test_a_gzip_bomb_stops_at_the_decompressed_limit_and_leaves_nothing(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "bomb.csv.gz", gzip.compress(CONTACTS + b"x" * 20_000_000))
    limited = settings.model_copy(update={"max_decompressed_bytes": 1_000_000})
    schedule = make_s3_schedule(
        db, limited, org, s3_source(f"s3://{bucket}/bomb.csv.gz", s3_endpoint)
    )
    job = fire(db, limited, org, schedule["id"])
    assert job["status"] == "failed"
    assert job["error_message"] == (
        f"The file s3://{bucket}/bomb.csv.gz is refused. The file decompresses to more "
        "than the limit of 1,000,000 bytes (CRMFERRY_MAX_DECOMPRESSED_BYTES); "
        "decompression was stopped there."
    )
    assert uploads_of(db, org) == []
    folder = settings.files_dir / "uploads" / str(org.id)
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            lambda b, e: s3_source(f"s3://{b}/none/*.csv", e),
            "No object in the bucket matches s3://{b}/none/*.csv.",
        ),
        (
            lambda b, e: s3_source("s3://no-such-bucket-here/a.csv", e),
            "The source s3://no-such-bucket-here/a.csv: the bucket does not exist.",
        ),
    ],
)
def test_a_source_that_cannot_be_read_fails_the_job_saying_why(
    db: Database, settings: Settings, org: Org, s3_endpoint: str, source: Any, message: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    schedule = make_s3_schedule(db, settings, org, source(bucket, s3_endpoint))
    job = fire(db, settings, org, schedule["id"])
    assert job["status"] == "failed"
    assert job["error_message"] == message.format(b=bucket)


def test_the_endpoint_is_checked_by_the_outbound_guard_when_saved_and_when_run(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "a.csv", CONTACTS)
    strict = settings.model_copy(update={"outbound_allow": ""})
    with pytest.raises(Exception) as refused:
        make_s3_schedule(db, strict, org, s3_source(f"s3://{bucket}/a.csv", s3_endpoint))
    assert refused.value.errors[0]["field"] == "source.credentials.endpoint_url"  # type: ignore[attr-defined]
    schedule = make_s3_schedule(db, settings, org, s3_source(f"s3://{bucket}/a.csv", s3_endpoint))
    job = fire(db, strict, org, schedule["id"])
    assert job["status"] == "failed"
    assert "is a loopback address; outbound requests may not reach it" in job["error_message"]
    assert "CRMFERRY_OUTBOUND_ALLOW" in job["error_message"]


def test_the_api_seals_credentials_and_never_answers_them(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS)
    source = s3_source(f"s3://{bucket}/in/*.csv", s3_endpoint, "each_new")
    secret = source["credentials"]["secret_access_key"]
    body = {
        "name": "Bucket feed",
        "job_type": "import",
        "data_type": "contacts",
        "mapping": MAPPING,
        "source": source,
        "cron": "0 6 * * *",
        "timezone": "UTC",
    }
    created = app_client.post("/api/v1/schedules", json=body, headers=org.member.headers)
    assert created.status_code == 201, created.text
    shown = created.json()["source"]
    assert shown["credentials"] == {"set": True, "region": "eu-west-1", "endpoint_url": s3_endpoint}
    schedule_id = created.json()["id"]
    with db.tenant(org.id) as conn:
        stored = conn.execute(
            "SELECT source FROM schedules WHERE id = %s", [schedule_id]
        ).fetchone()
    assert secret not in json.dumps(stored) and "AKIACUSTOMER" not in json.dumps(stored)

    # a change that sends back what it read keeps the credentials: the runs still work
    changed = app_client.patch(
        f"/api/v1/schedules/{schedule_id}",
        json={"source": {**shown, "url": f"s3://{bucket}/in/a.csv"}},
        headers=org.member.headers,
    )
    assert changed.status_code == 200, changed.text
    fired = app_client.post(f"/api/v1/schedules/{schedule_id}/run", headers=org.member.headers)
    assert fired.status_code == 201, fired.text
    dispatcher = run_job(db, settings, org.id, fired.json()["id"])
    (made,) = dispatcher["options"]["source_objects"]["objects"]
    child = run_job(db, settings, org.id, made["job_id"])
    assert child["status"] == "completed", child["error_message"]
    for path in (f"/api/v1/jobs/{child['id']}", f"/api/v1/schedules/{schedule_id}", "/api/v1/jobs"):
        answer = app_client.get(path, headers=org.member.headers)
        assert answer.status_code == 200
        assert secret not in answer.text and "AKIACUSTOMER" not in answer.text
        assert '"sealed"' not in answer.text


def test_another_organization_sees_no_ledger_row(
    db: Database, settings: Settings, org: Org, make_org: Any, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS)
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/in/*.csv", s3_endpoint, "each_new")
    )
    fire(db, settings, org, schedule["id"])
    other = make_org()
    with db.tenant(other.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM source_objects").fetchone()["n"] == 0
    with db.tenant(org.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM source_objects").fetchone()["n"] == 1


def test_two_runs_racing_record_each_object_revision_once(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    import threading
    from datetime import UTC, datetime

    from crmferry.imports.s3_source import RECORD_NEW_OBJECTS

    schedule = make_s3_schedule(
        db, settings, org, s3_source("s3://racing-bucket/in/*.csv", s3_endpoint, "each_new")
    )
    listed = {
        "schedule": schedule["id"],
        "bucket": "racing-bucket",
        "keys": ["in/a.csv", "in/b.csv"],
        "etags": ['"1"', '"2"'],
        "sizes": [10, 20],
        "modified": [datetime(2026, 1, 1, tzinfo=UTC)] * 2,
        "limit": 100,
    }
    second: list[Any] = []
    with db.tenant(org.id) as first:
        assert len(first.execute(RECORD_NEW_OBJECTS, listed).fetchall()) == 2

        def race() -> None:  # waits on the first's uncommitted rows, then sees them
            with db.tenant(org.id) as conn:
                second.extend(conn.execute(RECORD_NEW_OBJECTS, listed).fetchall())

        racer = threading.Thread(target=race)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive()  # blocked behind the first transaction
    racer.join(10)
    assert second == []


def test_a_truncated_gzip_object_fails_the_job_saying_so(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    put(s3_endpoint, bucket, "cut.csv.gz", gzip.compress(CONTACTS * 50)[:-30])
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/cut.csv.gz", s3_endpoint)
    )
    job = fire(db, settings, org, schedule["id"])
    assert job["status"] == "failed"
    assert job["error_message"] == "The gzip stream stops before its end: the file is truncated."
    assert uploads_of(db, org) == []


def test_an_object_stored_with_content_encoding_gzip_is_read_as_stored_and_decompressed(
    db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    packed = gzip.compress(CONTACTS * 20)
    direct_client(s3_endpoint).put_object(
        Bucket=bucket, Key="enc/contacts.csv", Body=packed, ContentEncoding="gzip"
    )
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/enc/*.csv", s3_endpoint)
    )
    job = fire(db, settings, org, schedule["id"])
    assert job["status"] == "completed", job["error_message"]
    (upload,) = uploads_of(db, org)
    assert upload["size_bytes"] == len(CONTACTS * 20)


def test_a_retried_each_new_run_uses_its_schedules_ledger(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = f"later-{new_bucket(s3_endpoint)}"  # not made yet: the first run fails
    schedule = make_s3_schedule(
        db, settings, org, s3_source(f"s3://{bucket}/in/*.csv", s3_endpoint, "each_new")
    )
    failed = fire(db, settings, org, schedule["id"])
    assert failed["status"] == "failed"
    assert (
        failed["error_message"] == f"The source s3://{bucket}/in/*.csv: the bucket does not exist."
    )
    direct_client(s3_endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    put(s3_endpoint, bucket, "in/a.csv", CONTACTS)
    retried = app_client.post(f"/api/v1/jobs/{failed['id']}/retry", headers=org.member.headers)
    assert retried.status_code == 201, retried.text
    done = run_job(db, settings, org.id, retried.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    (made,) = done["options"]["source_objects"]["objects"]
    child = run_job(db, settings, org.id, made["job_id"])
    assert child["status"] == "completed" and str(child["schedule_id"]) == str(schedule["id"])
    # the schedule's next run knows the object
    assert fire(db, settings, org, schedule["id"])["options"]["source_objects"]["objects"] == []
