"""Passwords (argon2) and opaque tokens (random, stored as SHA-256 only)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so timing does not tell users apart.
_DUMMY_HASH = _hasher.hash("crmferry-no-such-user")

TOKEN_PREFIX = "cf_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; always spends the same argon2 work."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A new API token or session secret: shown once, never stored in clear."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """What the database keeps of a token: its SHA-256 (tokens are high-entropy)."""
    return hashlib.sha256(token.encode()).digest()


def random_password() -> str:
    return secrets.token_urlsafe(12)
