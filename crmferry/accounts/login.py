"""Password sign-in, throttled per e-mail and per client address.

The count and the record of an attempt are one step in the database
(`crmferry_login_begin`, migration 0013), taken before the password is checked, so
concurrent guesses cannot slip through the limit together. An e-mail locked by
failures still lets its owner in from an address that has not failed for it; an
address with too many failures, whatever the e-mails, waits out the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from crmferry.accounts.auth import open_session
from crmferry.accounts.secrets import verify_password
from crmferry.config import Settings
from crmferry.db import Database
from crmferry.errors import TooManyRequests, Unauthenticated

BEGIN_ATTEMPT = """
SELECT * FROM crmferry_login_begin(%(email)s, %(address)s, %(window)s,
                                   %(max_failures)s, %(max_address_failures)s)
"""

FINISH_ATTEMPT = "SELECT crmferry_login_finish(%(attempt)s, %(succeeded)s) AS settled"


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures lock an e-mail, and an address, for how long; how long a
    session lasts."""

    max_failures: int
    max_address_failures: int
    window: timedelta
    session_lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            max_failures=settings.login_max_failures,
            max_address_failures=settings.login_max_address_failures,
            window=timedelta(seconds=settings.login_window_seconds),
            session_lifetime=timedelta(days=settings.session_days),
        )


@dataclass(frozen=True)
class VerifiedUser:
    """A user whose password was just checked, and their first organization (if any)."""

    user_id: UUID
    organization_id: UUID | None


def verify_user_password(
    db: Database, email: str, password: str, address: str, policy: LoginPolicy
) -> VerifiedUser:
    """The user whose password this is, counted as one sign-in attempt from `address`.

    TooManyRequests (nothing checked) when the e-mail is locked for this address or
    the address has failed too often; Unauthenticated for a wrong e-mail or password
    (the same argon2 work either way).
    """
    params = {
        "email": email.strip(),
        "address": address,
        "window": policy.window,
        "max_failures": policy.max_failures,
        "max_address_failures": policy.max_address_failures,
    }
    with db.anonymous() as conn:
        row = conn.execute(BEGIN_ATTEMPT, params).fetchone()
    assert row is not None
    if row["refused"] is not None:
        raise TooManyRequests("Too many failed sign-in attempts; try again in a few minutes.")
    matches = verify_password(row["password_hash"], password)
    with db.anonymous() as conn:
        settled = conn.execute(
            FINISH_ATTEMPT, {"attempt": row["attempt_id"], "succeeded": matches}
        ).fetchone()
    if not matches or not (settled and settled["settled"]):
        raise Unauthenticated("Wrong e-mail or password.")
    organization = row["organization_id"]
    return VerifiedUser(
        UUID(str(row["user_id"])), UUID(str(organization)) if organization else None
    )


def login(db: Database, email: str, password: str, address: str, policy: LoginPolicy) -> str:
    """Check the password (throttled) and open a web session in the user's first
    organization; return the session secret (the cookie)."""
    user = verify_user_password(db, email, password, address, policy)
    if user.organization_id is None:
        raise Unauthenticated("Wrong e-mail or password.")  # a user of no organization
    return open_session(db, user.organization_id, user.user_id, policy.session_lifetime)
