"""`crmferry import FILE --type T ...` acting locally as a member."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmferry.cli.imports import follow, parse_map
from crmferry.config import Settings
from crmferry.errors import ValidationFailed
from tests.cli.test_admin_commands import crmferry
from tests.conftest import TEST_SECRET, Org
from tests.imports.conftest import Importer
from tests.stored import stored_keys


def test_import_command_schedules_a_job_that_runs(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path
) -> None:
    source = tmp_path / "stock.csv"
    source.write_text("Code,Label,Count\nA-1,Bolt,3\nA-2,Nut,x\n", encoding="utf-8")
    result = crmferry(
        settings,
        "import",
        str(source),
        "--type",
        "inventory",
        "--map",
        "Code=sku",
        "--map",
        "Label=name",
        "--map",
        "Count=quantity",
        "--mode",
        "insert",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job_id = uuid.UUID(result.stdout.strip())
    job = importer.run(org, job_id)
    assert job["file_name"] == "stock.csv"
    assert job["counts"]["inserted"] == 1 and job["counts"]["failed"] == 1
    assert job["options"]["mode"] == "insert"


def test_import_command_refuses_a_time_too_soon_saying_the_earliest(
    settings: Settings, org: Org, tmp_path: Path
) -> None:
    source = tmp_path / "c.csv"
    source.write_text("Name,Email\nA,a@example.com\n", encoding="utf-8")
    result = crmferry(
        settings,
        "import",
        str(source),
        "--type",
        "contacts",
        "--at",
        "2020-01-01T09:00",
        "--tz",
        "Europe/Paris",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 2
    assert "earliest allowed" in result.stderr


def test_a_viewer_cannot_import(settings: Settings, org: Org, tmp_path: Path) -> None:
    source = tmp_path / "c.csv"
    source.write_text("Name,Email\nA,a@example.com\n", encoding="utf-8")
    result = crmferry(
        settings,
        "import",
        str(source),
        "--type",
        "contacts",
        "--org",
        str(org.id),
        "--email",
        org.viewer.email,
    )
    assert result.returncode != 0 and "member role" in result.stderr


def test_map_pairs_are_parsed_and_checked() -> None:
    assert parse_map(["E-mail = Address=email", "Notes="]) == {
        "E-mail = Address": "email",
        "Notes": None,
    }
    with pytest.raises(ValidationFailed):
        parse_map(["no-equals"])


class _Client:
    """Stands in for the acting client's wait: reports three states."""

    def wait(self, job_id: str, on_progress: Any) -> dict[str, Any]:
        states = [
            {"status": "pending", "progress": {"done": 0, "total": None}},
            {"status": "processing", "progress": {"done": 5, "total": 10}},
            {"status": "failed", "progress": {"done": 10, "total": 10}, "counts": {"failed": 10}},
        ]
        for state in states:
            on_progress(state)
        return states[-1]


