"""Result file names in the organization's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crmferry.exports.naming import result_file_name
from crmferry.records import CONTACTS


@pytest.mark.parametrize(
    ("when", "tz", "fmt", "expected"),
    [
        (
            datetime(2024, 5, 1, 7, 30, 5, tzinfo=UTC),
            "Europe/Paris",
            "csv",
            "contacts-20240501-093005.csv",
        ),
        (
            datetime(2024, 1, 1, 3, 0, tzinfo=UTC),
            "America/New_York",
            "xlsx",
            "contacts-20231231-220000.xlsx",
        ),
        (
            datetime(2024, 7, 1, 3, 0, tzinfo=UTC),
            "America/New_York",
            "jsonl",
            "contacts-20240630-230000.jsonl",
        ),
        (datetime(2024, 5, 1, 7, 30, 5), "UTC", "csv", "contacts-20240501-073005.csv"),
        (
            datetime(2024, 5, 1, 7, 30, 5, tzinfo=UTC),
            "Not/AZone",
            "csv",
            "contacts-20240501-073005.csv",
        ),
    ],
)
def test_result_file_name(when: datetime, tz: str, fmt: Any, expected: str) -> None:
    assert result_file_name(CONTACTS, when, tz, fmt) == expected
    assert result_file_name("contacts", when, tz, fmt) == expected
