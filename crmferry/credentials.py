"""Credentials a customer gives for a source or a destination (an S3 bucket's keys).

They are kept sealed: AES-256-GCM under a key derived from CRMFERRY_SECRET_KEY with
HKDF-SHA256 (its own `info`, so the key is used for nothing else), a fresh 96-bit
nonce per seal. Only the job that uses them opens them; every answer of the API shows
that they are set (`{"set": true, ...}` with the non-secret parts) and never what
they are. Changing CRMFERRY_SECRET_KEY makes sealed credentials unreadable: the jobs
that need them fail saying so, and the credentials must be given again.

Stored form: `{"sealed": "v1.<base64url nonce+ciphertext>", "region": ...,
"endpoint_url": ...}` — the region and the endpoint stay readable (they are
addresses, not secrets), the key id and the secret are inside the seal.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crmferry.config import Settings
from crmferry.errors import CrmFerryError, ValidationFailed

VERSION = "v1"
SEALED = "sealed"
SECRET_KEYS = ("access_key_id", "secret_access_key", "session_token")
VISIBLE_KEYS = ("region", "endpoint_url")
_INFO = b"crmferry customer credentials v1"
_AAD = b"crmferry-credentials"
_NONCE_BYTES = 12


class CredentialsUnreadable(CrmFerryError):
    """Sealed credentials that the current CRMFERRY_SECRET_KEY does not open."""

    status = 422
    title = "Credentials unreadable"


def _cipher(settings: Settings, info: bytes = _INFO) -> AESGCM:
    if not settings.secret_key:
        raise CrmFerryError("CRMFERRY_SECRET_KEY is not set: credentials cannot be sealed.")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        settings.secret_key.encode()
    )
    return AESGCM(key)


def seal_text(text: str, settings: Settings, purpose: str) -> str:
    """Another secret the server must read back later (an invitation's link token),
    sealed the same way under a key of its own `purpose` (HKDF info and AAD), so a
    value sealed for one purpose never opens as another."""
    info = f"crmferry sealed {purpose} v1".encode()
    nonce = os.urandom(_NONCE_BYTES)
    box = _cipher(settings, info).encrypt(nonce, text.encode(), info)
    return f"{VERSION}.{base64.urlsafe_b64encode(nonce + box).decode()}"


def open_text(sealed: object, settings: Settings, purpose: str) -> str:
    """The text `seal_text` sealed for `purpose`; CredentialsUnreadable otherwise."""
    info = f"crmferry sealed {purpose} v1".encode()
    version, _, body = sealed.partition(".") if isinstance(sealed, str) else ("", "", "")
    try:
        if version != VERSION:
            raise ValueError(version)
        raw = base64.urlsafe_b64decode(body.encode())
        plain = _cipher(settings, info).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], info)
        return plain.decode()
    except (ValueError, InvalidTag):
        raise CredentialsUnreadable(
            f"A sealed {purpose} cannot be opened with the current CRMFERRY_SECRET_KEY "
            "(was it changed?)."
        ) from None


def seal_credentials(given: object, settings: Settings, field: str) -> dict[str, Any]:
    """The stored form of `given` (`{"access_key_id", "secret_access_key",
    "session_token"?, "region"?, "endpoint_url"?}`, or an already sealed form that this
    key opens); ValidationFailed naming `field.<key>` for anything else."""
    if not isinstance(given, Mapping):
        raise _invalid(field, "must be an object with access_key_id and secret_access_key")
    if SEALED in given:
        open_credentials(given, settings)  # refused unless it is ours
        return {k: given[k] for k in (SEALED, *VISIBLE_KEYS) if given.get(k) is not None}
    allowed = (*SECRET_KEYS, *VISIBLE_KEYS)
    for key, value in given.items():
        if key not in allowed:
            raise _invalid(f"{field}.{key}", f"unknown; use {', '.join(allowed)}")
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 2048):
            raise _invalid(f"{field}.{key}", "must be a text of 1 to 2048 characters")
    for key in ("access_key_id", "secret_access_key"):
        if not given.get(key):
            raise _invalid(f"{field}.{key}", "is required")
    secret = {k: given[k] for k in SECRET_KEYS if given.get(k)}
    nonce = os.urandom(_NONCE_BYTES)
    box = _cipher(settings).encrypt(nonce, json.dumps(secret).encode(), _AAD)
    token = f"{VERSION}.{base64.urlsafe_b64encode(nonce + box).decode()}"
    return {SEALED: token, **{k: given[k] for k in VISIBLE_KEYS if given.get(k)}}


def open_credentials(stored: Mapping[str, Any], settings: Settings) -> dict[str, str]:
    """The plain credentials of a stored form (the secret keys and the visible ones);
    CredentialsUnreadable when the key does not open them."""
    token = stored.get(SEALED)
    version, _, body = token.partition(".") if isinstance(token, str) else ("", "", "")
    try:
        if version != VERSION:
            raise ValueError(version)
        raw = base64.urlsafe_b64decode(body.encode())
        plain = _cipher(settings).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
        secret = json.loads(plain)
    except (ValueError, InvalidTag):
        raise CredentialsUnreadable(
            "The stored credentials cannot be opened with the current CRMFERRY_SECRET_KEY "
            "(was it changed?); give the credentials again."
        ) from None
    visible = {k: str(stored[k]) for k in VISIBLE_KEYS if stored.get(k)}
    return {**{str(k): str(v) for k, v in secret.items()}, **visible}


def shown_credentials(stored: Mapping[str, Any]) -> dict[str, Any]:
    """What an answer shows of stored credentials: that they are set, and the region
    and endpoint; never the key id or the secret."""
    return {"set": True, **{k: stored[k] for k in VISIBLE_KEYS if stored.get(k)}}


def redacted(value: Any) -> Any:
    """`value` (a job's options, a schedule's source) with every `credentials` object
    in it replaced by what an answer may show of it."""
    if isinstance(value, Mapping):
        return {
            k: shown_credentials(v)
            if k == "credentials" and isinstance(v, Mapping)
            else redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def kept_credentials(new: object, current: object) -> object:
    """A changed source or destination that gives no `credentials` keeps the current
    ones when it still names the same place (type and bucket): a client that sends back
    what it read (`{"set": true}`) or leaves them out does not lose them."""
    if not isinstance(new, Mapping) or not isinstance(current, Mapping):
        return new
    old = current.get("credentials")
    if not isinstance(old, Mapping):
        return new
    if "credentials" in new:
        given = new["credentials"]
        if not (isinstance(given, Mapping) and given.get("set") is True):
            return new  # new ones, or null: removed on purpose
    same = new.get("type") == current.get("type") and _bucket(new) == _bucket(current)
    return {**new, "credentials": dict(old)} if same else new


def _bucket(place: Mapping[str, Any]) -> str:
    url = str(place.get("url") or "")
    return url.removeprefix("s3://").split("/", 1)[0]


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}.", [{"field": field, "message": message}])
