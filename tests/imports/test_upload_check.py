"""POST /uploads/{id}/check: the first rows' problems before the import starts."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.imports.conftest import Importer

CSV = "Name,Email,Status\nAda,ada@example.com,lead\n,nameless@example.com,\nBob,bob@,friend\n"
MAPPING = {"Name": "name", "Email": "email", "Status": "status"}


def check(client: TestClient, org: Org, upload_id: str, **body: Any) -> Any:
    body = {"data_type": "contacts", "mapping": MAPPING, **body}
    return client.post(f"/api/v1/uploads/{upload_id}/check", headers=org.member.headers, json=body)


def test_the_check_lists_each_rows_problems_and_writes_nothing(
    app_client: TestClient, importer: Importer, org: Org
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    response = check(app_client, org, upload["id"])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["rows_checked"] == 3
    assert answer["counts"] == {
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 2,
    }
    assert answer["errors"] == [
        {
            "row_number": 3,
            "column": "Name",
            "field": "name",
            "value": "",
            "message": "is required",
        },
        {
            "row_number": 4,
            "column": "Email",
            "field": "email",
            "value": "bob@",
            "message": "is not a valid e-mail address",
        },
        {
            "row_number": 4,
            "column": "Status",
            "field": "status",
            "value": "friend",
            "message": "is not one of: active, inactive, lead, prospect, customer",
        },
    ]
    assert answer["errors_truncated"] is False
    assert importer.rows(org, "SELECT count(*) AS n FROM contacts") == [{"n": 0}]


def test_the_check_applies_options_like_the_import(
    app_client: TestClient, importer: Importer, org: Org
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    options = {"defaults": {"name": "Unknown"}, "value_maps": {"status": {"friend": "lead"}}}
    answer = check(app_client, org, upload["id"], options=options).json()
    assert [e["field"] for e in answer["errors"]] == ["email"]


def test_only_the_first_thousand_rows_are_checked(
    app_client: TestClient, importer: Importer, org: Org
) -> None:
    rows = "".join(f"N{i},n{i}@\n" for i in range(1500))
    upload = importer.upload(org.member, "Name,Email\n" + rows, data_type="contacts")
    answer = check(app_client, org, upload["id"], mapping={"Name": "name", "Email": "email"})
    assert answer.json()["rows_checked"] == 1000
    assert len(answer.json()["errors"]) == 500 and answer.json()["errors_truncated"] is True


def test_a_bad_mapping_or_option_or_upload_is_refused(
    app_client: TestClient, importer: Importer, org: Org, make_org: Any
) -> None:
    upload = importer.upload(org.member, CSV, data_type="contacts")
    bad = check(app_client, org, upload["id"], mapping={"Nope": "name"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "mapping.Nope"
    bad = check(app_client, org, upload["id"], options={"defaults": {"status": "x"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "options.defaults.status"
    assert check(app_client, org, upload["id"], data_type="widgets").status_code == 422
    other = make_org("Other")
    assert check(app_client, other, upload["id"]).status_code == 404
    viewer = app_client.post(
        f"/api/v1/uploads/{upload['id']}/check",
        headers=org.viewer.headers,
        json={"data_type": "contacts", "mapping": MAPPING},
    )
    assert viewer.status_code == 403
