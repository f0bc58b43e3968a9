"""A job's and a schedule's `notify` request: who is told about which outcomes (the
sending is crmferry/notify's).

`{"emails": [...], "on": ["completed", "failed", "cancelled"], "attach": false}`;
only these keys are kept, the addresses normalised, so nothing unchecked is stored.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from crmferry.accounts.admin import normalise_email
from crmferry.errors import ValidationFailed

Outcome = Literal["completed", "failed", "cancelled"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
KEYS = ("emails", "on", "attach")
MAX_EMAILS = 50


def parse_notify(value: object) -> dict[str, Any] | None:
    """The notify object to store (None for none); 422 naming `notify.<key>`."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid("notify", 'must be {"emails": [...], "on": [...], "attach": false}')
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise _invalid(f"notify.{unknown[0]}", f"unknown key; use {', '.join(KEYS)}")
    emails = value.get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise _invalid("notify.emails", "must be a list of e-mail addresses")
    if len(emails) > MAX_EMAILS:
        raise _invalid("notify.emails", f"at most {MAX_EMAILS} addresses")
    parsed: dict[str, Any] = {"emails": [_address(i, e) for i, e in enumerate(emails)]}
    if "on" in value:
        on = value["on"]
        if not isinstance(on, list) or not all(o in OUTCOMES for o in on):
            raise _invalid("notify.on", f"must be a list of {', '.join(OUTCOMES)}")
        parsed["on"] = list(dict.fromkeys(on))
    if "attach" in value:
        if not isinstance(value["attach"], bool):
            raise _invalid("notify.attach", "must be true or false")
        parsed["attach"] = value["attach"]
    return parsed


ScheduleOutcome = Literal["changed", "failed", "completed"]
SCHEDULE_OUTCOMES: tuple[ScheduleOutcome, ...] = get_args(ScheduleOutcome)
SCHEDULE_DEFAULT_ON: tuple[ScheduleOutcome, ...] = ("changed",)
SCHEDULE_KEYS = ("emails", "on", "attach")


def parse_schedule_notify(value: object) -> dict[str, Any] | None:
    """A schedule's notify object: `{"emails": [...], "on": [...], "attach": false}` where
    `on` lists `changed` (the first run, a first failure, and the recovery after
    failures: the default),
    `failed` (every failed run) and `completed` (every completed run)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid("notify", 'must be {"emails": [...], "on": [...], "attach": false}')
    unknown = sorted(set(value) - set(SCHEDULE_KEYS))
    if unknown:
        raise _invalid(f"notify.{unknown[0]}", f"unknown key; use {', '.join(SCHEDULE_KEYS)}")
    jobs_rule = parse_notify({k: v for k, v in value.items() if k != "on"})
    assert jobs_rule is not None
    if "on" in value:
        on = value["on"]
        if not isinstance(on, list) or not all(o in SCHEDULE_OUTCOMES for o in on):
            raise _invalid("notify.on", f"must be a list of {', '.join(SCHEDULE_OUTCOMES)}")
        jobs_rule["on"] = list(dict.fromkeys(on))
    return jobs_rule


def _address(index: int, email: str) -> str:
    try:
        return normalise_email(email)
    except ValidationFailed as exc:
        raise _invalid(f"notify.emails[{index}]", exc.detail) from None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}.", [{"field": field, "message": message}])
