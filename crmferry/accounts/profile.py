"""A member's own profile: what the signed-in layout shows (the organization's name and
time zone, the member's own time zone), their organization, and their time zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crmferry.db import Conn
from crmferry.errors import NotFound

SIGNED_IN_PROFILE = """
SELECT o.name AS organization_name, o.timezone AS organization_timezone,
       u.timezone AS user_timezone
  FROM organizations AS o, users AS u
 WHERE o.id = %(org)s AND u.id = %(user)s
"""

ORGANIZATION = "SELECT id, name, currency, timezone FROM organizations WHERE id = %(org)s"

USER_TIMEZONE = "SELECT timezone FROM users WHERE id = %(user)s"

SET_TIMEZONE = "UPDATE users SET timezone = %(tz)s WHERE id = %(user)s"


@dataclass(frozen=True)
class Profile:
    """The organization's name and zone; the user's zone (None: the browser's)."""

    organization_name: str
    organization_timezone: str
    user_timezone: str | None


def load_profile(conn: Conn, organization_id: UUID, user_id: UUID) -> Profile | None:
    """The member's profile in the current organization; None when either is gone."""
    row = conn.execute(SIGNED_IN_PROFILE, {"org": organization_id, "user": user_id}).fetchone()
    if row is None:
        return None
    return Profile(row["organization_name"], row["organization_timezone"], row["user_timezone"])


def organization_of(conn: Conn, organization_id: UUID) -> dict[str, Any]:
    """The organization's id, name, currency and time zone; NotFound if it is gone."""
    org = conn.execute(ORGANIZATION, {"org": organization_id}).fetchone()
    if org is None:
        raise NotFound("Your organization no longer exists.")
    return org


def user_timezone(conn: Conn, user_id: UUID) -> str | None:
    """The time zone the user chose, or None (the organization's applies)."""
    row = conn.execute(USER_TIMEZONE, {"user": user_id}).fetchone()
    return row["timezone"] if row else None


def set_user_timezone(conn: Conn, user_id: UUID, timezone: str | None) -> None:
    """Set (an IANA name, already checked by `jobs.timing.zone_named`) or clear (None)
    the user's time zone."""
    conn.execute(SET_TIMEZONE, {"tz": timezone, "user": user_id})


NOTIFY_PREFERENCE = """
SELECT notify FROM memberships WHERE organization_id = %(org)s AND user_id = %(user)s
"""

SET_NOTIFY_PREFERENCE = """
UPDATE memberships SET notify = %(notify)s WHERE organization_id = %(org)s AND user_id = %(user)s
"""


def notify_preference(conn: Conn, organization_id: UUID, user_id: UUID) -> str:
    """Which outcomes of their own jobs the member is told of: none, failed or all."""
    row = conn.execute(NOTIFY_PREFERENCE, {"org": organization_id, "user": user_id}).fetchone()
    return str(row["notify"]) if row else "failed"


def set_notify_preference(conn: Conn, organization_id: UUID, user_id: UUID, notify: str) -> None:
    """Set the member's preference (none, failed or all; checked by the caller's model)."""
    conn.execute(SET_NOTIFY_PREFERENCE, {"org": organization_id, "user": user_id, "notify": notify})
