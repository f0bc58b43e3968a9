"""Compressed exports and delivery to a customer's S3 bucket (moto's S3 server on
127.0.0.1): the file is gzip-compressed as it is written, delivered under its key
template, the job still serves its result, and a failed delivery fails the job."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.exports import split
from tests.conftest import Org
from tests.customer_buckets import customer_credentials, direct_client, new_bucket, s3_endpoint
from tests.jobrun import run_job

__all__ = ["s3_endpoint"]


def _contacts(db: Database, org: Org, count: int) -> None:
    with db.tenant(org.id) as conn:
        conn.execute(
            "INSERT INTO contacts (organization_id, name, email, status)"
            " SELECT %s, 'Person ' || n, 'p' || n || '@example.com', 'active'"
            "   FROM generate_series(1, %s) AS n",
            [org.id, count],
        )


def _export(client: TestClient, org: Org, options: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={"job_type": "export", "data_type": "contacts", "options": options},
    )


def _created(client: TestClient, org: Org, options: dict[str, Any]) -> dict[str, Any]:
    response = _export(client, org, options)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("split_rows", [None, 10])
def test_a_gzip_csv_export_is_compressed_as_written_and_served_as_gzip(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
    split_rows: int | None,
) -> None:
    if split_rows:  # read as two COPY streams: two gzip members, one valid file
        monkeypatch.setattr(split, "SPLIT_MIN_ROWS", split_rows)
    _contacts(db, org, 50)
    job = _created(app_client, org, {"fields": ["name", "email"], "compression": "gzip"})
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "completed", done["error_message"]
    result = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers)
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/gzip"
    assert 'filename="contacts-' in result.headers["content-disposition"]
    assert re.search(r'filename="contacts-[0-9-]+\.csv\.gz"', result.headers["content-disposition"])
    text = gzip.decompress(result.content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "email"] and len(rows) == 51
    assert rows[1] == ["Person 1", "p1@example.com"] and rows[50][0] == "Person 50"


def test_a_gzip_jsonl_export_decompresses_to_the_same_lines(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _contacts(db, org, 3)
    plain = run_job(db, settings, org.id, _created(app_client, org, {"format": "jsonl"})["id"])
    packed = run_job(
        db,
        settings,
        org.id,
        _created(app_client, org, {"format": "jsonl", "compression": "gzip"})["id"],
    )
    plain_body = app_client.get(
        f"/api/v1/jobs/{plain['id']}/result", headers=org.member.headers
    ).content
    packed_body = app_client.get(
        f"/api/v1/jobs/{packed['id']}/result", headers=org.member.headers
    ).content
    assert gzip.decompress(packed_body) == plain_body
    assert [json.loads(line)["name"] for line in plain_body.splitlines()] == [
        "Person 1",
        "Person 2",
        "Person 3",
    ]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"format": "xlsx", "compression": "gzip"}, "options.compression"),
        ({"compression": "zip"}, "options.compression"),
        ({"destination": {"type": "ftp", "url": "ftp://x/y"}}, "options.destination"),
        ({"destination": {"type": "s3", "url": "https://x/y"}}, "options.destination.url"),
        (
            {"destination": {"type": "s3", "url": "s3://bucket/{month}.csv"}},
            "options.destination.url",
        ),
        (
            {
                "destination": {
                    "type": "s3",
                    "url": "s3://bucket/a.csv",
                    "credentials": {"access_key_id": "a"},
                }
            },
            "options.destination.credentials.secret_access_key",
        ),
    ],
)
def test_bad_compression_or_destination_is_a_422_naming_the_field(
    app_client: TestClient, org: Org, options: dict[str, Any], field: str
) -> None:
    response = _export(app_client, org, options)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_an_export_is_delivered_to_its_destination_and_still_serves_its_result(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    credentials = customer_credentials(s3_endpoint)
    _contacts(db, org, 20)
    destination = {
        "type": "s3",
        "url": f"s3://{bucket}/daily/{{data_type}}-{{date}}.csv",
        "credentials": credentials,
    }
    job = _created(app_client, org, {"compression": "gzip", "destination": destination})
    assert job["options"]["destination"]["credentials"] == {
        "set": True,
        "region": "eu-west-1",
        "endpoint_url": s3_endpoint,
    }
    assert credentials["secret_access_key"] not in json.dumps(job)
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "completed", done["error_message"]
    (key,) = [
        o["Key"] for o in direct_client(s3_endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    ]
    assert key.startswith("daily/contacts-") and key.endswith(".csv.gz")
    assert done["options"]["delivered_to"] == f"s3://{bucket}/{key}"
    delivered = direct_client(s3_endpoint).get_object(Bucket=bucket, Key=key)
    assert delivered["ContentType"] == "application/gzip"
    served = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers)
    assert served.status_code == 200 and served.content == delivered["Body"].read()
    assert (
        len(list(csv.reader(io.StringIO(gzip.decompress(served.content).decode("utf-8-sig")))))
        == 21
    )
    shown = app_client.get(f"/api/v1/jobs/{job['id']}", headers=org.member.headers).text
    assert credentials["secret_access_key"] not in shown and '"sealed"' not in shown


def test_a_large_export_is_delivered_in_parts(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    _contacts(db, org, 200_000)  # about 10 MB of CSV: past the 8 MiB multipart threshold
    destination = {
        "type": "s3",
        "url": f"s3://{bucket}/{{job_id}}/{{file_name}}",
        "credentials": customer_credentials(s3_endpoint),
    }
    done = run_job(
        db, settings, org.id, _created(app_client, org, {"destination": destination})["id"]
    )
    assert done["status"] == "completed", done["error_message"]
    key = f"{done['id']}/{done['options']['result_file_name']}"
    head = direct_client(s3_endpoint).head_object(Bucket=bucket, Key=key)
    assert "-" in head["ETag"]  # a multipart object's ETag ends with its number of parts
    served = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers)
    assert head["ContentLength"] == len(served.content) > 8 * 1024 * 1024


def test_a_failed_delivery_fails_the_job_saying_why_and_keeps_no_result(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    _contacts(db, org, 3)
    destination = {
        "type": "s3",
        "url": "s3://no-such-bucket-here/{data_type}.csv",
        "credentials": customer_credentials(s3_endpoint),
    }
    done = run_job(
        db, settings, org.id, _created(app_client, org, {"destination": destination})["id"]
    )
    assert done["status"] == "failed"
    assert done["error_message"] == (
        "The export could not be delivered to s3://no-such-bucket-here/contacts.csv: "
        "the bucket does not exist."
    )
    assert done["result_path"] is None
    assert (
        app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers).status_code
        == 404
    )


def test_a_destination_the_outbound_guard_refuses_is_refused_when_given(
    app_client: TestClient, settings: Settings, db: Database, org: Org, s3_endpoint: str
) -> None:
    from crmferry.exports.destinations import check_destination
    from crmferry.outbound import OutboundRefused

    strict = settings.model_copy(update={"outbound_allow": ""})
    given = {
        "type": "s3",
        "url": "s3://b-1/x.csv",
        "credentials": customer_credentials(s3_endpoint),
    }
    with pytest.raises(OutboundRefused) as refused:
        check_destination(given, strict)
    assert refused.value.errors[0]["field"] == "options.destination.credentials.endpoint_url"


def test_an_export_schedule_keeps_its_destination_sealed_and_its_jobs_deliver(
    app_client: TestClient, db: Database, settings: Settings, org: Org, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    credentials = customer_credentials(s3_endpoint)
    _contacts(db, org, 2)
    body = {
        "name": "Nightly to the bucket",
        "job_type": "export",
        "data_type": "contacts",
        "options": {
            "format": "jsonl",
            "destination": {
                "type": "s3",
                "url": f"s3://{bucket}/{{data_type}}.jsonl",
                "credentials": credentials,
            },
        },
        "cron": "0 2 * * *",
        "timezone": "UTC",
    }
    created = app_client.post("/api/v1/schedules", json=body, headers=org.member.headers)
    assert created.status_code == 201, created.text
    assert created.json()["options"]["destination"]["credentials"]["set"] is True
    with db.tenant(org.id) as conn:
        stored = conn.execute(
            "SELECT options FROM schedules WHERE id = %s", [created.json()["id"]]
        ).fetchone()
    assert credentials["secret_access_key"] not in json.dumps(stored)
    fired = app_client.post(
        f"/api/v1/schedules/{created.json()['id']}/run", headers=org.member.headers
    )
    assert fired.status_code == 201, fired.text
    done = run_job(db, settings, org.id, fired.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    assert done["options"]["delivered_to"] == f"s3://{bucket}/contacts.jsonl"
    delivered = direct_client(s3_endpoint).get_object(Bucket=bucket, Key="contacts.jsonl")
    assert delivered["ContentType"] == "application/x-ndjson"
    assert len(delivered["Body"].read().splitlines()) == 2


@pytest.mark.parametrize(
    ("options", "content_type"),
    [
        ({"format": "csv"}, "text/csv; charset=utf-8"),
        ({"format": "jsonl"}, "application/x-ndjson"),
        ({"format": "xlsx"}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ({"format": "jsonl", "compression": "gzip"}, "application/gzip"),
    ],
)
def test_each_result_is_served_with_its_content_type(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    options: dict[str, Any],
    content_type: str,
) -> None:
    _contacts(db, org, 1)
    done = run_job(db, settings, org.id, _created(app_client, org, options)["id"])
    served = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers)
    assert served.status_code == 200 and served.headers["content-type"] == content_type


def test_a_compressed_incremental_jsonl_export_carries_its_deletions_in_the_same_gzip(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _contacts(db, org, 3)
    with db.tenant(org.id) as conn:
        conn.execute("DELETE FROM contacts WHERE email = 'p2@example.com'")
    options = {"format": "jsonl", "compression": "gzip", "changed_since": "2000-01-01T00:00:00Z"}
    done = run_job(db, settings, org.id, _created(app_client, org, options)["id"])
    assert done["status"] == "completed", done["error_message"]
    served = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=org.member.headers)
    lines = [json.loads(line) for line in gzip.decompress(served.content).splitlines()]
    assert [line.get("email") for line in lines[:2]] == ["p1@example.com", "p3@example.com"]
    assert lines[2]["deleted"]["email"] == "p2@example.com" and len(lines) == 3
