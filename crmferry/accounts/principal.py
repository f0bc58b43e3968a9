"""Who is calling, and what their role lets them do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from crmferry.errors import Forbidden

Role = Literal["admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "member", "viewer")
_RANK = {"viewer": 0, "member": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    """An authenticated user acting inside one organization."""

    user_id: UUID
    organization_id: UUID
    role: Role
    email: str
    name: str | None
    via: Literal["token", "session", "cli"]
    csrf_token: str | None = None
    # SHA-256 of the token or session secret it came from: to re-check it later
    # (an open event stream), or to prove it to the database (a password change)
    credential: bytes | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def can(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: Role) -> None:
        """Raise Forbidden unless the caller's role is at least `role`."""
        if not self.can(role):
            raise Forbidden(f"This needs the {role} role; you are a {self.role}.")
