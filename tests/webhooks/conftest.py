from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture
def hook_receiver() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def create_hook(
    client: TestClient, org: Org, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": events or ["job.completed"], "description": "CRM sync"},
        headers=org.admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
