"""Revert: an import undone from its change log, exactly; refused when a later import
changed the same records unless forced; the change log through the API."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.imports.conftest import Importer

# every column but changed_xid: a revert is a change of its own (incremental exports)
SNAPSHOT = "SELECT to_jsonb(c) - 'changed_xid' AS record FROM contacts AS c ORDER BY lower(email)"


def revert(client: TestClient, org: Org, job_id: Any, **body: Any) -> Any:
    return client.post(
        f"/api/v1/jobs/{job_id}/revert", headers=org.member.headers, json=body or None
    )


def all_changes(client: TestClient, org: Org, job_id: Any, page_size: int) -> list[dict[str, Any]]:
    """Every item of an import's change log, read page by page through the API."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            f"/api/v1/jobs/{job_id}/changes", headers=org.viewer.headers, params=params
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_revert_restores_the_exact_prior_state(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    importer.import_csv(
        org, "contacts", "Name,Email,Company\nAnn,ann@example.com,Acme\nBob,bob@example.com,Bobco\n"
    )
    before = importer.rows(org, SNAPSHOT)
    job = importer.import_csv(
        org,
        "contacts",
        "Name,Email,Company\nAnn,ann@example.com,Acme Group\nBob,bob@example.com,Bobco\nCy,cy@example.com,Cyco\n",
    )
    assert job["counts"] == {"inserted": 1, "updated": 1, "unchanged": 1, "skipped": 0, "failed": 0}
    response = revert(app_client, org, job["id"])
    assert response.status_code == 201, response.text
    assert response.json()["job_type"] == "revert" and response.json()["status"] == "pending"
    done = importer.run(org, uuid.UUID(response.json()["id"]))
    assert done["status"] == "completed", done["error_message"]
    assert done["counts"]["deleted"] == 1 and done["counts"]["updated"] == 1
    assert importer.rows(org, SNAPSHOT) == before


def test_revert_is_refused_when_a_later_import_changed_the_records_unless_forced(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    first = importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,1\nA-2,Nut,2\n")
    importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,10\n")
    refused = revert(app_client, org, first["id"])
    assert refused.status_code == 409
    assert "later import changed 1" in refused.json()["detail"]
    forced = revert(app_client, org, first["id"], force=True)
    assert forced.status_code == 201
    importer.run(org, uuid.UUID(forced.json()["id"]))
    assert importer.rows(org, "SELECT * FROM inventory") == []
    again = revert(app_client, org, first["id"], force=True)
    assert again.status_code == 409 and "already reverted" in again.json()["detail"]


def test_a_later_import_that_was_reverted_does_not_block_the_revert(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    """The later import touched both records the first one wrote; once it is reverted
    they are the first import's again, and reverting that one needs no force."""
    first = importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,1\nA-2,Nut,2\n")
    later = importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,10\nA-2,Nut,20\n")
    assert later["counts"]["updated"] == 2
    undo_later = revert(app_client, org, later["id"])
    assert undo_later.status_code == 201, undo_later.text
    assert importer.run(org, uuid.UUID(undo_later.json()["id"]))["status"] == "completed"
    undo_first = revert(app_client, org, first["id"])
    assert undo_first.status_code == 201, undo_first.text
    assert importer.run(org, uuid.UUID(undo_first.json()["id"]))["status"] == "completed"
    assert importer.rows(org, "SELECT * FROM inventory") == []


def test_a_later_import_counts_each_record_it_changed_once(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    first = importer.import_csv(
        org, "inventory", "SKU,Name,Qty\nA-1,Bolt,1\nA-2,Nut,2\nA-3,Cog,3\n"
    )
    importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,10\nA-2,Nut,20\n")
    importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,100\n")
    refused = revert(app_client, org, first["id"])
    assert refused.status_code == 409
    assert "later import changed 2 of the records" in refused.json()["detail"]


def test_only_completed_real_imports_can_be_reverted(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    dry = importer.import_csv(org, "inventory", "SKU,Name\nA-1,Bolt\n", None, dry_run=True)
    assert revert(app_client, org, dry["id"]).status_code == 409
    aborted = importer.import_csv(
        org, "inventory", "SKU,Name,Qty\nA-1,Bolt,x\n", None, on_error="abort"
    )
    assert aborted["status"] == "failed"
    assert revert(app_client, org, aborted["id"]).status_code == 409


def test_jobs_of_another_organization_are_not_found(
    importer: Importer, app_client: TestClient, make_org
) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    job = importer.import_csv(theirs, "inventory", "SKU,Name\nA-1,Bolt\n")
    assert revert(app_client, mine, job["id"]).status_code == 404
    assert (
        app_client.get(f"/api/v1/jobs/{job['id']}/changes", headers=mine.member.headers).status_code
        == 404
    )
    assert revert(app_client, mine, "not-a-uuid").status_code == 404


def test_changes_are_listed_in_pages(importer: Importer, app_client: TestClient, org: Org) -> None:
    importer.import_csv(org, "inventory", "SKU,Name\nA-1,Bolt\n")
    job = importer.import_csv(org, "inventory", "SKU,Name\nA-1,Big bolt\nA-2,Nut\nA-3,Washer\n")
    seen = all_changes(app_client, org, job["id"], page_size=2)
    assert sorted(c["action"] for c in seen) == ["insert", "insert", "update"]
    update = next(c for c in seen if c["action"] == "update")
    assert update["previous"]["name"] == "Bolt"


def test_a_changes_cursor_of_an_earlier_release_still_works_and_a_bad_one_is_422(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    job = importer.import_csv(org, "inventory", "SKU,Name\nA-1,Bolt\nA-2,Nut\nA-3,Washer\n")
    url = f"/api/v1/jobs/{job['id']}/changes"
    first = app_client.get(url, headers=org.viewer.headers, params={"limit": 1}).json()
    log_row = first["items"][0]["id"]
    rest = app_client.get(url, headers=org.viewer.headers, params={"cursor": first["next_cursor"]})
    old_style = app_client.get(url, headers=org.viewer.headers, params={"cursor": f"{log_row}.1"})
    assert rest.json()["items"] == old_style.json()["items"] and len(rest.json()["items"]) == 2
    for bad in ("???", "12.x", "bm90IGEgY3Vyc29y"):
        refused = app_client.get(url, headers=org.viewer.headers, params={"cursor": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["errors"] == [{"field": "cursor", "message": "is not valid"}]


def test_a_large_import_is_reverted_and_listed_record_by_record(
    importer: Importer, app_client: TestClient, org: Org
) -> None:
    """Inserts are logged as lists of ids (100 per log row): 250 new records span three
    lists, and a page boundary may fall inside one; the listing still shows each record
    once, and the revert deletes every one of them."""
    importer.import_csv(org, "inventory", "SKU,Name\nA-0,Bolt\n")
    state = "SELECT to_jsonb(i) - 'changed_xid' AS record FROM inventory AS i ORDER BY sku"
    before = importer.rows(org, state)
    body = "A-0,Big bolt\n" + "".join(f"B-{i},Item {i}\n" for i in range(250))
    job = importer.import_csv(org, "inventory", "SKU,Name\n" + body)
    assert job["counts"]["inserted"] == 250 and job["counts"]["updated"] == 1
    seen = all_changes(app_client, org, job["id"], page_size=70)
    inserted = importer.rows(org, "SELECT id::text FROM inventory WHERE sku LIKE 'B-%%'")
    assert sorted(c["record_id"] for c in seen if c["action"] == "insert") == sorted(
        r["id"] for r in inserted
    )
    assert [c["previous"]["name"] for c in seen if c["action"] == "update"] == ["Bolt"]
    # a cursor of an earlier release (a bare log row id) resumes after that whole row
    first = seen[0]["id"]
    rest = app_client.get(
        f"/api/v1/jobs/{job['id']}/changes",
        headers=org.viewer.headers,
        params={"cursor": str(first), "limit": 1000},
    ).json()["items"]
    assert all(c["id"] > first for c in rest) and len(rest) == len(seen) - sum(
        1 for c in seen if c["id"] == first
    )
    done = importer.run(org, uuid.UUID(revert(app_client, org, job["id"]).json()["id"]))
    assert done["counts"]["deleted"] == 250 and done["counts"]["updated"] == 1
    assert importer.rows(org, state) == before
