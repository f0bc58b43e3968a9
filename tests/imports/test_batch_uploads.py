"""POST /uploads/batch: several files, or one ZIP of them, each stored and typed from its
headers; a ZIP checked from its directory against bombs before anything is unpacked."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from crmferry.config import Settings
from tests.conftest import Org
from tests.imports.conftest import Importer
from tests.imports.test_batch import CONTACTS, LINES, PRODUCTS, QUOTES
from tests.stored import stored_keys

FILES = {
    "contacts.csv": CONTACTS,
    "products.csv": PRODUCTS,
    "quotes.csv": QUOTES,
    "quote_lines.csv": LINES,
}
SUGGESTED = ["contacts", "inventory", "bids", "bid_items"]


def _post(client: TestClient, org: Org, files: list[tuple[str, tuple[str, bytes]]]) -> Any:
    return client.post("/api/v1/uploads/batch", headers=org.member.headers, files=files)


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _stored_files(settings: Settings) -> list[str]:
    found = stored_keys(settings, "uploads")
    assert found, "the fixtures' own uploads are stored here"
    return found


def test_several_file_parts_become_uploads_each_with_its_suggested_type(
    importer: Importer, org: Org
) -> None:
    parts = [("file", (name, data.encode())) for name, data in FILES.items()]
    response = _post(importer.client, org, parts)
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [i["file_name"] for i in items] == list(FILES)
    assert [i["suggested_data_type"] for i in items] == SUGGESTED
    assert items[3]["suggested_mapping"]["Line"] == "line_number"
    # the batch runs them with their suggested types and mappings
    body = {"job_type": "import_batch", "items": [{"upload_id": i["id"]} for i in items]}
    job = importer.client.post("/api/v1/jobs", headers=org.member.headers, json=body).json()
    done = importer.run(org, job["id"])
    assert done["status"] == "completed", done["error_message"]
    assert done["counts"]["inserted"] == 9


def test_a_zip_of_files_is_unpacked_into_uploads_skipping_folders_and_metadata(
    importer: Importer, org: Org
) -> None:
    entries = {f"export/{name}": data.encode() for name, data in FILES.items()}
    entries["__MACOSX/export/._contacts.csv"] = b"junk"
    entries[".DS_Store"] = b"junk"
    response = _post(importer.client, org, [("file", ("crm.zip", _zip(entries)))])
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [(i["file_name"], i["suggested_data_type"]) for i in items] == list(
        zip(FILES, SUGGESTED, strict=True)
    )


def test_a_zip_bomb_is_refused_from_its_directory_and_nothing_is_kept(
    importer: Importer, org: Org, settings: Settings
) -> None:
    importer.upload(org.member, CONTACTS)
    before = _stored_files(settings)
    bomb = _zip({"contacts.csv": b"Name\n" + b"a" * (8 * 1024 * 1024)})
    response = _post(importer.client, org, [("file", ("crm.zip", bomb))])
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "contacts.csv" in detail and "CRMFERRY_MAX_XLSX_RATIO" in detail
    assert _stored_files(settings) == before


def test_a_zip_with_too_many_files_or_a_foreign_file_is_refused(
    importer: Importer, org: Org
) -> None:
    many = _zip({f"f{i}.csv": b"Name\nx\n" for i in range(21)})
    response = _post(importer.client, org, [("file", ("many.zip", many))])
    assert response.status_code == 422
    assert "CRMFERRY_MAX_ZIP_ENTRIES" in response.json()["detail"]
    foreign = _zip({"contacts.csv": CONTACTS.encode(), "run.exe": b"MZ"})
    response = _post(importer.client, org, [("file", ("mixed.zip", foreign))])
    assert response.status_code == 422
    assert "run.exe" in response.json()["detail"]


def test_an_unreadable_file_among_several_is_named_and_none_is_kept(
    importer: Importer, org: Org, settings: Settings
) -> None:
    importer.upload(org.member, CONTACTS)
    before = _stored_files(settings)
    parts = [
        ("file", ("contacts.csv", CONTACTS.encode())),
        ("file", ("broken.xlsx", b"PK\x03\x04 not a workbook")),
    ]
    response = _post(importer.client, org, parts)
    assert response.status_code in (415, 422), response.text
    assert response.json()["detail"].startswith("broken.xlsx: ")
    assert _stored_files(settings) == before


def test_a_zip_may_hold_json_lines_files(importer: Importer, org: Org) -> None:
    lines = b'{"sku": "B-100", "name": "Bolt", "unit_price": 19.99}\n'
    entries = {"contacts.csv": CONTACTS.encode(), "products.jsonl": lines}
    response = _post(importer.client, org, [("file", ("crm.zip", _zip(entries)))])
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [(i["file_name"], i["format"]) for i in items] == [
        ("contacts.csv", "csv"),
        ("products.jsonl", "jsonl"),
    ]
    assert items[1]["suggested_data_type"] == "inventory"
