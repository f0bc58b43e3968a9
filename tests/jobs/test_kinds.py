"""Job kinds and source types are registrations: a new kind runs through the API, its
templates and its schedules, and a new source feeds an import schedule, without a
change of the engine; registering a name twice is an error unless it replaces the
first on purpose. And the one template rule, as the built-in kinds apply it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import AlreadyRegistered, ValidationFailed
from crmferry.imports.uploads import store_upload
from crmferry.jobs.kinds import JobContext, JobKind, kind_for, register, unregister
from crmferry.jobs.sources import SOURCES, SourceType, register_source, source_for
from tests.conftest import TEST_SECRET, Org
from tests.jobrun import run_job
from tests.jobs.conftest import REPO, SpawnWorker, statuses, wait_until
from tests.jobs.greeting_kind import GREETING, prepare_greeting, run_greeting


@pytest.fixture
def greeting() -> Iterator[JobKind]:
    yield register(GREETING)
    unregister("greeting")


def test_a_kind_registered_twice_is_an_error_unless_it_replaces_on_purpose(
    greeting: JobKind,
) -> None:
    with pytest.raises(AlreadyRegistered, match="'greeting' is already registered"):
        register(GREETING)
    with pytest.raises(AlreadyRegistered, match="'export' is already registered"):
        register(JobKind("export", prepare_greeting, run_greeting))
    stand_in = JobKind("greeting", prepare_greeting, run_greeting)
    assert register(stand_in, replace=True) is kind_for("greeting") is stand_in
    with pytest.raises(AlreadyRegistered, match="source type named 'url'"):
        register_source(source_for({"type": "url"}))


def test_a_new_kind_runs_through_jobs_templates_and_schedules(
    app_client: TestClient, db: Database, settings: Settings, org: Org, greeting: JobKind
) -> None:
    headers = org.member.headers
    body = {"job_type": "greeting", "data_type": "contacts", "options": {"greeting": "hi"}}
    created = app_client.post("/api/v1/jobs", json=body, headers=headers)
    assert created.status_code == 201, created.text
    done = run_job(db, settings, org.id, created.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    assert done["options"] == {
        "greeting": "hi",
        "written": True,
        "result_file_name": "greeting-for-you.txt",
    }
    result = app_client.get(f"/api/v1/jobs/{done['id']}/result", headers=headers)
    assert result.text == "hi"
    assert 'filename="greeting-for-you.txt"' in result.headers["content-disposition"]

    bad = {**body, "options": {"greeting": 5}}
    refused = app_client.post("/api/v1/jobs", json=bad, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "options.greeting"

    template = app_client.post(
        "/api/v1/templates",
        json={
            "name": "Warm",
            "job_type": "greeting",
            "data_type": "contacts",
            "options": {"greeting": "bonjour", "warmth": 3},
        },
        headers=headers,
    )
    assert template.status_code == 201, template.text
    schedule = app_client.post(
        "/api/v1/schedules",
        json={
            "name": "Daily greeting",
            "job_type": "greeting",
            "data_type": "contacts",
            "options": {"warmth": 5},
            "template_id": template.json()["id"],
            "cron": "0 9 * * *",
            "timezone": "UTC",
        },
        headers=headers,
    )
    assert schedule.status_code == 201, schedule.text
    fired = app_client.post(f"/api/v1/schedules/{schedule.json()['id']}/run", headers=headers)
    assert fired.status_code == 201, fired.text
    job = fired.json()
    assert job["job_type"] == "greeting" and job["file_name"] == "scheduled-greeting.txt"
    assert job["options"] == {"greeting": "bonjour", "warmth": 5}  # the schedule's own wins
    assert run_job(db, settings, org.id, job["id"])["status"] == "completed"


def test_a_plugin_kind_is_known_to_the_web_and_run_by_a_worker_that_loads_it(
    database_url: str,
    settings: Settings,
    db: Database,
    org: Org,
    spawn_worker: SpawnWorker,
    quiet_queue: None,
    tmp_path: Path,
) -> None:
    """`crmferry serve --plugin` and `crmferry worker --plugin`: nothing else to change."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_MIN_LEAD_SECONDS": "0",
        "PYTHONPATH": str(REPO),
    }
    with (tmp_path / "serve.log").open("ab") as log:
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crmferry",
                "serve",
                "--port",
                str(port),
                "--plugin",
                "tests.jobs.greeting_plugin",
            ],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(url), 60, "the server")
        body = {"job_type": "greeting", "data_type": "contacts", "options": {"greeting": "hey"}}
        created = httpx.post(f"{url}/api/v1/jobs", json=body, headers=org.member.headers)
        assert created.status_code == 201, created.text
        spawn_worker(plugin="tests.jobs.greeting_plugin")
        job_id = created.json()["id"]
        wait_until(lambda: statuses(db, [job_id]) == {"completed": 1}, 60, "the greeting")
        result = httpx.get(f"{url}/api/v1/jobs/{job_id}/result", headers=org.member.headers)
        assert result.text == "hey"
    finally:
        web.terminate()
        web.wait(30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


FEED = {"people.csv": b"Full Name,Email Address\nAnn Lee,ann@example.com\n"}


def _check_memory(source: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    if source.get("name") not in FEED:
        message = 'must be {"type": "memory", "name": "<a file of the feed>"}'
        raise ValidationFailed(f"source {message}.", [{"field": "source", "message": message}])
    return {"type": "memory", "name": source["name"]}


def _fetch_memory(ctx: JobContext, source: Mapping[str, Any]) -> dict[str, Any]:
    return store_upload(
        ctx.conn,
        ctx.settings,
        organization_id=ctx.organization_id,
        created_by=ctx.job["created_by"],
        file_name=str(source["name"]),
        chunks=[FEED[str(source["name"])]],
        data_type=ctx.job["data_type"],
    )


MEMORY = SourceType(
    "memory",
    _check_memory,
    lambda source: str(source["name"]),
    lambda source: f"memory:{source['name']}",
    _fetch_memory,
    '{"type": "memory", "name": "..."}',
)


@pytest.fixture
def memory_source() -> Iterator[SourceType]:
    yield register_source(MEMORY)
    SOURCES.remove("memory")


def test_a_new_source_type_feeds_an_import_schedule(
    app_client: TestClient, db: Database, settings: Settings, org: Org, memory_source: SourceType
) -> None:
    headers = org.member.headers
    body = {
        "name": "Feed",
        "job_type": "import",
        "data_type": "contacts",
        "options": {},
        "cron": "0 6 * * *",
        "timezone": "UTC",
    }
    wrong = {**body, "source": {"type": "memory", "name": "nope.csv"}}
    refused = app_client.post("/api/v1/schedules", json=wrong, headers=headers)
    assert refused.status_code == 422 and "<a file of the feed>" in refused.json()["detail"]
    made = app_client.post(
        "/api/v1/schedules",
        json={**body, "source": {"type": "memory", "name": "people.csv"}},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    fired = app_client.post(f"/api/v1/schedules/{made.json()['id']}/run", headers=headers)
    assert fired.json()["file_name"] == "people.csv"
    done = run_job(db, settings, org.id, fired.json()["id"])
    assert done["status"] == "completed", done["error_message"]
    assert done["counts"]["inserted"] == 1 and done["upload_id"] is not None
    assert done["mapping"] == {"Full Name": "name", "Email Address": "email"}


# The one template rule, applied by the built-in kinds.


def test_an_export_schedule_takes_what_it_leaves_out_from_its_template(
    app_client: TestClient, org: Org
) -> None:
    """Import schedules always did; export schedules ignored their template."""
    headers = org.member.headers
    template = app_client.post(
        "/api/v1/templates",
        json={
            "name": "Two columns",
            "job_type": "export",
            "data_type": "contacts",
            "options": {"format": "jsonl", "fields": ["name", "email"]},
        },
        headers=headers,
    ).json()
    schedule = app_client.post(
        "/api/v1/schedules",
        json={
            "name": "Weekly",
            "job_type": "export",
            "data_type": "contacts",
            "options": {"format": "csv"},
            "template_id": template["id"],
            "cron": "0 8 * * 1",
            "timezone": "UTC",
        },
        headers=headers,
    )
    assert schedule.status_code == 201, schedule.text
    job = app_client.post(f"/api/v1/schedules/{schedule.json()['id']}/run", headers=headers)
    options = job.json()["options"]
    assert (options["format"], options["fields"]) == ("csv", ["name", "email"])


def test_a_schedule_naming_no_template_of_its_kind_is_a_422(
    app_client: TestClient, org: Org
) -> None:
    headers = org.member.headers
    body = {
        "name": "Weekly",
        "job_type": "export",
        "data_type": "contacts",
        "options": {},
        "cron": "0 8 * * 1",
        "timezone": "UTC",
    }
    for template_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = app_client.post(
            "/api/v1/schedules", json={**body, "template_id": template_id}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "template_id"


def test_a_schedule_whose_template_is_gone_makes_a_failed_job_saying_why(
    app_client: TestClient, org: Org
) -> None:
    headers = org.member.headers
    template = app_client.post(
        "/api/v1/templates",
        json={
            "name": "Soon gone",
            "job_type": "export",
            "data_type": "contacts",
            "options": {"format": "csv"},
        },
        headers=headers,
    ).json()
    schedule = app_client.post(
        "/api/v1/schedules",
        json={
            "name": "Weekly",
            "job_type": "export",
            "data_type": "contacts",
            "options": {},
            "template_id": template["id"],
            "cron": "0 8 * * 1",
            "timezone": "UTC",
        },
        headers=headers,
    ).json()
    assert (
        app_client.delete(f"/api/v1/templates/{template['id']}", headers=headers).status_code == 204
    )
    job = app_client.post(f"/api/v1/schedules/{schedule['id']}/run", headers=headers).json()
    assert job["status"] == "failed" and job["completed_at"] is not None
    assert job["error_message"] == f"No template {template['id']}."