def test_follow_shows_progress_and_returns_the_finished_job() -> None:
    assert follow(_Client(), "id")["status"] == "failed"  # type: ignore[arg-type]


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """A real `crmferry worker` process on the test database; its log file."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_POLL_SECONDS": "1",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "crmferry", "worker"], env=env, stdout=log, stderr=log
        )
    yield log_path
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_import_wait_follows_a_real_worker_to_the_end(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path, worker: Path
) -> None:
    source = tmp_path / "people.csv"
    source.write_text(
        "Given Name,Family Name,E-mail Address\nAnn,Lee,ann@example.com\nBob,Ray,bob@\n",
        encoding="utf-8",
    )
    result = crmferry(
        settings,
        "import",
        str(source),
        "--type",
        "contacts",
        "--wait",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr + worker.read_text()
    assert "completed: inserted 1" in result.stderr
    assert "Row 3, column 'E-mail Address': 'bob@' is not a valid e-mail address" in result.stderr
    assert importer.rows(org, "SELECT name FROM contacts") == [{"name": "Ann Lee"}]
    aborted = crmferry(
        settings,
        "import",
        str(source),
        "--type",
        "contacts",
        "--on-error",
        "abort",
        "--wait",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert aborted.returncode == 1 and "nothing was imported" in aborted.stderr


def test_import_batch_command_imports_linked_files_as_one_job(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path
) -> None:
    from tests.imports.test_batch import CONTACTS, LINES, PRODUCTS, QUOTES

    paths = []
    for name, content in (
        ("quote_lines.csv", LINES),
        ("quotes.csv", QUOTES),
        ("contacts.csv", CONTACTS),
        ("products.csv", PRODUCTS),
    ):
        paths.append(tmp_path / name)
        paths[-1].write_text(content, encoding="utf-8")
    result = crmferry(
        settings,
        "import",
        *map(str, paths),
        "--batch",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "completed", job["error_message"]
    assert [i["data_type"] for i in job["items"]] == ["contacts", "inventory", "bids", "bid_items"]
    assert job["counts"]["inserted"] == 9


def test_import_batch_command_refuses_a_type_and_several_files_without_batch(
    settings: Settings, org: Org, tmp_path: Path
) -> None:
    source = tmp_path / "c.csv"
    source.write_text("Name,Email\nA,a@example.com\n", encoding="utf-8")
    who = ("--org", str(org.id), "--email", org.member.email)
    typed = crmferry(settings, "import", str(source), "--batch", "--type", "contacts", *who)
    assert typed.returncode != 0 and "--batch" in typed.stderr
    several = crmferry(settings, "import", str(source), str(source), "--type", "contacts", *who)
    assert several.returncode != 0 and "--batch" in several.stderr


def _zip_of_the_move(tmp_path: Path) -> Path:
    from tests.imports.test_batch import CONTACTS, LINES, QUOTES

    bundle = tmp_path / "move.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("crm/quote_lines.csv", LINES)
        archive.writestr("crm/quotes.csv", QUOTES)
        archive.writestr("crm/contacts.csv", CONTACTS)
    return bundle


def test_import_batch_command_unpacks_a_zip_beside_other_files(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path
) -> None:
    from tests.imports.test_batch import PRODUCTS

    products = tmp_path / "products.csv"
    products.write_text(PRODUCTS, encoding="utf-8")
    who = ("--org", str(org.id), "--email", org.member.email)
    bundle = _zip_of_the_move(tmp_path)
    result = crmferry(settings, "import", str(bundle), str(products), "--batch", *who)
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "completed", job["error_message"]
    assert [(i["file_name"], i["data_type"]) for i in job["items"]] == [
        ("contacts.csv", "contacts"),
        ("products.csv", "inventory"),
        ("quotes.csv", "bids"),
        ("quote_lines.csv", "bid_items"),
    ]
    assert job["counts"]["inserted"] == 9
    names = importer.rows(org, "SELECT file_name FROM uploads ORDER BY file_name")
    assert [n["file_name"] for n in names] == [
        "contacts.csv",
        "products.csv",
        "quote_lines.csv",
        "quotes.csv",
    ]  # the ZIP itself is not kept


def test_import_batch_command_over_http_sends_the_zip_to_the_batch_upload(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path, live_url: str
) -> None:
    bundle = _zip_of_the_move(tmp_path)
    who = ("--url", live_url, "--token", org.member.token)
    result = crmferry(settings, "import", str(bundle), "--batch", *who)
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "failed"  # the quotes' lines name products the batch lacks
    assert [i["data_type"] for i in job["items"]] == ["contacts", "bids", "bid_items"]
    assert importer.rows(org, "SELECT count(*) AS n FROM bids") == [{"n": 0}]


def test_a_zip_bomb_given_to_the_batch_command_is_refused_and_nothing_is_kept(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path
) -> None:
    bundle = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("contacts.csv", "Name,Email\n" + "a" * 5_000_000)
    who = ("--org", str(org.id), "--email", org.member.email)
    result = crmferry(settings, "import", str(bundle), "--batch", *who)
    assert result.returncode != 0
    assert "contacts.csv" in result.stderr and "compression bomb" in result.stderr, result.stderr
    assert importer.rows(org, "SELECT count(*) AS n FROM uploads") == [{"n": 0}]
    assert stored_keys(settings, f"uploads/{org.id}") == []
