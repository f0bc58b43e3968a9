"""`crmferry import` takes --encoding, --header-row, --sheet and --last-row as the upload
form does."""

from __future__ import annotations

import uuid
from pathlib import Path

from typer.testing import CliRunner

from crmferry.cli import app
from crmferry.config import Settings
from tests.cli.test_admin_commands import crmferry
from tests.conftest import TEST_SECRET, Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"


def test_the_import_command_reads_as_told(
    importer: Importer, settings: Settings, org: Org, tmp_path: Path
) -> None:
    result = crmferry(
        settings,
        "import",
        str(FILES / "legacy_contacts.ods"),
        "--type",
        "contacts",
        "--sheet",
        "Contacts",
        "--header-row",
        "1",
        "--map",
        "First Name=first_name",
        "--map",
        "E-mail=email",
        "--map",
        "Zip=postal_code",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(org, "SELECT postal_code FROM contacts WHERE email = 'ada@example.com'")
    assert rows == [{"postal_code": "02134"}]


def test_a_chosen_encoding_is_used_by_the_command(
    importer: Importer, settings: Settings, org: Org
) -> None:
    result = crmferry(
        settings,
        "import",
        str(FILES / "macroman_euro.csv"),
        "--type",
        "contacts",
        "--encoding",
        "mac-turkish",
        "--map",
        "Name=name",
        "--map",
        "Email=email",
        "--map",
        "Notes=notes",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(org, "SELECT notes FROM contacts WHERE email = 'rene@example.fr'")
    assert rows == [{"notes": "Budget 5 000 ğ"}]


def test_over_http_the_choices_go_to_the_upload_form(
    importer: Importer, settings: Settings, org: Org, live_url: str
) -> None:
    env = {
        "DATABASE_URL": str(settings.database_url),
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(settings.data_dir),
        "CRMFERRY_ORG": "",
        "CRMFERRY_EMAIL": "",
    }
    arguments = ["import", str(FILES / "report_title_lines.csv"), "--type", "contacts"]
    arguments += ["--header-row", "4", "--map", "Email=email", "--map", "First Name=first_name"]
    arguments += ["--url", live_url, "--token", org.member.token]
    result = CliRunner().invoke(app, arguments, env=env)
    assert result.exit_code == 0, result.output
    job = importer.run(org, uuid.UUID(result.output.strip().splitlines()[-1]))
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 2


def test_the_import_command_takes_the_last_data_row(
    importer: Importer, settings: Settings, org: Org
) -> None:
    """Salesforce's report footer is left out by itself; --last-row 5 leaves out more."""
    result = crmferry(
        settings,
        "import",
        str(FILES / "salesforce_report_footer.csv"),
        "--type",
        "contacts",
        "--last-row",
        "5",
        "--map",
        "First Name=first_name",
        "--map",
        "Email=email",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "completed", job["error_message"]
    assert job["options"].get("last_row") is None  # the upload's, not the job's option
    assert importer.rows(org, "SELECT first_name FROM contacts") == [{"first_name": "Ada"}]


def test_the_import_command_imports_json_lines_with_the_suggested_mapping(
    importer: Importer, settings: Settings, org: Org
) -> None:
    result = crmferry(
        settings,
        "import",
        str(FILES / "inventory_export.jsonl"),
        "--type",
        "inventory",
        "--org",
        str(org.id),
        "--email",
        org.member.email,
    )
    assert result.returncode == 0, result.stderr
    job = importer.run(org, uuid.UUID(result.stdout.strip()))
    assert job["status"] == "completed", job["error_message"]
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (3, 0), job["counts"]
    rows = importer.rows(org, "SELECT sku, unit_price, cost FROM inventory ORDER BY sku")
    assert [(r["sku"], str(r["unit_price"]), str(r["cost"])) for r in rows] == [
        ("B-100", "19.99", "0.50"),
        ("N-007", "0.10", "None"),
        ("W-1", "1234567.89", "1.00"),
    ]
