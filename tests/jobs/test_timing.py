"""One rule for time-zone names, used by jobs, schedules and `PATCH /me` alike: an IANA
zone of a place; the database's other files (Factory, posixrules, localtime) are not."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crmferry.errors import ValidationFailed
from crmferry.jobs.timing import zone_named, zone_names
from tests.conftest import Org


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_a_zone_of_a_place_is_accepted(name: str) -> None:
    assert zone_named(name).key == name
    assert name in zone_names()


@pytest.mark.parametrize("name", ["Factory", "posixrules", "localtime", "Mars/Olympus", ""])
def test_a_name_that_is_no_place_is_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        zone_named(name, "schedule.timezone")
    assert caught.value.errors[0]["field"] == "schedule.timezone"
    assert name not in zone_names()


@pytest.mark.parametrize("name", ["Factory", "posixrules"])
def test_schedules_and_users_refuse_the_same_names(
    app_client: TestClient, org: Org, name: str
) -> None:
    schedule = {
        "name": "Nightly",
        "job_type": "export",
        "data_type": "contacts",
        "options": {},
        "cron": "0 8 * * *",
        "timezone": name,
    }
    created = app_client.post("/api/v1/schedules", json=schedule, headers=org.member.headers)
    me = app_client.patch("/api/v1/me", json={"timezone": name}, headers=org.member.headers)
    for response in (created, me):
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "timezone"
        assert f"Unknown time zone '{name}'" in response.json()["detail"]
