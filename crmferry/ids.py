"""Ids from URLs and request bodies: a malformed id is simply not found."""

from __future__ import annotations

from uuid import UUID

from crmferry.errors import NotFound


def id_or_not_found(value: object, what: str) -> UUID:
    """`value` as a UUID; NotFound ("No <what> <value>.") when it is not one, so that a
    malformed id answers exactly as another organization's does (404)."""
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFound(f"No {what} {value}.") from None
