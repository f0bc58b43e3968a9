"""Cron expressions evaluated in an IANA time zone, correct across DST changes.

The expression is matched against wall-clock time in the schedule's zone. Two
rules decide what DST does to it:

* a wall-clock time the spring-forward change skips (02:30 when clocks jump
  from 02:00 to 03:00) fires at the first instant after the gap (03:00 local);
  several skipped times collapse into that one run;
* a wall-clock time the fall-back change repeats (01:30 twice) fires once, at
  its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from crmferry.errors import ValidationFailed


def check_cron(expression: object) -> str:
    """The expression, stripped; 422 (field `cron`) when croniter cannot read it or
    when no date ever matches it."""
    text = expression.strip() if isinstance(expression, str) else ""
    error = None
    if not text:
        error = "A cron expression is required, e.g. '0 8 * * 1' (Mondays at 08:00)."
    elif len(text.split()) != 5:
        error = (
            f"'{text}' is not a cron expression: use five fields, minute hour "
            "day-of-month month day-of-week, e.g. '0 8 * * 1'."
        )
    else:
        try:
            # one occurrence must exist: '0 0 31 2 *' reads well and never fires
            croniter(text, datetime(2000, 1, 1)).get_next(datetime)
        except CroniterBadDateError:
            error = f"'{text}' never fires: no date matches it (e.g. February 31st)."
        except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
            error = f"'{text}' is not a valid cron expression: {exc}."
    if error:
        raise ValidationFailed(error, [{"field": "cron", "message": error}])
    return text


def next_fire(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first fire instant (UTC) strictly after `after`, by the rules above; 422
    (field `cron`) when there is none."""
    after = after.astimezone(UTC)
    wall = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    # start two wall-clock hours back so a repeated hour's first pass is not missed
    candidates = croniter(expression, wall - timedelta(hours=2))
    try:
        for _ in range(100_000):
            naive: datetime = candidates.get_next(datetime)
            instant = _instant(naive, zone)
            if instant > after:
                return instant
    except (CroniterBadDateError, OverflowError):
        pass  # no further date matches (or none before the calendar's end)
    message = f"'{expression}' never fires again."
    raise ValidationFailed(message, [{"field": "cron", "message": message}])


def _instant(naive: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time: first occurrence when repeated, the end of
    the gap when skipped."""
    first = naive.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == naive:
        return utc  # exists (first occurrence if repeated)
    return _gap_end(naive.replace(tzinfo=zone, fold=1).astimezone(UTC), utc, zone)


def _gap_end(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant between `low` (before the change) and `high` (after)."""
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)
