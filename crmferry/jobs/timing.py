"""When a one-off job runs: RFC 3339 with an offset, or a naive local time in an IANA zone.

A local time that a DST change skips (spring forward) or repeats (fall back) is
refused rather than guessed: the user is asked to pick an offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from crmferry.errors import ValidationFailed

# Files of the time-zone database that name no place (or this machine's own setting).
NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@cache
def zone_names() -> tuple[str, ...]:
    """Every time-zone name accepted anywhere (schedules, jobs, users), sorted."""
    return tuple(sorted((available_timezones() | {"UTC"}) - NOT_ZONES))


def zone_named(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone `name` (one of `zone_names`); 422 naming `field` otherwise."""
    if not isinstance(name, str) or name not in _known_zones():
        message = f"Unknown time zone '{name}': use an IANA name such as Europe/Paris."
        raise ValidationFailed(message, [{"field": field, "message": message}])
    return ZoneInfo(name)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zone_names())


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """The instant of wall-clock time `naive` in `zone`; 422 when DST skips or repeats it."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # zoneinfo gives the two offsets either side of a transition; the time
        # exists when a round trip keeps the wall clock, else it falls in a gap
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise _time_error(
                f"{naive.isoformat(timespec='minutes')} does not exist in {zone.key}: "
                "the clocks skip that hour (daylight saving time starts). Pick another time."
            )
        raise _time_error(
            f"{naive.isoformat(timespec='minutes')} is ambiguous in {zone.key}: it happens "
            "twice when daylight saving time ends. Give a UTC offset to say which."
        )
    return first.astimezone(UTC)


def parse_scheduled_time(
    value: object, timezone: str | None, now: datetime, min_lead_seconds: int
) -> datetime:
    """The UTC instant a job should run. None means `now` (the database's clock).

    422 for text that is not a time, a naive time without `timezone`, an unknown
    zone (also when no time is given), a DST gap or overlap, a time outside the
    calendar once moved to UTC, or a time earlier than now + the minimum lead (the
    message names the earliest allowed time).
    """
    zone = zone_named(timezone) if timezone else None
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise _time_error("scheduled_time must be an RFC 3339 string or null.")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _time_error(
            f"'{value}' is not a date and time; use RFC 3339, e.g. 2026-03-01T09:30:00+01:00."
        ) from None
    if when.tzinfo is None and zone is None:
        raise _time_error(
            f"'{value}' has no UTC offset: add one, or send the IANA 'timezone' it is in."
        )
    try:
        when = local_to_utc(when, zone) if zone and when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:
        raise _time_error(
            f"'{value}' is outside the years 0001 to 9999 once moved to UTC."
        ) from None
    earliest = now + timedelta(seconds=min_lead_seconds)
    # a second of slack: the client's "now + lead" was computed a moment ago
    if when < earliest - timedelta(seconds=1):
        shown = earliest.astimezone(UTC).isoformat(timespec="seconds")
        raise _time_error(
            f"The scheduled time must be at least {min_lead_seconds} seconds from now: "
            f"the earliest allowed is {shown}."
        )
    return when


def _time_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, [{"field": "scheduled_time", "message": message}])
