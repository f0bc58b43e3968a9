"""Export jobs end to end: created through the API, run by the engine, downloaded.

(The writers and options have their own test modules beside this one.)"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.exports import split
from tests.conftest import TEST_SECRET, Org
from tests.jobrun import run_job


def _contacts(db: Database, org: Org, rows: list[tuple[str, str | None, str]]) -> None:
    with db.tenant(org.id) as conn:
        conn.cursor().executemany(
            "INSERT INTO contacts (organization_id, name, email, status) VALUES (%s, %s, %s, %s)",
            [(org.id, *row) for row in rows],
        )


def _export(
    client: TestClient, org: Org, options: dict[str, Any], data_type: str = "contacts"
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={"job_type": "export", "data_type": data_type, "options": options},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _run(db: Database, settings: Settings, org: Org, job: dict[str, Any]) -> dict[str, Any]:
    done = run_job(db, settings, org.id, job["id"])
    assert done["status"] == "completed", done["error_message"]
    return done


def test_csv_export_job_downloads_the_chosen_fields_and_rows(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _contacts(
        db,
        org,
        [
            ("Zoë Ünal", "zoe@example.com", "lead"),
            ("Bob, Jr.", "bob@example.com", "active"),
            ("=HYPERLINK(1)", None, "lead"),
        ],
    )
    job = _export(
        app_client,
        org,
        {
            "format": "csv",
            "fields": ["email", "name"],
            "filters": [{"field": "status", "op": "eq", "value": "lead"}],
        },
    )
    assert job["status"] == "pending" and job["options"]["fields"] == ["email", "name"]
    done = _run(db, settings, org, job)
    assert done["record_count"] == 2
    shown = app_client.get(f"/api/v1/jobs/{job['id']}", headers=org.viewer.headers).json()
    assert shown["result_url"] == f"/api/v1/jobs/{job['id']}/result"
    response = app_client.get(shown["result_url"], headers=org.viewer.headers)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert re.search(r'filename="contacts-\d{8}-\d{6}\.csv"', disposition), disposition
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["email", "name"]
    assert sorted(rows[1:]) == sorted([["zoe@example.com", "Zoë Ünal"], ["", "'=HYPERLINK(1)"]])


def test_xlsx_and_jsonl_export_jobs(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    with db.tenant(org.id) as conn:
        conn.execute(
            "INSERT INTO inventory (organization_id, sku, name, quantity, unit_price) VALUES (%s, 'A-1', 'Desk', 3, 12.50)",
            [org.id],
        )
    xlsx = _export(
        app_client,
        org,
        {"format": "xlsx", "fields": ["sku", "quantity", "unit_price"]},
        "inventory",
    )
    jsonl = _export(
        app_client, org, {"format": "jsonl", "fields": ["sku", "quantity"]}, "inventory"
    )
    for job in (xlsx, jsonl):
        _run(db, settings, org, job)
    workbook_bytes = app_client.get(
        f"/api/v1/jobs/{xlsx['id']}/result", headers=org.member.headers
    ).content
    sheet = openpyxl.load_workbook(io.BytesIO(workbook_bytes), read_only=True).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["sku", "quantity", "unit_price"]
    assert values[1][0] == "A-1" and values[1][1] == 3 and float(values[1][2]) == 12.5
    lines = app_client.get(
        f"/api/v1/jobs/{jsonl['id']}/result", headers=org.member.headers
    ).text.splitlines()
    assert [json.loads(line) for line in lines] == [{"sku": "A-1", "quantity": 3}]


def test_bad_export_options_are_422_naming_the_field(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "export",
            "data_type": "contacts",
            "options": {
                "format": "pdf",
                "fields": ["email", "shoe_size"],
                "filters": [{"field": "status", "op": "eq", "value": "asleep"}],
            },
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"options.format", "options.fields[1]", "options.filters[0].value"} <= fields


def test_another_organizations_result_is_404(
    app_client: TestClient, db: Database, settings: Settings, make_org: Any
) -> None:
    a, b = make_org("A"), make_org("B")
    job = _export(app_client, a, {"format": "csv"})
    _run(db, settings, a, job)
    assert (
        app_client.get(f"/api/v1/jobs/{job['id']}/result", headers=a.member.headers).status_code
        == 200
    )
    assert (
        app_client.get(f"/api/v1/jobs/{job['id']}/result", headers=b.admin.headers).status_code
        == 404
    )
    assert app_client.get(f"/api/v1/jobs/{job['id']}", headers=b.admin.headers).status_code == 404


def test_a_csv_export_imported_back_is_all_unchanged(
    app_client: TestClient, db: Database, settings: Settings, org: Org
) -> None:
    _contacts(db, org, [(f'Person {i}, "Q"', f"p{i}@example.com", "customer") for i in range(25)])
    with db.tenant(org.id) as conn:
        conn.execute("UPDATE contacts SET phone = '+1 555 0100', notes = 'line one\nline two'")
    job = _export(app_client, org, {"format": "csv"})
    _run(db, settings, org, job)
    exported = app_client.get(
        f"/api/v1/jobs/{job['id']}/result", headers=org.member.headers
    ).content
    upload = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("back.csv", exported)},
        data={"data_type": "contacts"},
    )
    assert upload.status_code == 201, upload.text
    body = upload.json()
    back = app_client.post(
        "/api/v1/jobs",
        headers=org.member.headers,
        json={
            "job_type": "import",
            "data_type": "contacts",
            "upload_id": body["id"],
            "mapping": body["suggested_mapping"],
            "options": {"mode": "upsert"},
        },
    )
    assert back.status_code == 201, back.text
    done = _run(db, settings, org, back.json())
    assert done["counts"]["unchanged"] == 25, (done["counts"], done["error_message"])
    assert done["counts"]["inserted"] == 0 and done["counts"]["updated"] == 0


def test_a_large_csv_export_job_reads_two_streams_into_the_same_file(
    app_client: TestClient,
    db: Database,
    settings: Settings,
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
    appended: list[int],
) -> None:
    _contacts(db, org, [(f"=Person {i}", f"p{i}@example.com", "lead") for i in range(40)])
    files = []
    for min_rows in (10**9, 10):  # one stream, then two (the job counts 40 rows)
        monkeypatch.setattr(split, "SPLIT_MIN_ROWS", min_rows)
        job = _export(app_client, org, {"format": "csv"})
        assert _run(db, settings, org, job)["record_count"] == 40
        result = app_client.get(f"/api/v1/jobs/{job['id']}/result", headers=org.member.headers)
        files.append(result.content)
    assert len(appended) == 1 and appended[0] > 0
    assert files[1] == files[0]


def test_cli_export_writes_the_file_with_a_real_worker(
    settings: Settings, org: Org, db: Database, tmp_path: Path
) -> None:
    _contacts(db, org, [("Ada", "ada@example.com", "active")])
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_POLL_SECONDS": "0.5",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "crmferry", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        out = tmp_path / "contacts.csv"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "crmferry",
                "export",
                "--type",
                "contacts",
                "--fields",
                "name,email",
                "--filter",
                "email eq ada@example.com",
                "-o",
                str(out),
                "--org",
                str(org.id),
                "--email",
                org.member.email,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 36  # the job id alone on stdout
    assert out.read_text(encoding="utf-8-sig").splitlines() == ["name,email", "Ada,ada@example.com"]


def test_cli_export_every_creates_a_schedule(settings: Settings, db: Database, org: Org) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmferry",
            "export",
            "--type",
            "bids",
            "--format",
            "xlsx",
            "--every",
            "0 8 * * 1",
            "--tz",
            "Europe/Paris",
            "--changed-since",
            "last_run",
            "--org",
            str(org.id),
            "--email",
            org.member.email,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "next run:" in result.stderr
    with db.tenant(org.id) as conn:
        made = conn.execute(
            "SELECT options FROM schedules WHERE id = %s", [result.stdout.strip()]
        ).fetchone()
    assert made is not None and made["options"]["changed_since"] == "last_run"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmferry",
            "export",
            "--type",
            "bids",
            "--every",
            "99 * * * *",
            "--org",
            str(org.id),
            "--email",
            org.member.email,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "cron" in bad.stderr.lower()
