"""Signing secrets: made here, shown once, kept encrypted.

A secret is `whsec_` + base64 of 32 random bytes (Standard Webhooks' format). The
server must sign with it, so it is stored encrypted rather than hashed: Fernet
(AES-128-CBC + HMAC-SHA256, from the `cryptography` package) with a key derived from
CRMFERRY_SECRET_KEY by HKDF-SHA256 for this purpose alone. A stolen database without
the secret key does not give the secrets away; changing the secret key makes the
stored ones unreadable (rotate every endpoint's secret afterwards).
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
_INFO = b"crmferry webhook signing secrets v1"


class SecretUnreadable(Exception):
    """A stored secret that this secret key did not encrypt."""


def new_secret() -> str:
    """A fresh signing secret, as the endpoint's owner sees it once."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key bytes a `whsec_…` secret stands for (what HMAC is keyed with)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise ValueError("CRMFERRY_SECRET_KEY is needed to keep webhook secrets")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, secret_key: str) -> str:
    """`secret` encrypted for storage."""
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(stored: str, secret_key: str) -> str:
    """The secret a `seal` made; SecretUnreadable under another secret key."""
    try:
        return _fernet(secret_key).decrypt(stored.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the webhook secret was sealed with another secret key") from None
