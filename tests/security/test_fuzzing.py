"""Schemathesis against the served OpenAPI document, authenticated as a member of a test
organization, with all its checks (bounded examples per operation, stateful links
from created jobs, schedules and templates), and hypothesis-generated uploads: no
answer is a 500, every error is problem+json, and the server still serves afterwards.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from tests.conftest import Org
from tests.security.conftest import Served

EXAMPLES = 12

# The document cannot say everything a request must satisfy (a time at least five
# minutes ahead, a mapping that fits the upload's headers, filters against a field's
# type), nor that an uploaded file must be CSV or XLSX: such valid-looking requests are
# 415s and 422s, which schemathesis must accept; and a password check past the sign-in
# limits is a 429.
CONFIG = f"""
[generation]
max-examples = {EXAMPLES}

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "413", "415", "422", "429"]
"""


def load(served: Served) -> Any:
    config = SchemathesisConfig.from_str(CONFIG)
    schema = schemathesis.openapi.from_url(f"{served.url}/api/v1/openapi.json", config=config)
    # the event stream never ends; it is tested on its own
    return schema.include(path_regex="^/api/v1/").exclude(path="/api/v1/events")


def problem_json(response: Any) -> None:
    """An error answer is problem+json with its own status."""
    if response.status_code >= 400:
        kind = response.headers.get("content-type")
        kind = kind[0] if isinstance(kind, list) else kind
        assert kind == "application/problem+json", response.text
        assert response.json()["status"] == response.status_code


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_a_server_error(served: Served, org: Org, mode: Any) -> None:
    # schemathesis's pytest loader breaks on pytest 9.2 (it reads a removed private
    # attribute), so each operation gets its own hypothesis test here
    for result in load(served).get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            problem_json(case.call_and_validate(headers=org.member.headers))

        check()
    still = httpx.get(f"{served.url}/api/v1/jobs", headers=org.member.headers)
    assert still.status_code == 200


def test_stateful_runs_over_linked_operations(served: Served, org: Org) -> None:
    machine = load(served).as_state_machine()
    machine.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )


# Text cells of any character, NUL included (the reader drops it from headers and cells)
cells = st.text(max_size=12)
files = st.one_of(
    st.binary(max_size=2048),
    st.lists(st.lists(cells, min_size=1, max_size=4), min_size=1, max_size=6).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")
    ),
)
names = st.text(max_size=40)


@given(content=files, name=names, data_type=st.sampled_from([None, "contacts", "bids", "x\x00"]))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_uploads_never_answer_a_server_error(
    served: Served, org: Org, content: bytes, name: str, data_type: str | None
) -> None:
    form = {"data_type": data_type} if data_type else {}
    response = httpx.post(
        f"{served.url}/api/v1/uploads",
        headers=org.member.headers,
        files={"file": (name or "f.csv", content)},
        data=form,
        timeout=30,
    )
    assert response.status_code < 500, response.text
    assert response.status_code in (201, 413, 415, 422), response.text
    problem_json(response)
    assert httpx.get(f"{served.url}/healthz").status_code == 200
