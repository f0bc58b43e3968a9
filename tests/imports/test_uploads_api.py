"""POST /api/v1/uploads: stored, sniffed, limited, tenant-scoped."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.web.app import create_app
from tests.conftest import Org
from tests.stored import stored_keys

pytestmark = pytest.mark.usefixtures("each_backend")

CSV = "E-mail Address,Given Name,Family Name,Organization 1 - Name\nann@example.com,Ann,Lee,Acme\n"


def stored_files(settings: Settings, org: Org) -> list[str]:
    return [key.rsplit("/", 1)[-1] for key in stored_keys(settings, f"uploads/{org.id}")]


def test_upload_answers_the_file_description_and_a_suggested_mapping(
    app_client: TestClient, org: Org, settings: Settings
) -> None:
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("people.csv", CSV.encode())},
        data={"data_type": "contacts"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["file_name"] == "people.csv"
    assert body["size_bytes"] == len(CSV.encode())
    assert body["sha256"] == hashlib.sha256(CSV.encode()).hexdigest()
    assert body["format"] == "csv" and body["delimiter"] == ","
    assert body["headers"] == [
        "E-mail Address",
        "Given Name",
        "Family Name",
        "Organization 1 - Name",
    ]
    assert body["preview"] == [["ann@example.com", "Ann", "Lee", "Acme"]]
    assert body["row_estimate"] == 1
    assert body["suggested_mapping"] == {
        "E-mail Address": "email",
        "Given Name": "first_name",
        "Family Name": "last_name",
        "Organization 1 - Name": "company",
    }
    assert stored_files(settings, org) == [body["id"]]


def test_without_a_data_type_the_best_matching_type_is_suggested(
    app_client: TestClient, org: Org
) -> None:
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("stock.csv", b"Item #,Product Name,Qty\nA-1,Bolt,4\n")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["suggested_data_type"] == "inventory"
    assert response.json()["suggested_mapping"] == {
        "Item #": "sku",
        "Product Name": "name",
        "Qty": "quantity",
    }


def test_a_binary_file_is_refused_and_not_kept(
    app_client: TestClient, org: Org, settings: Settings
) -> None:
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)},
    )
    assert response.status_code in (415, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]
    assert stored_files(settings, org) == []


@pytest.fixture
def small_limit_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"max_upload_bytes": 1000})
    with TestClient(create_app(limited, db)) as client:
        yield client


def test_an_upload_over_the_limit_is_413_and_not_kept(
    small_limit_client: TestClient, org: Org, settings: Settings
) -> None:
    big = ("Name,Email\n" + "x,y@example.com\n" * 200).encode()
    response = small_limit_client.post(
        "/api/v1/uploads", headers=org.member.headers, files={"file": ("big.csv", big)}
    )
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]
    assert stored_files(settings, org) == []


def test_the_limit_is_enforced_while_streaming_without_a_content_length(
    small_limit_client: TestClient, org: Org, settings: Settings
) -> None:
    boundary = "xYzBoundary"
    payload = ("x,y@example.com\n" * 200).encode()

    def body() -> Iterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nName,Email\n'.encode()
        for start in range(0, len(payload), 256):
            yield payload[start : start + 256]
        yield f"\r\n--{boundary}--\r\n".encode()

    response = small_limit_client.post(
        "/api/v1/uploads",
        headers={**org.member.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body(),
    )
    assert response.status_code == 413
    assert stored_files(settings, org) == []


def test_a_viewer_may_not_upload(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/uploads", headers=org.viewer.headers, files={"file": ("a.csv", CSV.encode())}
    )
    assert response.status_code == 403


def test_a_request_without_a_file_is_422(app_client: TestClient, org: Org) -> None:
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        data={"data_type": "contacts"},
        files={"other": ("a.txt", b"x")},
    )
    assert response.status_code == 422


def test_a_nul_character_in_a_header_is_dropped(
    app_client: TestClient, org: Org, importer: Any
) -> None:
    """PostgreSQL text cannot hold U+0000: the header's name loses it, as cells do when
    staged, and the file imports (it was a 500, a DataError storing the headers)."""
    content = "E-ma\x00il,Na\x00me\nann@example.com,Ann\n"
    response = app_client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("nul.csv", content.encode())},
        data={"data_type": "contacts"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["headers"] == ["E-mail", "Name"]
    assert body["suggested_mapping"] == {"E-mail": "email", "Name": "name"}
    job = importer.run(org, importer.create(org, "contacts", body["id"], body["suggested_mapping"]))
    assert job["status"] == "completed", job["error_message"]
    assert job["record_count"] == 1
