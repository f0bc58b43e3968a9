"""Real-world files through the whole import: tool exports, XLSX, legacy encodings, limits."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"


def _import_file(importer: Importer, org: Org, data_type: str, name: str) -> dict[str, object]:
    upload = importer.upload(
        org.member, (FILES / name).read_bytes(), name=name, data_type=data_type
    )
    job_id = importer.create(org, data_type, upload["id"], upload["suggested_mapping"])
    return importer.run(org, job_id)


def test_an_outlook_export_imports_with_its_suggested_mapping(importer: Importer, org: Org) -> None:
    job = _import_file(importer, org, "contacts", "outlook_contacts.csv")
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["failed"] == 0 and job["counts"]["inserted"] >= 2
    rows = importer.rows(
        org, "SELECT name, email, company, city FROM contacts WHERE email = 'grace@navy.example'"
    )
    assert rows == [
        {
            "name": "Grace Hopper",
            "email": "grace@navy.example",
            "company": "US Navy",
            "city": "Arlington",
        }
    ]


def test_a_google_contacts_export_imports(importer: Importer, org: Org) -> None:
    job = _import_file(importer, org, "contacts", "google_contacts.csv")
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(
        org, "SELECT name, company FROM contacts WHERE email = 'alan@example.co.uk'"
    )
    assert rows == [{"name": "Alan Turing", "company": "University of Manchester"}]


def test_an_xlsx_sheet_imports(importer: Importer, org: Org) -> None:
    upload = importer.upload(
        org.member,
        (FILES / "inventory.xlsx").read_bytes(),
        name="inventory.xlsx",
        data_type="inventory",
    )
    mapping = {"SKU": "sku", "Name": "name", "Qty": "quantity", "Unit Price": "unit_price"}
    job = importer.run(org, importer.create(org, "inventory", upload["id"], mapping))
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(
        org, "SELECT sku, quantity, unit_price::text FROM inventory WHERE sku = 'B-200'"
    )
    assert rows == [{"sku": "B-200", "quantity": 3, "unit_price": "19.99"}]


def test_a_cp1252_file_keeps_its_accents(importer: Importer, org: Org) -> None:
    job = _import_file(importer, org, "contacts", "cp1252_accents.csv")
    assert job["status"] == "completed", job["error_message"]
    names = {r["name"] for r in importer.rows(org, "SELECT name FROM contacts")}
    assert "José Müller" in names and "Björn Ångström" in names


def test_a_file_over_the_row_limit_fails_the_job_with_the_reason(
    importer: Importer, org: Org
) -> None:
    upload = importer.upload(org.member, "SKU,Name\n" + "".join(f"S{i},N{i}\n" for i in range(10)))
    job_id = importer.create(org, "inventory", upload["id"], {"SKU": "sku", "Name": "name"})
    limited = Importer(
        importer.client, importer.db, importer.settings.model_copy(update={"max_import_rows": 5})
    )
    job = limited.run(org, job_id)
    assert job["status"] == "failed"
    assert "5" in job["error_message"] and "row" in job["error_message"].lower()
    assert importer.rows(org, "SELECT * FROM inventory") == []
