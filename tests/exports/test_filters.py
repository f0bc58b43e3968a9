"""The filter operators: one list, read by the API's parser, the pages and the CLI."""

from __future__ import annotations

import json
import re

import pytest

from crmferry.cli.exports import parse_filter
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.exports.filters import OPERATOR_LABELS, OPS
from crmferry.jobs.model import FINISHED
from tests.conftest import Org
from tests.web.test_pages import browser_for


def test_every_operator_has_a_label_for_the_pages() -> None:
    assert set(OPERATOR_LABELS) == set(OPS)


@pytest.mark.parametrize("op", OPS)
def test_the_cli_reads_every_operator(op: str) -> None:
    assert parse_filter(f"quantity {op} 10")["op"] == op


def test_the_pages_get_the_operators_and_finished_statuses_from_the_server(
    settings: Settings, db: Database, org: Org
) -> None:
    page = browser_for(settings, db, org, org.member).get("/jobs").text
    found = re.search(r'<script type="application/json" id="vocabulary">(.*?)</script>', page)
    assert found, "the layout embeds the vocabulary"
    vocabulary = json.loads(found[1])
    assert vocabulary["finished_statuses"] == list(FINISHED)
    assert [o["op"] for o in vocabulary["filter_operators"]] == list(OPERATOR_LABELS)
    assert '<template id="badge-template"><span class="badge "></span></template>' in page
