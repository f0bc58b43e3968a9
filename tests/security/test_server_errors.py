"""No input makes a 500: the probes of issue 11, each a 422 (or 404/409) naming what is
wrong, and the organization's job list still readable afterwards."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.db import Database
from tests.conftest import Org

DEEP = 300


def deep(levels: int = DEEP) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"next": [value]}
    return value


def export_job(**more: Any) -> dict[str, Any]:
    return {"job_type": "export", "data_type": "contacts", **more}


def export_schedule(**more: Any) -> dict[str, Any]:
    return {
        "name": "Nightly",
        "job_type": "export",
        "data_type": "contacts",
        "cron": "0 8 * * 1",
        "timezone": "Europe/Paris",
        **more,
    }


def import_schedule(**more: Any) -> dict[str, Any]:
    source = {"type": "url", "url": "https://feeds.example/contacts.csv"}
    return export_schedule(job_type="import", source=source, **more)


def post(client: TestClient, org: Org, path: str, body: Any) -> Any:
    return client.post(f"/api/v1{path}", json=body, headers=org.member.headers)


def assert_422(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    return problem


def assert_jobs_still_list(client: TestClient, org: Org) -> None:
    response = client.get("/api/v1/jobs", headers=org.viewer.headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/jobs", export_job(notify={"emails": [], "deep": deep()}), "notify.deep"),
        ("/jobs", export_job(notify={"emails": [deep()]}), "notify.emails[0]"),
        (
            "/jobs",
            {
                "job_type": "import",
                "data_type": "contacts",
                "upload_id": str(uuid.uuid4()),
                "options": {"mode": "upsert", "later": deep()},
            },
            "options.later",
        ),
        ("/schedules", export_schedule(mapping=deep()), "mapping.next"),
        ("/schedules", import_schedule(options={"deep": deep()}), "options.deep"),
        (
            "/jobs",
            export_job(options={"filters": [{"field": "name", "op": "in", "value": [deep()]}]}),
            "options.filters[0].value",
        ),
    ],
)
def test_deeply_nested_json_is_refused_not_stored(
    app_client: TestClient, org: Org, path: str, body: Any, field: str
) -> None:
    problem = assert_422(post(app_client, org, path, body), field)
    assert len(json.dumps(problem)) < 20_000
    assert_jobs_still_list(app_client, org)


def test_unknown_import_options_of_a_schedule_are_refused_on_change_too(
    app_client: TestClient, org: Org
) -> None:
    made = post(app_client, org, "/schedules", import_schedule(options={"mode": "insert"}))
    assert made.status_code == 201, made.text
    assert made.json()["options"]["mode"] == "insert"
    url = f"/api/v1/schedules/{made.json()['id']}"
    response = app_client.patch(
        url, json={"options": {"mode": "insert", "x": deep()}}, headers=org.member.headers
    )
    assert response.status_code == 422, response.text
    export = post(app_client, org, "/schedules", export_schedule())
    changed = app_client.patch(
        f"/api/v1/schedules/{export.json()['id']}",
        json={"mapping": {"Name": "name"}},
        headers=org.member.headers,
    )
    assert_422(changed, "mapping")
    assert "an export has no mapping" in changed.json()["detail"]


NUL = "a\u0000b"
SURROGATE = "\ud800"


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/schedules", lambda t: export_schedule(name=t), "name"),
        ("/schedules", lambda t: export_schedule(timezone=t), "timezone"),
        ("/schedules", lambda t: export_schedule(cron=t), "cron"),
        (
            "/templates",
            lambda t: {
                "name": t,
                "job_type": "import",
                "data_type": "contacts",
                "mapping": {"A": "name"},
            },
            "name",
        ),
        (
            "/templates",
            lambda t: {
                "name": "T",
                "job_type": "import",
                "data_type": "contacts",
                "mapping": {t: "name"},
            },
            "mapping",
        ),
        ("/jobs", lambda t: export_job(timezone=t), "timezone"),
        ("/jobs", lambda t: export_job(scheduled_time=t), "scheduled_time"),
        (
            "/jobs",
            lambda t: export_job(notify={"emails": [f"{t}@example.com"]}),
            "notify.emails[0]",
        ),
        (
            "/jobs",
            lambda t: export_job(options={"filters": [{"field": "name", "op": "eq", "value": t}]}),
            "options.filters[0].value",
        ),
        ("/jobs", lambda t: export_job(options={"fields": ["name", t]}), "options.fields[1]"),
        ("/tokens", lambda t: {"name": t}, "name"),
        ("/members", lambda t: {"email": f"new{t}@example.com"}, "email"),
    ],
)
def test_unstorable_text_in_a_body_is_422_naming_the_field(
    app_client: TestClient, org: Org, path: str, body: Any, field: str, text: str
) -> None:
    # sent as JSON text with \u escapes, as a client would: json.loads makes the NUL or
    # the lone surrogate from them
    payload = json.dumps(body(text))
    response = app_client.post(
        f"/api/v1{path}",
        content=payload,
        headers={**org.admin.headers, "Content-Type": "application/json"},
    )
    problem = assert_422(response, field)
    assert problem["errors"][0]["message"]
    assert_jobs_still_list(app_client, org)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/jobs?job_type=%00", "job_type"),
        ("/jobs?status=pend%00ing", "status"),
        ("/jobs?data_type=%00", "data_type"),
        ("/jobs?cursor=%00", "cursor"),
        ("/contacts?q=a%00b", "q"),
        ("/inventory?cursor=%00", "cursor"),
    ],
)
def test_nul_in_a_query_parameter_is_422_naming_it(
    app_client: TestClient, org: Org, query: str, field: str
) -> None:
    assert_422(app_client.get(f"/api/v1{query}", headers=org.member.headers), field)


def test_nul_in_the_time_zone_of_me_is_422(app_client: TestClient, org: Org) -> None:
    response = app_client.patch(
        "/api/v1/me", json={"timezone": "Europe/Paris\u0000"}, headers=org.member.headers
    )
    assert_422(response, "timezone")


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        # stored unchecked before, then refused by PostgreSQL's jsonb
        (
            "/jobs",
            '{"job_type": "export", "data_type": "contacts", "notify": {"emails": [], "x": NaN}}',
            "notify.x",
        ),
        (
            "/schedules",
            '{"name": "N", "job_type": "export", "data_type": "contacts", "cron": "0 8 * * 1",'
            ' "timezone": "UTC", "mapping": {"A": NaN}}',
            "mapping.A",
        ),
        (
            "/schedules",
            '{"name": "N", "job_type": "import", "data_type": "contacts", "cron": "0 8 * * 1",'
            ' "timezone": "UTC", "source": {"type": "url", "url": "https://x.example/a.csv"},'
            ' "options": {"x": NaN}}',
            "options.x",
        ),
        ("/jobs", '{"job_type": "export", "data_type": "contacts", "priority": NaN}', "priority"),
        (
            "/jobs",
            '{"job_type": "export", "data_type": "contacts", "options": {"filters":'
            ' [{"field": "name", "op": "eq", "value": NaN}]}}',
            "options.filters[0].value",
        ),
        (
            "/jobs",
            '{"job_type": "export", "data_type": "contacts", "priority": Infinity}',
            "priority",
        ),
    ],
)
def test_nan_and_infinity_are_422(
    app_client: TestClient, org: Org, path: str, raw: str, field: str
) -> None:
    response = app_client.post(
        f"/api/v1{path}",
        content=raw,
        headers={**org.member.headers, "Content-Type": "application/json"},
    )
    assert_422(response, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (export_job(data_type=["contacts"]), "data_type"),
        (export_job(options=5), "options"),
        (
            {
                "job_type": "import",
                "data_type": "contacts",
                "upload_id": str(uuid.uuid4()),
                "mapping": ["Name"],
            },
            "mapping",
        ),
        (
            {
                "job_type": "import",
                "data_type": "contacts",
                "upload_id": str(uuid.uuid4()),
                "mapping": "Name",
            },
            "mapping",
        ),
        (export_job(template_id=0), "template_id"),
        (export_job(template_id=""), "template_id"),
        (export_job(template_id=False), "template_id"),
        (export_job(timezone={"name": "UTC"}), "timezone"),
        (export_job(timezone="Mars/Olympus"), "timezone"),
        (export_job(scheduled_time="9999-12-31T23:59:59-05:00"), "scheduled_time"),
        (export_job(scheduled_time="0001-01-01T00:00:00+05:00"), "scheduled_time"),
        (
            export_job(scheduled_time="9999-12-31T23:30:00", timezone="America/New_York"),
            "scheduled_time",
        ),
        ({"data_type": "contacts"}, "job_type"),
    ],
)
def test_job_bodies_of_the_wrong_shape_are_422(
    app_client: TestClient, org: Org, body: dict[str, Any], field: str
) -> None:
    assert_422(post(app_client, org, "/jobs", body), field)


def test_a_schedules_template_must_be_a_template_of_the_organization(
    app_client: TestClient, org: Org
) -> None:
    assert_422(post(app_client, org, "/schedules", export_schedule(template_id="x")), "template_id")
    missing = post(app_client, org, "/schedules", export_schedule(template_id=str(uuid.uuid4())))
    assert "No template" in assert_422(missing, "template_id")["detail"]


def test_a_cron_that_never_fires_is_422(app_client: TestClient, org: Org) -> None:
    problem = assert_422(
        post(app_client, org, "/schedules", export_schedule(cron="0 0 31 2 *")), "cron"
    )
    assert "never fires" in problem["detail"]
    made = post(app_client, org, "/schedules", export_schedule()).json()
    changed = app_client.patch(
        f"/api/v1/schedules/{made['id']}", json={"cron": "0 0 30 2 *"}, headers=org.member.headers
    )
    assert_422(changed, "cron")


@pytest.mark.parametrize("cursor", ["²", "1.²", "١٢", "-1", "1e3"])
def test_a_changes_cursor_that_is_not_ascii_digits_is_422(
    app_client: TestClient, org: Org, cursor: str
) -> None:
    job = post(app_client, org, "/jobs", export_job()).json()
    response = app_client.get(
        f"/api/v1/jobs/{job['id']}/changes", params={"cursor": cursor}, headers=org.member.headers
    )
    assert_422(response, "cursor")


def test_a_huge_422_is_capped_at_twenty_errors_and_counted(
    app_client: TestClient, org: Org
) -> None:
    # 100,000 repeated fields (800 KB, under CRMFERRY_MAX_BODY_BYTES); twice that is a 413
    many = post(app_client, org, "/jobs", export_job(options={"fields": ["name"] * 100_000}))
    assert many.status_code == 422
    assert len(many.content) < 10_000
    repeated = post(app_client, org, "/jobs", export_job(options={"fields": ["name"] * 400}))
    problem = assert_422(repeated, "options.fields[1]")
    assert len(problem["errors"]) == 20 and problem["error_count"] == 399
    assert len(repeated.content) < 10_000


def test_wrong_methods_say_which_are_allowed_and_head_works(
    app_client: TestClient, org: Org
) -> None:
    job = post(app_client, org, "/jobs", export_job()).json()
    response = app_client.put(f"/api/v1/jobs/{job['id']}", headers=org.member.headers)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    head = app_client.head(f"/api/v1/jobs/{job['id']}", headers=org.member.headers)
    get = app_client.get(f"/api/v1/jobs/{job['id']}", headers=org.member.headers)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert app_client.head("/healthz").status_code == 200
    assert app_client.head("/api/v1/jobs", headers=org.member.headers).status_code == 200


def test_retries_while_one_is_open_are_409(app_client: TestClient, org: Org, db: Database) -> None:
    job = post(app_client, org, "/jobs", export_job()).json()
    with db.owner_connect() as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET status = 'failed', completed_at = now() WHERE id = %s",
            [job["id"]],
        )
    url = f"/api/v1/jobs/{job['id']}/retry"
    first = app_client.post(url, headers=org.member.headers)
    assert first.status_code == 201, first.text
    second = app_client.post(url, headers=org.member.headers)
    assert second.status_code == 409
    assert first.json()["id"] in second.json()["detail"]
    app_client.post(f"/api/v1/jobs/{first.json()['id']}/cancel", headers=org.member.headers)
    assert app_client.post(url, headers=org.member.headers).status_code == 201


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_idempotency_key_is_422(
    app_client: TestClient, org: Org, key: str
) -> None:
    response = app_client.post(
        "/api/v1/jobs", json=export_job(), headers={**org.member.headers, "Idempotency-Key": key}
    )
    assert_422(response, "Idempotency-Key")


def test_a_nul_in_a_csv_header_is_not_a_server_error(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("a.csv", b"Na\x00me,Email\nAda,ada@example.com\n")},
    )
    assert response.status_code in (201, 422), response.text
    assert_jobs_still_list(app_client, org)
