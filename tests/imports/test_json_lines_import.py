"""JSON Lines through the upload and the job: the upload answer, the suggested mapping
from the keys, and a line the file gets wrong reported as the error of that line."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.conftest import Org
from tests.imports.conftest import Importer

LINES = (
    '{"name":"Ada Lovelace","email":"ada@example.com","status":"lead","phone":null}\n'
    "\n"
    '{"name":"Bob","email":"bob@example.com" "status":"lead"}\n'
    '{"name":"Cid","email":"cid@example.com","tags":["a"]}\n'
    '{"name":"Dee","email":"dee@example.com","name":"D2"}\n'
    '{"name":"Eve","email":null,"status":"customer","phone":"+1 555 0100"}\n'
)


def _report(job: dict[str, Any]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(job["report_file"].read_text(encoding="utf-8-sig"))))


def test_the_upload_answer_describes_json_lines(importer: Importer, org: Org) -> None:
    upload = importer.upload(org.member, LINES, name="people.jsonl", data_type="contacts")
    assert (upload["format"], upload["encoding"], upload["delimiter"]) == ("jsonl", "utf-8", None)
    assert upload["header_row"] == 0 and upload["row_estimate"] == 5
    assert upload["headers"] == ["name", "email", "status", "phone", "tags"]
    assert upload["suggested_mapping"] == {
        "name": "name",
        "email": "email",
        "status": "status",
        "phone": "phone",
        "tags": None,
    }
    assert [(p["row_number"], p["column"]) for p in upload["read_problems"]] == [
        (3, ""),
        (4, "tags"),
        (5, "name"),
    ]


def test_each_broken_line_fails_alone_named_by_its_line(importer: Importer, org: Org) -> None:
    job = importer.import_csv(org, "contacts", LINES)
    assert job["status"] == "completed", job["error_message"]
    assert (job["counts"]["inserted"], job["counts"]["failed"]) == (2, 3), job["counts"]
    # the file's own problem comes first for its line (the validation's may follow)
    first = {}
    for line in _report(job):
        first.setdefault(line["row_number"], line["message"])
    assert list(first) == ["3", "4", "5"]
    assert "is not valid JSON: Expecting ',' delimiter at column 41" in first["3"]
    assert "holds an array of 1 value under 'tags'" in first["4"]
    assert "has the key 'name' twice" in first["5"]
    names = importer.rows(org, "SELECT name, email, phone FROM contacts ORDER BY name")
    assert names == [
        {"name": "Ada Lovelace", "email": "ada@example.com", "phone": None},
        {"name": "Eve", "email": None, "phone": "+1 555 0100"},
    ]
