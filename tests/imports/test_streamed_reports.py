"""An import's error report is written straight into the store under the attempt's
prefix (nothing staged on the machine), and an attempt that does not commit leaves no
report: one broken while it is written, one cancelled once it is written."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crmferry.db import Database
from crmferry.imports import kind
from crmferry.storage import job_prefix
from tests.conftest import Backend, Org
from tests.imports.conftest import Importer
from tests.s3server import bucket_keys, open_multipart_uploads
from tests.stored import FilesSeen, read_stored, stored_keys

ROWS = 3000
CSV = "Name,Email\n" + "".join(
    f"Person {i},{'bad-' if i % 3 == 0 else ''}p{i}@{'' if i % 3 == 0 else 'example.com'}\n"
    for i in range(ROWS)
)
MAPPING = {"Name": "name", "Email": "email"}


class Broken(Exception):
    pass


def _report_rows(importer: Importer, key: str) -> list[list[str]]:
    text = read_stored(importer.settings, key).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _nothing_of(importer: Importer, backend: Backend, org: Org, job_id: object) -> None:
    assert stored_keys(importer.settings, job_prefix(org.id, job_id)) == []
    if backend.name == "s3":
        assert backend.endpoint and backend.bucket
        assert [k for k in bucket_keys(backend.endpoint, backend.bucket) if "/jobs/" in k] == []
        assert open_multipart_uploads(backend.endpoint, backend.bucket) == []


def test_the_error_report_goes_straight_into_the_store(
    importer: Importer, org: Org, each_backend: Backend, own_data_dir: Path
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    job_id = importer.create(org, "contacts", upload["id"], MAPPING)
    seen = FilesSeen(own_data_dir)
    with seen.running():
        job = importer.run(org, job_id)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["failed"] == ROWS // 3
    key = job["error_report_path"]
    assert key.startswith(f"{job_prefix(org.id, job_id)}/attempt-1/")
    assert stored_keys(importer.settings, job_prefix(org.id, job_id)) == [key]
    rows = _report_rows(importer, key)
    assert rows[0][:4] == ["row_number", "column", "value", "message"]
    assert [r[0] for r in rows[1:3]] == ["2", "5"]
    assert len(rows) == 1 + ROWS // 3
    if each_backend.name == "s3":
        assert seen.seen == set()  # not staged on the machine


def _wrapped(monkeypatch: pytest.MonkeyPatch, after_rows: Any) -> None:
    """The report writer given the file's rows through `after_rows(count)`."""
    real = kind.write_report

    def rows_watched(rows: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
        for count, row in enumerate(rows, start=1):
            after_rows(count)
            yield row

    def write_report(conn: Any, out: Any, headers: Any, columns: Any, rows: Any) -> Any:
        return real(conn, out, headers, columns, rows_watched(rows))

    monkeypatch.setattr(kind, "write_report", write_report)


def test_a_report_broken_while_written_leaves_no_object(
    importer: Importer, org: Org, each_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def breaking(count: int) -> None:
        if count > ROWS // 2:
            raise Broken("the report broke")

    _wrapped(monkeypatch, breaking)
    upload = importer.upload(org.member, CSV, data_type="contacts")
    job_id = importer.create(org, "contacts", upload["id"], MAPPING)
    job = importer.run(org, job_id)
    assert job["status"] == "failed" and "the report broke" in job["error_message"]
    assert job["error_report_path"] is None
    _nothing_of(importer, each_backend, org, job_id)


def test_an_attempt_cancelled_after_its_report_leaves_no_report(
    importer: Importer,
    db: Database,
    org: Org,
    each_backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    job_id = importer.create(org, "contacts", upload["id"], MAPPING)

    read: list[int] = []

    def cancel_once(count: int) -> None:
        read.append(count)
        if count == 1:  # nothing looks until the run ends: the report is written, stored
            with db.owner_connect() as conn:
                conn.execute(
                    "UPDATE scheduled_jobs SET cancel_requested = true WHERE id = %s", [job_id]
                )

    _wrapped(monkeypatch, cancel_once)
    job = importer.run(org, job_id)
    assert read[-1] > ROWS * 0.99  # the report was written to its end
    assert job["status"] == "cancelled"
    assert job["error_report_path"] is None
    _nothing_of(importer, each_backend, org, job_id)
