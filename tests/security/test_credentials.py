"""Customer credentials are sealed with AES-GCM under a key derived from the secret key:
the stored form holds no secret in clear, opens only with the same key, and answers
show that credentials are set, never what they are."""

from __future__ import annotations

import json

import pytest

from crmferry.config import Settings
from crmferry.credentials import (
    CredentialsUnreadable,
    kept_credentials,
    open_credentials,
    open_text,
    redacted,
    seal_credentials,
    seal_text,
)
from crmferry.errors import ValidationFailed

GIVEN = {
    "access_key_id": "AKIAEXAMPLEKEYID0001",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "eu-west-1",
    "endpoint_url": "https://s3.example.com",
}


def test_sealed_credentials_hold_no_secret_in_clear_and_open_with_the_same_key(
    settings: Settings,
) -> None:
    sealed = seal_credentials(GIVEN, settings, "source.credentials")
    text = json.dumps(sealed)
    assert GIVEN["access_key_id"] not in text and GIVEN["secret_access_key"] not in text
    assert sealed["region"] == "eu-west-1" and sealed["endpoint_url"] == "https://s3.example.com"
    assert open_credentials(sealed, settings) == GIVEN


def test_each_seal_uses_a_fresh_nonce(settings: Settings) -> None:
    first = seal_credentials(GIVEN, settings, "c")
    second = seal_credentials(GIVEN, settings, "c")
    assert first["sealed"] != second["sealed"]


def test_another_secret_key_cannot_open_them_and_says_so(settings: Settings) -> None:
    sealed = seal_credentials(GIVEN, settings, "c")
    other = settings.model_copy(update={"secret_key": "another-secret-key-0123456789abcdef"})
    with pytest.raises(CredentialsUnreadable, match="CRMFERRY_SECRET_KEY"):
        open_credentials(sealed, other)
    tampered = {**sealed, "sealed": sealed["sealed"][:-4] + "AAAA"}
    with pytest.raises(CredentialsUnreadable):
        open_credentials(tampered, settings)


def test_a_sealed_form_given_again_is_kept_only_when_this_key_opens_it(
    settings: Settings,
) -> None:
    sealed = seal_credentials(GIVEN, settings, "c")
    assert seal_credentials(sealed, settings, "c") == sealed
    with pytest.raises(CredentialsUnreadable):
        seal_credentials({"sealed": "v1.bm90LW91cnM="}, settings, "c")


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"secret_access_key": "s"}, "c.access_key_id"),
        ({"access_key_id": "a"}, "c.secret_access_key"),
        ({**GIVEN, "password": "x"}, "c.password"),
        ({**GIVEN, "region": 7}, "c.region"),
        ("AKIA:secret", "c"),
    ],
)
def test_bad_credentials_are_a_422_naming_the_field(
    settings: Settings, given: object, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        seal_credentials(given, settings, "c")
    assert refused.value.errors[0]["field"] == field


def test_answers_show_that_credentials_are_set_and_nothing_secret(settings: Settings) -> None:
    sealed = seal_credentials(GIVEN, settings, "c")
    options = {"destination": {"type": "s3", "url": "s3://b/k", "credentials": sealed}}
    shown = redacted(options)
    assert shown["destination"]["credentials"] == {
        "set": True,
        "region": "eu-west-1",
        "endpoint_url": "https://s3.example.com",
    }
    assert "sealed" not in json.dumps(shown)


def test_a_change_that_leaves_credentials_out_keeps_them_for_the_same_bucket(
    settings: Settings,
) -> None:
    sealed = seal_credentials(GIVEN, settings, "c")
    current = {"type": "s3", "url": "s3://feed/a/*.csv", "credentials": sealed}
    moved = {"type": "s3", "url": "s3://feed/b/*.csv"}
    assert kept_credentials(moved, current) == {**moved, "credentials": sealed}
    shown_back = {**moved, "credentials": {"set": True}}
    assert kept_credentials(shown_back, current) == {**moved, "credentials": sealed}
    other_bucket = {"type": "s3", "url": "s3://elsewhere/a.csv"}
    assert kept_credentials(other_bucket, current) == other_bucket
    removed = {**moved, "credentials": None}
    assert kept_credentials(removed, current) == removed


def test_a_sealed_text_opens_only_for_its_purpose_and_key(settings: Settings) -> None:
    sealed = seal_text("cf_the-link-token", settings, "invitation link")
    assert "cf_the-link-token" not in sealed
    assert open_text(sealed, settings, "invitation link") == "cf_the-link-token"
    with pytest.raises(CredentialsUnreadable):
        open_text(sealed, settings, "something else")
    other = settings.model_copy(update={"secret_key": "another key"})
    with pytest.raises(CredentialsUnreadable):
        open_text(sealed, other, "invitation link")
    with pytest.raises(CredentialsUnreadable):
        open_text(None, settings, "invitation link")
