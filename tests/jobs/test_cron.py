"""Cron in an IANA zone across DST: the documented rules, and a property check."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmferry.errors import ValidationFailed
from crmferry.jobs.cron import check_cron, next_fire

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def fires(expression: str, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    out, at = [], start
    for _ in range(count):
        at = next_fire(expression, zone, at)
        out.append(at)
    return out


def test_spring_forward_skipped_time_fires_at_the_end_of_the_gap() -> None:
    # Paris, 2025-03-30: 02:00 jumps to 03:00; a 02:30 daily job runs at 03:00 that day
    runs = fires("30 2 * * *", PARIS, datetime(2025, 3, 29, 12, tzinfo=UTC), 3)
    local = [r.astimezone(PARIS).strftime("%m-%d %H:%M %z") for r in runs]
    assert local == ["03-30 03:00 +0200", "03-31 02:30 +0200", "04-01 02:30 +0200"]


def test_several_skipped_times_collapse_into_one_run() -> None:
    runs = fires("*/15 2 * * *", PARIS, datetime(2025, 3, 29, 23, tzinfo=UTC), 2)
    local = [r.astimezone(PARIS).strftime("%m-%d %H:%M") for r in runs]
    assert local == ["03-30 03:00", "03-31 02:00"]


def test_fall_back_repeated_time_fires_once_at_its_first_occurrence() -> None:
    # New York, 2025-11-02: 01:00-02:00 happens twice; a 01:30 job runs once, at EDT
    runs = fires("30 1 * * *", NEW_YORK, datetime(2025, 11, 1, 12, tzinfo=UTC), 2)
    assert runs[0] == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # 01:30 EDT (-04:00)
    assert runs[1] == datetime(2025, 11, 3, 6, 30, tzinfo=UTC)  # next day, EST


def test_hourly_job_does_not_repeat_the_fall_back_hour() -> None:
    runs = fires("0 * * * *", NEW_YORK, datetime(2025, 11, 2, 3, 30, tzinfo=UTC), 4)
    local = [r.astimezone(NEW_YORK).strftime("%H:%M %z") for r in runs]
    assert local == ["00:00 -0400", "01:00 -0400", "02:00 -0500", "03:00 -0500"]


@pytest.mark.parametrize("expression", ["every monday", "61 * * * *", "* * *", "", "0 8 * * 9"])
def test_bad_cron_is_422_on_the_cron_field(expression: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_cron(expression)
    assert caught.value.errors[0]["field"] == "cron"
    assert "cron" in caught.value.detail


@settings(max_examples=60, deadline=None)
@given(
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)),
    zone=st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_daily_jobs_fire_once_a_day_strictly_later_never_twice(
    minute: int, hour: int, start: datetime, zone: str
) -> None:
    tz = ZoneInfo(zone)
    runs = fires(f"{minute} {hour} * * *", tz, start.replace(tzinfo=UTC), 5)
    assert runs == sorted(set(runs))
    days = [r.astimezone(tz).date() for r in runs]
    assert len(set(days)) == 5  # one run per local day
    for earlier, later in itertools.pairwise(runs):
        assert timedelta(hours=22) <= later - earlier <= timedelta(hours=26)
