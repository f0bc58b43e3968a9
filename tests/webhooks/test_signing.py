"""The pieces of a delivery on their own: signatures (checked by the official library),
secrets sealed at rest, the retry schedule and its jitter, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook as Verifier

from crmferry.config import Settings
from crmferry.webhooks.delivery import _next_delay
from crmferry.webhooks.sending import Answer, parse_retry_after
from crmferry.webhooks.signature import sign
from crmferry.webhooks.signing_secrets import (
    SecretUnreadable,
    new_secret,
    seal,
    secret_bytes,
    unseal,
)


def test_each_secret_signs_and_the_library_verifies_either() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and len(secret_bytes(one)) == 32
    now = int(datetime.now(UTC).timestamp())
    body = '{"type":"job.completed","data":{"name":"Zoë"}}'.encode()
    header = sign("evt_1", now, body, [one, two])
    assert len(header.split(" ")) == 2 and all(s.startswith("v1,") for s in header.split(" "))
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": header}
    for secret in (one, two):
        assert Verifier(secret).verify(body, headers)["data"]["name"] == "Zoë"
    assert header.split(" ")[0] == Verifier(one).sign(
        "evt_1", datetime.fromtimestamp(now, UTC), body.decode()
    )


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    secret = new_secret()
    stored = seal(secret, "key-one")
    assert secret not in stored and secret_bytes(secret).hex() not in stored
    assert unseal(stored, "key-one") == secret
    with pytest.raises(SecretUnreadable):
        unseal(stored, "key-two")


def test_the_retry_schedule_and_its_jitter(settings: Settings) -> None:
    assert settings.webhook_retry_delays == (5, 300, 1800, 7200, 18000, 36000, 36000)
    failed = Answer(500, "", 1)
    for attempt, base in enumerate(settings.webhook_retry_delays, start=1):
        waits = [_next_delay(settings, attempt, failed) for _ in range(200)]
        assert all(w is not None and 0.9 * base <= w <= 1.1 * base for w in waits)
        assert len(set(waits)) > 1  # jittered, not one fixed instant for every endpoint
    assert _next_delay(settings, 8, failed) is None  # eight attempts in all
    told = Answer(429, "", 1, retry_after=42.0)
    assert _next_delay(settings, 1, told) == 42.0


def test_retry_seconds_must_be_a_list_of_seconds(settings: Settings) -> None:
    assert Settings(webhook_retry_seconds="1, 2.5").webhook_retry_delays == (1.0, 2.5)
    assert Settings(webhook_retry_seconds="").webhook_retry_delays == ()
    for bad in ("soon", "5,-1", "1e99"):
        with pytest.raises(ValidationError):
            Settings(webhook_retry_seconds=bad)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("9999999") == 24 * 3600.0
    assert parse_retry_after(None) is None and parse_retry_after("whenever") is None
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None and 500 < seconds <= 600
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=10), usegmt=True)
    assert parse_retry_after(past) == 0.0
