"""A member's notification preference: PATCH /me {"notify"}, shown by GET /me; a key
left out of the PATCH stays as it was."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Org


def test_the_preference_defaults_to_failed_and_changes_alone(
    app_client: TestClient, org: Org
) -> None:
    headers = org.member.headers
    assert app_client.get("/api/v1/me", headers=headers).json()["notify"] == "failed"
    zoned = app_client.patch("/api/v1/me", json={"timezone": "Asia/Tokyo"}, headers=headers)
    assert zoned.json()["timezone"] == "Asia/Tokyo"
    changed = app_client.patch("/api/v1/me", json={"notify": "all"}, headers=headers).json()
    assert (changed["notify"], changed["timezone"]) == ("all", "Asia/Tokyo")
    assert app_client.get("/api/v1/me", headers=org.admin.headers).json()["notify"] == "failed"
    for bad in ({"notify": "sometimes"}, {"notify": None}, {"notfy": "all"}):
        answer = app_client.patch("/api/v1/me", json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
    assert app_client.get("/api/v1/me", headers=headers).json()["notify"] == "all"
