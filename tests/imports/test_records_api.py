"""Records API: what imports wrote, paged, searched, tenant-scoped, readable by viewers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.imports.conftest import Importer


def test_records_are_listed_in_keyset_pages_for_a_viewer(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    rows = "".join(f"S-{i:02},Item {i},{i}\n" for i in range(7))
    importer.import_csv(org, "inventory", "SKU,Name,Qty\n" + rows)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = app_client.get("/api/v1/inventory", headers=org.viewer.headers, params=params)
        assert page.status_code == 200, page.text
        seen += [item["sku"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"S-{i:02}" for i in range(7)]


def test_q_searches_the_main_text_fields(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    importer.import_csv(
        org,
        "contacts",
        "Name,Email,Company\nAnn Lee,ann@example.com,Acme\nBob Ray,bob@example.com,100% Co\n",
    )
    found = app_client.get(
        "/api/v1/contacts", headers=org.viewer.headers, params={"q": "ACME"}
    ).json()
    assert [c["name"] for c in found["items"]] == ["Ann Lee"]
    percent = app_client.get(
        "/api/v1/contacts", headers=org.viewer.headers, params={"q": "100%"}
    ).json()
    assert [c["name"] for c in percent["items"]] == ["Bob Ray"]


def test_one_record_by_id_and_404_for_other_organizations_and_bad_ids(
    importer: Importer, app_client: TestClient, make_org
) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    importer.import_csv(theirs, "bids", "Bid #,Title,Amount\nB-1,Roof,12.5\n")
    bid = app_client.get("/api/v1/bids", headers=theirs.viewer.headers).json()["items"][0]
    assert bid["amount"] == "12.50" and bid["currency"] == "USD"
    own = app_client.get(f"/api/v1/bids/{bid['id']}", headers=theirs.viewer.headers)
    assert own.status_code == 200 and own.json() == bid
    assert (
        app_client.get(f"/api/v1/bids/{bid['id']}", headers=mine.viewer.headers).status_code == 404
    )
    assert app_client.get("/api/v1/bids/nope", headers=mine.viewer.headers).status_code == 404
    assert app_client.get("/api/v1/bids", headers=mine.viewer.headers).json()["items"] == []


def test_a_malformed_cursor_is_422(app_client: TestClient, org: Org) -> None:
    response = app_client.get(
        "/api/v1/contacts", headers=org.viewer.headers, params={"cursor": "???"}
    )
    assert response.status_code == 422
