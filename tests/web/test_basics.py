"""Health probes, /me, /data-types, OpenAPI and the problem+json error shape."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Org


def test_healthz_and_readyz(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/readyz").json() == {"status": "ready"}


def test_me_with_a_token(app_client: TestClient, org: Org) -> None:
    body = app_client.get("/api/v1/me", headers=org.member.headers).json()
    assert body["email"] == org.member.email
    assert body["role"] == "member"
    assert body["organization"]["id"] == str(org.id)


def test_missing_or_bad_token_is_401_problem(app_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer cf_nonsense"}, {"Authorization": "Basic abc"}):
        response = app_client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == 401 and body["title"] and body["detail"]


def test_data_types_describe_fields_and_keys(app_client: TestClient, org: Org) -> None:
    types = {
        t["name"]: t
        for t in app_client.get("/api/v1/data-types", headers=org.viewer.headers).json()
    }
    assert set(types) == {"contacts", "inventory", "bids", "bid_items"}
    contact_fields = {f["name"]: f for f in types["contacts"]["fields"]}
    assert contact_fields["email"]["key"] is True and contact_fields["email"]["type"] == "email"
    assert contact_fields["name"]["required"] is True
    assert contact_fields["status"]["choices"] == [
        "active",
        "inactive",
        "lead",
        "prospect",
        "customer",
    ]
    assert {f["name"] for f in types["inventory"]["fields"] if f["key"]} == {"sku"}
    assert {f["name"] for f in types["bids"]["fields"] if f["key"]} == {"bid_number"}
    assert {f["name"]: f["type"] for f in types["bids"]["fields"]}["amount"] == "decimal"


def test_openapi_and_docs_are_served(app_client: TestClient) -> None:
    spec = app_client.get("/api/v1/openapi.json").json()
    assert "/api/v1/me" in spec["paths"]
    assert app_client.get("/api/docs").status_code == 200


def test_unknown_api_path_is_a_404_problem(app_client: TestClient, org: Org) -> None:
    response = app_client.get("/api/v1/nothing-here", headers=org.member.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
