"""Imports read a stored text table straight from the store (no local copy on either
backend, nothing written under CRMFERRY_DATA_DIR while it is read from S3), with the
same description and rows as the file read from a local path; a workbook, which needs
random access, is read from a temporary local copy that is gone afterwards."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from crmferry.config import Settings
from crmferry.imports.reading import iter_rows, sniff
from crmferry.imports.reading.info import SAMPLE_BYTES
from crmferry.imports.stored_source import stored_upload
from crmferry.storage import store_for
from tests.conftest import Backend, Org
from tests.imports.conftest import Importer
from tests.stored import FilesSeen

ROWS = 40_000
# cp1252 (an accent far beyond the sample, so the encoding is found by a second look),
# a report's footer after a blank line (found from the file's last bytes)
CSV = (
    "Name,Email,Company\n"
    + "".join(f"Person {i},p{i}@example.com,Company {i % 97}\n" for i in range(ROWS))
    + "Zoë Ångström,zoe@example.com,Café\n"
    + "\nTotal: 40001 rows\n"
).encode("cp1252")


@pytest.fixture
def local_copies(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the store is asked a local copy of (the store itself is real)."""
    store = store_for(settings)
    original = type(store).local_copy
    asked: list[str] = []

    def spy(self: Any, key: str) -> Any:
        asked.append(key)
        return original(self, key)

    monkeypatch.setattr(type(store), "local_copy", spy)
    return asked


def test_a_stored_csv_reads_as_the_same_file_read_locally(
    settings: Settings, each_backend: Backend, tmp_path: Path, local_copies: list[str]
) -> None:
    key = f"uploads/{uuid.uuid4()}/{uuid.uuid4()}"
    store_for(settings).put_stream(key, io.BytesIO(CSV))
    path = tmp_path / "file.csv"
    path.write_bytes(CSV)
    source = stored_upload(settings, key)

    info = sniff(source)
    assert info == sniff(path)
    assert info.encoding == "cp1252" and info.last_row == ROWS + 2
    assert list(iter_rows(source, info)) == list(iter_rows(path, info))
    assert source.read_range(len(CSV) - 5, 100) == CSV[-5:]
    assert source.read_range(len(CSV) + 10, 100) == b""
    assert source.head(SAMPLE_BYTES) == CSV[:SAMPLE_BYTES]
    assert local_copies == []


def test_a_csv_import_from_object_storage_writes_nothing_on_the_machine(
    importer: Importer,
    org: Org,
    each_backend: Backend,
    own_data_dir: Path,
    local_copies: list[str],
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    assert upload["encoding"] == "cp1252"
    mapping = {"Name": "name", "Email": "email", "Company": "company"}
    job_id = importer.create(org, "contacts", upload["id"], mapping)
    watch = FilesSeen(own_data_dir)
    with watch.running():
        job = importer.run(org, job_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == ROWS + 1
    assert local_copies == []
    if each_backend.name == "s3":
        assert watch.seen == set()
    last = importer.rows(org, "SELECT name, company FROM contacts WHERE email = 'zoe@example.com'")
    assert last == [{"name": "Zoë Ångström", "company": "Café"}]
    (count,) = importer.rows(org, "SELECT count(*) AS n FROM contacts")
    assert count["n"] == ROWS + 1


def test_a_workbook_import_reads_a_local_copy_removed_after(
    importer: Importer,
    org: Org,
    s3_backend: Backend,
    own_data_dir: Path,
    local_copies: list[str],
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Email"])
    for i in range(50):
        sheet.append([f"Person {i}", f"p{i}@example.com"])
    data = io.BytesIO()
    book.save(data)
    upload = importer.upload(org.member, data.getvalue(), name="people.xlsx", data_type="contacts")
    job_id = importer.create(org, "contacts", upload["id"], {"Name": "name", "Email": "email"})
    watch = FilesSeen(own_data_dir)
    with watch.running():
        job = importer.run(org, job_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 50
    assert local_copies  # the workbook's reader needs random access
    assert [p for p in own_data_dir.rglob("*") if p.is_file()] == []
