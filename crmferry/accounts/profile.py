"""What the signed-in layout shows of a member: the organization's name and time zone,
and the member's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crmferry.db import Conn

SIGNED_IN_PROFILE = """
SELECT o.name AS organization_name, o.timezone AS organization_timezone,
       u.timezone AS user_timezone
  FROM organizations AS o, users AS u
 WHERE o.id = %(org)s AND u.id = %(user)s
"""


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
